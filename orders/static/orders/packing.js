/* Packing station: keeps the one input focused, turns "+", "-" and step numbers into
 * the station's buttons, and beeps (Web Audio, no sound files). Everything else is
 * plain forms: each scan is a POST, the server counts, the page reloads. */
(function () {
    "use strict";

    var station = document.getElementById("packing-station");
    var input = document.getElementById("packing-code");
    var form = document.getElementById("packing-form");
    if (!station || !input || !form) {
        return;
    }
    var queueNote = document.getElementById("packing-queue");
    var soundNote = document.getElementById("packing-sound");
    var QUEUE_KEY = "packing-station-queue";
    var STEP_NUMBER = /^\d{1,2}$/;
    var submitting = false;

    // --- focus -------------------------------------------------------------------

    function isTypingField(element) {
        if (!element || element === document.body) {
            return false;
        }
        if (element.isContentEditable || element.tagName === "TEXTAREA" || element.tagName === "SELECT") {
            return true;
        }
        return element.tagName === "INPUT" &&
            ["button", "submit", "reset", "checkbox", "radio", "hidden", "image"].indexOf(element.type) === -1;
    }

    function isControl(element) {
        return !!element && (element.tagName === "BUTTON" || element.tagName === "A" ||
            element.tagName === "SUMMARY" ||
            (element.tagName === "INPUT" && ["button", "submit", "reset"].indexOf(element.type) !== -1));
    }

    // Nothing the user chose is focused: the page, or a container such as the admin's
    // <main tabindex="-1"> after a click on an empty spot.
    function nothingFocused() {
        var active = document.activeElement;
        return !isTypingField(active) && !isControl(active);
    }

    function focusInput() {
        if (document.activeElement !== input) {
            input.focus({preventScroll: true});
        }
    }

    // Clicking the page or a finished action leaves nothing focused: come back to the
    // input. Tabbing to a button or typing in another field is left alone.
    input.addEventListener("blur", function () {
        window.setTimeout(function () {
            if (nothingFocused()) {
                focusInput();
            }
        }, 0);
    });
    window.addEventListener("focus", function () {
        if (nothingFocused()) {
            focusInput();
        }
    });
    // A scanner types into whatever has focus: if that is a button or the page, the
    // characters go to the input instead (space still presses a focused button).
    document.addEventListener("keydown", function (event) {
        if (event.ctrlKey || event.metaKey || event.altKey || isTypingField(event.target)) {
            return;
        }
        if (event.key.length === 1 && !(event.key === " " && isControl(event.target))) {
            focusInput();
        }
    }, true);

    // --- sound -------------------------------------------------------------------

    var audio = null;

    function tone(context, frequency, start, duration, type, volume) {
        var oscillator = context.createOscillator();
        var gain = context.createGain();
        oscillator.type = type;
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start);
        gain.gain.exponentialRampToValueAtTime(volume, start + 0.01);
        gain.gain.setValueAtTime(volume, start + duration - 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + duration);
        oscillator.connect(gain);
        gain.connect(context.destination);
        oscillator.start(start);
        oscillator.stop(start + duration + 0.02);
    }

    function beep(kind) {
        var AudioContext = window.AudioContext || window.webkitAudioContext;
        if (!AudioContext) {
            return;
        }
        audio = audio || new AudioContext();
        if (audio.state === "suspended") {
            audio.resume();
        }
        var start = audio.currentTime + 0.02;
        if (kind === "error") {
            // A low, harsh two-tone alarm, twice: unlike anything else in the warehouse.
            for (var i = 0; i < 4; i++) {
                tone(audio, i % 2 ? 330 : 660, start + i * 0.2, 0.18, "square", 0.3);
            }
        } else {
            tone(audio, 1400, start, 0.08, "sine", 0.25);
        }
        station.dataset.beep = kind;
        window.setTimeout(function () {
            station.dataset.audio = audio.state;
            if (audio.state !== "running" && soundNote) {
                // Autoplay policy: the browser wants one click on the page first. A
                // late alarm would be confusing, so the blocked one is dropped.
                soundNote.hidden = false;
                var allow = function () {
                    audio.close();
                    audio = null;
                    soundNote.hidden = true;
                    document.removeEventListener("pointerdown", allow);
                };
                document.addEventListener("pointerdown", allow);
            }
        }, 300);
    }

    // --- shortcuts and submitting ------------------------------------------------

    function readQueue() {
        try {
            return JSON.parse(window.sessionStorage.getItem(QUEUE_KEY) || "[]");
        } catch (error) {
            return [];
        }
    }

    function writeQueue(queue) {
        try {
            if (queue.length) {
                window.sessionStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
            } else {
                window.sessionStorage.removeItem(QUEUE_KEY);
            }
        } catch (error) {
            // Private mode without storage: codes typed while a page loads are lost,
            // and the count on the screen shows it.
        }
    }

    function showQueue(text, loud) {
        if (!queueNote) {
            return;
        }
        queueNote.textContent = text;
        queueNote.hidden = !text;
        queueNote.className = "packing-queue" + (loud ? " packing-banner packing-banner--error" : "");
    }

    function send(targetForm) {
        submitting = true;
        targetForm.submit();
        // The form's data is taken at submit(): clear the input at once, so that a
        // scanner already typing the next code does not append to this one.
        input.value = "";
    }

    function handle(code) {
        var target = null;
        if (code === "+") {
            target = document.getElementById("packing-advance");
        } else if (code === "-") {
            target = document.getElementById("packing-undo");
        } else if (STEP_NUMBER.test(code)) {
            target = station.querySelector('form.packing-tick[data-step="' + code + '"]');
        }
        if (target) {
            send(target);
        } else {
            input.value = code;
            send(form);
        }
    }

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        var code = input.value.trim();
        if (!code) {
            return;
        }
        if (submitting) {
            // The scanner is faster than the page: keep the code for the next page.
            var queue = readQueue();
            queue.push(code);
            writeQueue(queue);
            input.value = "";
            showQueue(station.dataset.msgQueued.replace("%(codes)s", queue.join(", ")), false);
            return;
        }
        handle(code);
    });

    // --- on load -----------------------------------------------------------------

    var refusal = station.querySelector('[data-sound="error"]');
    var success = station.querySelector('[data-sound="ok"]');
    if (refusal) {
        refusal.classList.add("is-flashing");
        beep("error");
    } else if (success) {
        beep("ok");
    }

    var highlighted = station.querySelector(".packing-line.is-highlighted");
    if (highlighted && highlighted.scrollIntoView) {
        highlighted.scrollIntoView({block: "nearest"});
    }

    var queued = readQueue();
    if (queued.length) {
        if (refusal) {
            // After a refusal the packer must look first: nothing more is sent.
            writeQueue([]);
            showQueue(station.dataset.msgDropped.replace("%(codes)s", queued.join(", ")), true);
        } else {
            var next = queued.shift();
            writeQueue(queued);
            handle(next);
        }
    }

    focusInput();
})();
