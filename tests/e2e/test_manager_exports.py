"""A manager exports last month's shipped orders, in CSV and in Excel, from the order
list; a mistyped date is named; the page passes axe-core's WCAG 2 A/AA rules."""

import csv
import io

from tests.e2e.axe import assert_accessible
from django.utils import timezone
from openpyxl import load_workbook

from tests.factories import OrderFactory, manager_user


def last_month_day():
    return timezone.localtime().replace(day=1, hour=12) - timezone.timedelta(days=3)


def test_manager_exports_last_months_shipped_orders(db, login, page, screenshot, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    shipped = OrderFactory(number="SO-5001", shipped=True, placed_at=last_month_day())
    OrderFactory(number="SO-5002", placed_at=last_month_day())  # not shipped
    OrderFactory(number="SO-5003", shipped=True)  # this month

    login(manager_user(username="boss"))
    page.goto("/admin/orders/order/?status__exact=shipped")
    page.get_by_role("link", name="Export", exact=True).click()
    page.wait_for_url("**/admin/orders/order/export/**")
    assert page.locator("#id_status").input_value() == "shipped"
    page.select_option("#id_period", "last_month")
    assert_accessible(page)
    screenshot("manager_export_page")

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Export").click()
    rows = list(csv.DictReader(io.StringIO(open(csv_download.value.path(), encoding="utf-8-sig").read())))
    assert [row["number"] for row in rows] == [shipped.number]

    page.get_by_label("Excel (XLSX)").check()
    with page.expect_download() as xlsx_download:
        page.get_by_role("button", name="Export").click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(open(xlsx_download.value.path(), "rb").read())).active
    assert [cell.value for cell in sheet["A"]] == ["number", shipped.number]


def test_a_mistyped_date_is_named_and_nothing_downloads(db, login, page):
    OrderFactory()
    login(manager_user(username="boss"))
    page.goto("/admin/orders/order/export/")
    page.locator("#id_since").evaluate("input => input.type = 'text'")  # as a browser without a date picker
    page.fill("#id_since", "2026/11/01")
    page.get_by_role("button", name="Export").click()
    page.wait_for_selector(".errorlist")
    assert "Enter the date as YYYY-MM-DD" in page.locator(".errorlist").first.inner_text()
    assert "Nothing was exported" in page.locator(".messagelist").inner_text()
