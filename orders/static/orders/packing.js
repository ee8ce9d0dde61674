/* Packing station: keeps the one input focused, turns "+", "-" and step numbers into
 * the station's buttons, and beeps (Web Audio, no sound files).
 *
 * With an order open, every scan, undo, tick and "mark packed" is sent with fetch to
 * the same view the plain form posts to, asking for JSON; the answer (the message and
 * the order's new state: lines, checklist, whether it can be packed) updates the page
 * in place. The server counts, as without JavaScript. A scanner types faster than the
 * server answers, so the codes wait in a queue and are sent strictly one after
 * another, each answer applied in order; the input is cleared at each Enter so the
 * next code can be typed at once. Without JavaScript the forms post and the page
 * reloads. Without an order open, the order number is a plain GET. */
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

    // --- codes kept while the page changes --------------------------------------

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

    // --- messages and the log of the last scans -------------------------------------

    var banners = document.getElementById("packing-banners");
    var log = document.getElementById("packing-log");
    var logSection = document.getElementById("packing-log-section");
    var LOG_LENGTH = 6;
    var ERROR_KEEP_MS = 1500;
    var lastErrorAt = 0;

    function clearBanners(errorsToo) {
        if (!banners) {
            return;
        }
        Array.prototype.slice.call(banners.children).forEach(function (banner) {
            if (errorsToo || !banner.classList.contains("packing-banner--error")) {
                banners.removeChild(banner);
            }
        });
    }

    // A refusal stays on screen while the scanner goes on (more refusals are added
    // below it); anything else replaces the previous message that was no refusal.
    function showMessage(level, text) {
        if (!banners || !text) {
            return;
        }
        var error = level === "error";
        clearBanners(false);
        var banner = document.createElement("div");
        banner.className = "packing-banner packing-banner--" + (level || "info");
        banner.setAttribute("role", error ? "alert" : "status");
        banner.textContent = text;
        banners.appendChild(banner);
        if (error) {
            lastErrorAt = Date.now();
            banner.classList.add("is-flashing");
            beep("error");
        } else if (level === "success") {
            beep("ok");
        }
    }

    function logEntry(label) {
        if (!log) {
            return null;
        }
        var entry = document.createElement("li");
        entry.className = "packing-log-entry is-sending";
        var code = document.createElement("span");
        code.className = "packing-log-code";
        code.textContent = label;
        var text = document.createElement("span");
        text.className = "packing-log-text";
        text.textContent = station.dataset.msgSending || "…";
        entry.appendChild(code);
        entry.appendChild(document.createTextNode(" "));
        entry.appendChild(text);
        log.insertBefore(entry, log.firstChild);
        while (log.children.length > LOG_LENGTH) {
            log.removeChild(log.lastChild);
        }
        if (logSection) {
            logSection.hidden = false;
        }
        return entry;
    }

    function logAnswer(entry, level, text) {
        if (!entry) {
            return;
        }
        entry.className = "packing-log-entry is-" + (level || "info");
        entry.querySelector(".packing-log-text").textContent = text;
    }

    // --- applying the server's state -------------------------------------------------

    function setText(element, text) {
        if (element && element.textContent !== text) {
            element.textContent = text;
        }
    }

    function render(state) {
        var highlighted = null;
        state.lines.forEach(function (line) {
            var row = document.getElementById("line-" + line.id);
            if (!row) {
                return;
            }
            setText(row.querySelector(".packing-scanned"), String(line.quantity_scanned));
            setText(row.querySelector(".packing-ordered"), String(line.quantity));
            row.classList.toggle("is-full", line.fully_scanned);
            row.classList.toggle("is-partial", !line.fully_scanned && line.quantity_scanned > 0);
            row.classList.toggle("is-highlighted", line.id === state.highlighted_line);
            var mark = row.querySelector(".packing-tick-mark");
            if (mark) {
                mark.hidden = !line.fully_scanned;
            }
            if (line.id === state.highlighted_line) {
                highlighted = row;
            }
        });
        if (highlighted && highlighted.scrollIntoView) {
            highlighted.scrollIntoView({block: "nearest"});
        }
        var status = document.getElementById("packing-status");
        if (status) {
            setText(status, state.status_line);
            status.className = "packing-status packing-status--" + state.status_kind;
        }
        setText(station.querySelector(".packing-progress"), state.progress);
        state.steps.forEach(function (step) {
            var item = document.getElementById("step-" + step.id);
            if (!item) {
                return;
            }
            item.classList.toggle("is-done", step.done);
            setText(item.querySelector(".packing-step-state"), step.state_text);
            var button = item.querySelector("button");
            if (button && !step.can_tick) {
                button.parentNode.removeChild(button);
            }
        });
        var advance = station.querySelector(".packing-button--advance");
        if (advance) {
            setText(advance, state.advance.label + " (+)");
            advance.classList.toggle("is-not-ready", !state.advance.enabled);
        }
        var reason = station.querySelector(".packing-reason");
        if (reason) {
            setText(reason, state.advance.reason);
            reason.hidden = !state.advance.reason;
        }
        station.dataset.scanned = String(state.scanned);
    }

    // --- the queue: one request at a time, answers applied in order --------------------

    var open = station.classList.contains("packing--open");
    var jobs = [];
    var busy = false;
    var leaving = false; // the page is going to another address: keep codes for it
    var submitting = false; // without an order open: the order number form was sent

    function csrfToken(targetForm) {
        var field = targetForm.querySelector("input[name=csrfmiddlewaretoken]") ||
            form.querySelector("input[name=csrfmiddlewaretoken]");
        return field ? field.value : "";
    }

    function enqueue(label, targetForm, data) {
        if (Date.now() - lastErrorAt > ERROR_KEEP_MS && !busy && !jobs.length) {
            clearBanners(true); // a new burst after the packer has seen the refusal
        }
        jobs.push({label: label, form: targetForm, data: data, entry: logEntry(label)});
        pump();
        showPending();
    }

    // For people and tests: how many actions are queued or waiting for their answer.
    function showPending() {
        station.dataset.pending = String(jobs.length + (busy ? 1 : 0));
    }

    function keepForNextPage(codes) {
        var queue = readQueue().concat(codes);
        writeQueue(queue);
        if (queue.length) {
            showQueue(station.dataset.msgQueued.replace("%(codes)s", queue.join(", ")), false);
        }
    }

    function leave(address) {
        leaving = true;
        keepForNextPage(jobs.map(function (job) {
            return job.label;
        }));
        jobs = [];
        window.location.assign(address);
    }

    function answered(job, body) {
        if (body.redirect) {
            logAnswer(job.entry, body.message ? body.message.level : "info", body.message ? body.message.text : "");
            leave(body.redirect);
            return;
        }
        if (body.state) {
            render(body.state);
        }
        var level = body.message ? body.message.level : (body.error ? "error" : "info");
        var text = body.message ? body.message.text : (body.error || "");
        showMessage(level, text);
        logAnswer(job.entry, level, text);
    }

    function failed(job) {
        var text = station.dataset.msgFailed.replace("%(code)s", job.label);
        showMessage("error", text);
        logAnswer(job.entry, "error", text);
    }

    function pump() {
        if (busy || leaving || !jobs.length) {
            return;
        }
        var job = jobs.shift();
        busy = true;
        window.fetch(job.form.action, {
            method: "POST",
            body: job.data,
            credentials: "same-origin",
            headers: {
                "Accept": "application/json",
                "X-Requested-With": "fetch",
                "X-CSRFToken": csrfToken(job.form)
            }
        }).then(function (response) {
            var type = response.headers.get("Content-Type") || "";
            if (type.indexOf("application/json") === -1) {
                throw new Error("not JSON: " + response.status);
            }
            return response.json();
        }).then(function (body) {
            answered(job, body);
        }).catch(function () {
            // No answer, or one that is no JSON (a login page, an error page): the
            // code is named so the packer can check the count and scan it again.
            failed(job);
        }).then(function () {
            busy = false;
            showPending();
            if (nothingFocused() || (document.activeElement && document.activeElement.tagName === "BUTTON" &&
                    station.contains(document.activeElement))) {
                focusInput();
            }
            pump();
        });
    }

    function post(label, targetForm, fields) {
        var data = new FormData(targetForm);
        Object.keys(fields || {}).forEach(function (name) {
            data.set(name, fields[name]);
        });
        enqueue(label, targetForm, data);
    }

    var advanceForm = document.getElementById("packing-advance");
    var undoForm = document.getElementById("packing-undo");

    function tickFormFor(code) {
        return station.querySelector('form.packing-tick[data-step="' + code + '"]');
    }

    function handle(code) {
        if (!open) {
            // No order open: the code is an order number, and the page changes.
            submitting = true;
            input.value = code;
            form.submit();
            // The form's data is taken at submit(): clear the input at once, so that a
            // scanner already typing the next code does not append to this one.
            input.value = "";
            return;
        }
        var tick = STEP_NUMBER.test(code) ? tickFormFor(code) : null;
        if (code === "+" && advanceForm) {
            post(code, advanceForm);
        } else if (code === "-" && undoForm) {
            post(code, undoForm);
        } else if (tick && tick.querySelector("button")) {
            post(code, tick);
        } else {
            post(code, form, {code: code});
        }
    }

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        var code = input.value.trim();
        input.value = "";
        if (!code) {
            return;
        }
        if (submitting || leaving) {
            // The scanner is faster than the page: keep the code for the next page.
            keepForNextPage([code]);
            return;
        }
        handle(code);
    });

    // The buttons (mouse, or Tab and Enter) go through the same queue.
    station.addEventListener("submit", function (event) {
        var target = event.target;
        if (!open || target === form) {
            return;
        }
        var label = null;
        if (target === advanceForm) {
            label = "+";
        } else if (target === undoForm) {
            label = "-";
        } else if (target.classList.contains("packing-tick")) {
            label = target.dataset.step;
        }
        if (label === null) {
            return;
        }
        event.preventDefault();
        if (leaving) {
            keepForNextPage([label]);
            return;
        }
        post(label, target);
    });

    // --- on load -----------------------------------------------------------------

    var refusal = station.querySelector('[data-sound="error"]');
    var success = station.querySelector('[data-sound="ok"]');
    if (refusal) {
        refusal.classList.add("is-flashing");
        lastErrorAt = Date.now();
        beep("error");
    } else if (success) {
        beep("ok");
    }

    var highlightedRow = station.querySelector(".packing-line.is-highlighted");
    if (highlightedRow && highlightedRow.scrollIntoView) {
        highlightedRow.scrollIntoView({block: "nearest"});
    }

    var queued = readQueue();
    if (queued.length) {
        writeQueue([]);
        if (refusal) {
            // After a refusal the packer must look first: nothing more is sent.
            showQueue(station.dataset.msgDropped.replace("%(codes)s", queued.join(", ")), true);
        } else if (open) {
            queued.forEach(handle);
        } else {
            var next = queued.shift();
            writeQueue(queued);
            handle(next);
        }
    }

    focusInput();
})();
