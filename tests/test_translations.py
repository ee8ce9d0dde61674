"""The zh-Hant catalogue stays complete: every entry translated, nothing in the code
missing from it, the committed .mo compiled from the committed .po, and admin pages
actually rendered in Chinese for a zh-Hant user."""

import ast
import gettext
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from orders.models import ChecklistStep
from tests.factories import OrderFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_PATH = LOCALE_DIR / "zh_Hant" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")

# Left out of the copy that makemessages scans: what `make messages` ignores, and what is not source.
NOT_SCANNED = (
    ".venv", "tests", "bench", "staticfiles",
    ".git", ".pytest_cache", "__pycache__", "test-artifacts", "media", "*.sqlite3",
)  # fmt: skip


def parse_po(path):
    """The entries of a .po/.pot file, header first: dicts with msgctxt, msgid,
    msgid_plural, msgstr (a list: one item, or one per plural form) and flags.
    Obsolete (#~) entries are left out."""
    entries, entry, field = [], None, None
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith('"'):  # continues the field above
            target = entry["msgstr"] if field.startswith("msgstr") else entry
            target[field] += ast.literal_eval(line)
            continue
        # A comment after a field, or a msgctxt/msgid after a msgstr, starts the next entry.
        after_msgstr = field is not None and field.startswith("msgstr")
        if (
            entry is None
            or (field is not None and line.startswith("#"))
            or (after_msgstr and line.startswith(("msgctxt ", "msgid ")))
        ):
            entry, field = {"flags": set(), "msgstr": {}}, None
            entries.append(entry)
        if line.startswith("#"):
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            continue
        field, _, value = line.partition(" ")
        target = entry["msgstr"] if field.startswith("msgstr") else entry
        target[field] = ast.literal_eval(value)
    entries = [e for e in entries if "msgid" in e]
    for e in entries:
        e["msgstr"] = [e["msgstr"][name] for name in sorted(e["msgstr"])]
    return entries


def key(entry):
    return (entry.get("msgctxt"), entry["msgid"])


def describe(keys):
    return "\n".join(
        f"  {msgid!r}" + (f" (context {context!r})" if context else "") for context, msgid in sorted(keys, key=str)
    )


# --- the committed catalogue ------------------------------------------------------


def test_po_header_declares_traditional_chinese_with_one_plural_form():
    header = parse_po(PO_PATH)[0]
    assert header["msgid"] == ""
    text = header["msgstr"][0]
    assert "Language: zh_Hant\n" in text
    assert "charset=UTF-8" in text
    assert "Plural-Forms: nplurals=1; plural=0;" in text
    assert "fuzzy" not in header["flags"]


def test_every_entry_is_translated_and_none_is_fuzzy():
    entries = parse_po(PO_PATH)[1:]
    assert len(entries) > 400, "the catalogue looks truncated"
    untranslated = [key(e) for e in entries if not e["msgstr"] or any(not text.strip() for text in e["msgstr"])]
    fuzzy = [key(e) for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, "untranslated in django.po:\n" + describe(untranslated)
    assert not fuzzy, "fuzzy in django.po (check the translation, then remove the flag):\n" + describe(fuzzy)


def test_plural_entries_have_exactly_one_form():
    plural = [e for e in parse_po(PO_PATH)[1:] if "msgid_plural" in e]
    assert plural
    wrong = [key(e) for e in plural if len(e["msgstr"]) != 1]
    assert not wrong, "zh has one plural form (msgstr[0] only):\n" + describe(wrong)


def test_python_format_placeholders_are_kept():
    """msgfmt --check-format catches most of this; this also runs without gettext tools."""
    placeholder = re.compile(r"%\([a-z_]+\)s|%%|%s|%d|\{[a-z_]+\}")
    wrong = []
    for entry in parse_po(PO_PATH)[1:]:
        source = sorted(set(placeholder.findall(entry.get("msgid_plural", entry["msgid"]))))
        for text in entry["msgstr"]:
            if sorted(set(placeholder.findall(text))) != source:
                wrong.append(key(entry))
    assert not wrong, "placeholders differ from the msgid:\n" + describe(wrong)


# --- the catalogue against the code -----------------------------------------------


@pytest.mark.skipif(
    not shutil.which("xgettext"), reason="makemessages needs GNU gettext's xgettext, which is not installed"
)
def test_every_string_marked_in_the_code_is_in_the_catalogue(tmp_path):
    """Extract the messages from a copy of the project (so the committed files are never
    touched) with the same command the maintainers run, and compare."""
    copy = tmp_path / "project"
    shutil.copytree(settings.BASE_DIR, copy, ignore=shutil.ignore_patterns(*NOT_SCANNED))
    command = [sys.executable, "manage.py", "makemessages", "-l", "zh_Hant", "--keep-pot"]
    command += [f"--ignore={pattern}" for pattern in ("tests", "bench", "staticfiles")]
    result = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    pot = copy / "locale" / "django.pot"
    extracted = {key(e) for e in parse_po(pot)[1:]}
    assert len(extracted) > 400, "makemessages found suspiciously few messages"
    committed = {key(e) for e in parse_po(PO_PATH)[1:]}
    missing = extracted - committed
    assert not missing, (
        "strings in the code that locale/zh_Hant/LC_MESSAGES/django.po lacks; run `make messages`, "
        "translate the new entries, then `make messages` again to compile:\n" + describe(missing)
    )


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="GNU gettext's msgfmt is not installed")
def test_po_passes_msgfmt_format_checks():
    result = subprocess.run(
        ["msgfmt", "--check-format", "--check-header", "-o", "/dev/null", str(PO_PATH)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(not shutil.which("msgfmt"), reason="GNU gettext's msgfmt is not installed")
def test_committed_mo_is_compiled_from_the_committed_po(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "-o", str(fresh), str(PO_PATH)], check=True)
    with fresh.open("rb") as compiled, MO_PATH.open("rb") as committed:
        expected = gettext.GNUTranslations(compiled)._catalog
        actual = gettext.GNUTranslations(committed)._catalog
    stale = {k for k in expected.keys() | actual.keys() if k != "" and expected.get(k) != actual.get(k)}
    examples = sorted(map(str, stale))[:5]
    assert not stale, f"django.mo is out of date for {len(stale)} message(s), e.g. {examples}; run `make messages`"


def test_committed_mo_translates_what_the_po_says():
    """The same check through the public gettext API, without msgfmt."""
    with MO_PATH.open("rb") as committed:
        mo = gettext.GNUTranslations(committed)
    wrong = []
    for entry in parse_po(PO_PATH)[1:]:
        context, msgid = key(entry)
        if "msgid_plural" in entry:
            plural = entry["msgid_plural"]
            got = mo.npgettext(context, msgid, plural, 5) if context else mo.ngettext(msgid, plural, 5)
        else:
            got = mo.pgettext(context, msgid) if context else mo.gettext(msgid)
        if got != entry["msgstr"][0]:
            wrong.append(key(entry))
    assert not wrong, "django.mo disagrees with django.po; run `make messages`:\n" + describe(wrong)


# --- what a zh-Hant user sees -----------------------------------------------------


def test_default_checklist_steps_display_in_chinese(db):
    step = ChecklistStep.objects.get(state="new", label="Payment confirmed")
    with translation.override("zh-hant"):
        assert step.display_label == "確認付款"
        labels = {s.label: s.display_label for s in ChecklistStep.objects.all()}
    assert labels["Items picked"] == "揀貨完成"
    assert labels["Every item scanned at the packing station"] == "掃描核對"
    assert labels["After-sales follow-up done"] == "售後關懷"
    with translation.override("en"):
        assert step.display_label == "Payment confirmed"


@pytest.mark.django_db
def test_order_list_in_chinese(client, warehouse_user):
    OrderFactory(processing=True)
    client.force_login(warehouse_user)
    response = client.get(reverse("admin:orders_order_changelist"), headers={"accept-language": "zh-Hant"})
    assert response.status_code == 200
    page = response.content.decode()
    # The last two come from django-admin-rangefilter, which ships no zh-Hant catalogue.
    for chinese in ("訂單", "處理中", "新訂單", "查詢訂單", "包裝站", "推進所選訂單", "起始日期", "結束日期"):
        assert chinese in page, chinese
    for english in ("Processing", "Advance selected orders", "Orders per status", "Find an order", "From date"):
        assert english not in page, english


@pytest.mark.django_db
def test_order_page_in_chinese(client, warehouse_user):
    order = OrderFactory(processing=True)
    client.force_login(warehouse_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    for chinese in ("檢查清單：處理中", "揀貨完成", "掃描核對", "包裝完成", "放入出貨單", "歷程", "標示為已包裝"):
        assert chinese in page, chinese
    for english in ("Items picked", "Timeline", "Mark packed", "Checklist:"):
        assert english not in page, english


@pytest.mark.django_db
def test_packing_station_in_chinese_including_the_script_messages(client, warehouse_user):
    order = OrderFactory(processing=True, lines=2)
    client.force_login(warehouse_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    response = client.get(reverse("admin:orders_order_packing_station"), {"number": order.number})
    page = response.content.decode()
    assert response.context["status_line"] == "已掃描 0 / 2 件。"
    for chinese in ("包裝站", "復原上一次掃描", "鍵盤與掃描器操作", "掃描核對"):
        assert chinese in page, chinese
    # packing.js fills these in: one "%" each, as in English, once the template is rendered.
    assert 'data-msg-queued="等待送出：%(codes)s"' in page
    assert 'data-msg-dropped="因上方的拒絕訊息而未送出：%(codes)s。請重新掃描。"' in page
    assert "Undo last scan" not in page


@pytest.mark.django_db
def test_english_stays_english(client, warehouse_user):
    order = OrderFactory(processing=True)
    client.force_login(warehouse_user)
    page = client.get(reverse("admin:orders_order_change", args=[order.pk]), headers={"accept-language": "en"})
    text = page.content.decode()
    assert "Items picked" in text
    assert "揀貨完成" not in text


@pytest.mark.django_db
def test_packing_slip_heading_and_title_in_chinese(client, warehouse_user):
    """The page title is a plural ("Packing slips") and the heading a singular; with one
    msgid for both, gettext would miss the singular and leave the heading in English."""
    order = OrderFactory(processing=True)
    client.force_login(warehouse_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    response = client.get(reverse("admin:orders_order_packing_slips"), {"ids": str(order.pk)})
    assert response.status_code == 200
    assert response.context["title"] == "出貨單"
    page = response.content.decode()
    assert '<div class="doc-kicker">出貨單</div>' in page
    assert "Packing slip" not in page


# --- reads like Taiwan's own software (issue 9) -------------------------------------

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A half-width , : ; ( ) ! ? right after a Chinese character, or between two (spaces allowed).
HALF_WIDTH_IN_CHINESE = re.compile(rf"[{CJK}][,:;()!?]|[{CJK}] *[,:;()!?] *[{CJK}]")


@pytest.mark.parametrize(
    "text, wrong",
    [
        ("已於 TXG 預留: 2 × TEA", True),
        ("歡迎， WEI.", False),  # the comma is full-width; "." is checked below, apart
        ("CSV UTF-8 (逗號分隔)", True),
        ("是,否", True),
        ("已於 TXG 預留：2 × TEA", False),
        ("匯出 (CSV, XLSX)", False),
        ("%(count)s 筆結果（顯示全部）", False),
    ],
)
def test_the_half_width_punctuation_check_itself(text, wrong):
    assert bool(HALF_WIDTH_IN_CHINESE.search(text)) is wrong


def test_no_half_width_punctuation_inside_chinese_text():
    """，。：；（）！？ inside Chinese; half-width only between Latin letters and numbers."""
    wrong = [
        (key(e), text)
        for po in (PO_PATH, PO_PATH.with_name("djangojs.po"))
        for e in parse_po(po)[1:]
        for text in e["msgstr"]
        if HALF_WIDTH_IN_CHINESE.search(text) or re.search(rf"[{CJK}]\.(\s|$)", text)
    ]
    assert not wrong, "half-width punctuation in Chinese:\n" + "\n".join(f"  {k}: {t!r}" for k, t in wrong)


def test_no_space_around_full_width_punctuation():
    wrong = [
        (key(e), text)
        for e in parse_po(PO_PATH)[1:]
        for text in e["msgstr"]
        if re.search(r" [，。：；、！？）」]|[，。：；、！？（「] ", text)
    ]
    assert not wrong, "a space beside full-width punctuation:\n" + "\n".join(f"  {k}: {t!r}" for k, t in wrong)


def zh_page(client, url, params=None):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    response = client.get(url, params or {})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_order_list_filters_selection_and_count_in_taiwan_usage(client, manager):
    OrderFactory(processing=True)
    OrderFactory()
    client.force_login(manager)
    page = zh_page(client, reverse("admin:orders_order_changelist"))
    assert '<h2 id="changelist-filter-header">篩選</h2>' in page
    assert "依狀態" in page
    assert "已選取 0 筆，共 2 筆" in page
    assert "共 2 筆訂單" in page
    assert 'title="執行所選的動作"' in page
    for awkward in ("過濾器", "以 狀態", " 中 0 個被選", "個被選"):
        assert awkward not in page, awkward


@pytest.mark.django_db
def test_clear_all_filters_beside_the_filter_heading(client, manager):
    OrderFactory(processing=True)
    client.force_login(manager)
    page = zh_page(client, reverse("admin:orders_order_changelist"), {"status__exact": "processing"})
    assert "篩選</h2>" in page and "清除所有篩選" in page
    assert "過濾器" not in page


@pytest.mark.django_db
def test_search_result_count_with_full_width_brackets(client, manager):
    from tests.factories import WarehouseFactory

    for code in ("TPE", "TXG", "KHH"):
        WarehouseFactory(code=code)
    client.force_login(manager)
    page = zh_page(client, reverse("admin:inventory_warehouse_changelist"), {"q": "T"})
    assert re.search(r"2 筆結果（<a [^>]*>共 3 筆</a>）", page), page[page.find("small quiet") :][:300]
    assert " 結果 (" not in page


@pytest.mark.django_db
def test_the_admin_scripts_count_the_selection_in_taiwan_usage(client, manager):
    client.force_login(manager)
    script = zh_page(client, reverse("admin:jsi18n"))  # the catalogue as JSON, \u-escaped
    assert json.dumps("已選取 %(sel)s 筆，共 %(cnt)s 筆") in script
    assert json.dumps("篩選") in script
    for awkward in ("個被選", "過濾器"):
        assert json.dumps(awkward)[1:-1] not in script, awkward


@pytest.mark.django_db
def test_welcome_line_names_the_person_with_full_width_punctuation(client):
    from tests.factories import warehouse_user

    user = warehouse_user(username="wei", first_name="小明", last_name="王")
    client.force_login(user)
    page = zh_page(client, reverse("admin:index"))
    assert "歡迎，<strong>王小明</strong>。" in page
    assert "歡迎， " not in page


@pytest.mark.django_db
def test_welcome_line_falls_back_to_the_login(client, warehouse_user):
    client.force_login(warehouse_user)
    assert "Welcome, <strong>warehouse</strong>." in client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_stock_event_with_full_width_colon(client, warehouse_user):
    from tests.factories import WarehouseFactory

    order = OrderFactory(processing=True, warehouse=WarehouseFactory(code="TXG"))
    client.force_login(warehouse_user)
    page = zh_page(client, reverse("admin:orders_order_change", args=[order.pk]))
    sku = order.lines.get().sku
    assert f"已於 TXG 預留：1 × {sku}" in page
    assert "預留: " not in page


@pytest.mark.django_db
def test_amounts_have_a_thousands_separator_in_both_languages(client, service_user):
    order = OrderFactory(processing=True, quantity=33, stock=40)  # 33 × 120.00
    client.force_login(service_user)
    for language in ("zh-hant", "en"):
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        order_page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
        assert "TWD 3,960.00" in order_page, language
        assert "3,960.00" in client.get(reverse("admin:orders_order_changelist")).content.decode(), language
        lookup = client.get(reverse("admin:orders_order_lookup"), {"q": order.customer.email}).content.decode()
        assert "TWD 3,960.00" in lookup, language


@pytest.mark.django_db
def test_ticked_by_shows_the_full_name(client):
    from orders import services
    from tests.factories import warehouse_user

    user = warehouse_user(username="warehouse", first_name="小明", last_name="王")
    order = OrderFactory(processing=True)
    services.checklist_tick(item=order.checklist_items.get(state="processing", label="Items picked"), actor=user)
    client.force_login(user)
    station = zh_page(client, reverse("admin:orders_order_packing_station"), {"number": order.number})
    assert "由王小明勾選" in station
    assert "由 warehouse 勾選" not in station
    order_page = zh_page(client, reverse("admin:orders_order_change", args=[order.pk]))
    assert '<td class="order-nowrap">王小明</td>' in order_page  # the timeline's "who"
    assert "王小明，" in order_page  # the checklist's "by whom, when"
