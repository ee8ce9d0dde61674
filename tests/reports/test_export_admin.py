"""Exports through the admin, as managers and as the roles that may not export."""

import io

import pytest
from django.contrib.admin import helpers
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from reports.models import ExportJob
from reports.services import export_jobs_purge
from tests.factories import CustomerFactory, OrderFactory, UserFactory, manager_user
from tests.utils import changelist_rows, page_queries

pytestmark = pytest.mark.django_db

LISTS = [
    "orders_order",
    "shipping_shipment",
    "inventory_stocklevel",
    "inventory_stockmovement",
    "inventory_product",
    "inventory_warehouse",
]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def export_url(name="orders_order"):
    return reverse(f"admin:{name}_export")


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def download(response):
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"].startswith("attachment")
    return b"".join(response.streaming_content)


def csv_lines(content):
    return content.decode("utf-8-sig").splitlines()


def post_export(client, name="orders_order", **data):
    return client.post(export_url(name), {"_export": "1", "file_format": "csv", **data})


def test_export_button_shows_for_managers_only(client, manager, warehouse_user):
    client.force_login(manager)
    page = client.get(reverse("admin:orders_order_changelist") + "?status__exact=shipped")
    assert page.context["report_export_url"] == export_url() + "?status__exact=shipped"
    client.force_login(warehouse_user)
    assert "report_export_url" not in client.get(reverse("admin:orders_order_changelist")).context


@pytest.mark.parametrize("name", LISTS)
def test_every_list_exports_as_csv_xlsx_and_json(client, manager, name):
    OrderFactory(shipped=True)
    client.force_login(manager)
    assert client.get(export_url(name)).status_code == 200
    kind = client.get(export_url(name)).context["form"].fields["export_kind"].initial
    for file_format in ("csv", "xlsx", "json"):
        content = download(client.post(export_url(name), {"_export": "1", "export_kind": kind, "file_format": file_format}))
        assert content
        if file_format == "xlsx":
            assert load_workbook(io.BytesIO(content)).active.max_row >= 2


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("role", ["warehouse_user", "service_user"])
def test_other_roles_get_403_on_every_export_and_nothing_runs(client, request, name, role):
    client.force_login(request.getfixturevalue(role))
    assert client.get(export_url(name)).status_code == 403
    assert post_export(client, name, export_kind="orders").status_code == 403
    assert ExportJob.objects.count() == 0


@pytest.mark.parametrize("role", ["warehouse_user", "service_user"])
def test_export_selected_action_is_403_for_other_roles(client, request, role):
    order = OrderFactory()
    client.force_login(request.getfixturevalue(role))
    response = client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "export_selected", helpers.ACTION_CHECKBOX_NAME: [order.pk]},
    )
    assert not response.get("Content-Disposition")
    page = client.get(reverse("admin:orders_order_changelist"))
    assert "export_selected" not in dict(page.context["action_form"].fields["action"].choices)


def test_export_starts_from_the_lists_filters_and_search(client, manager):
    shipped = OrderFactory(shipped=True)
    OrderFactory()
    client.force_login(manager)
    page = client.get(export_url() + f"?status__exact=shipped&q={shipped.customer.email}")
    assert page.context["filter_form"]["status"].value() == "shipped"
    assert page.context["search"] == shipped.customer.email
    content = download(post_export(client, export_kind="orders", status="shipped", q=shipped.customer.email))
    lines = csv_lines(content)
    assert len(lines) == 2 and lines[1].startswith(shipped.number)


def test_a_mistyped_date_says_so_and_exports_nothing(client, manager):
    OrderFactory()
    client.force_login(manager)
    page = client.get(export_url() + "?placed_at__range__gte=2026/11/01")
    assert page.status_code == 200
    assert "Enter the date as YYYY-MM-DD" in str(page.context["filter_form"].errors["since"])
    response = post_export(client, export_kind="orders", since="2026/11/01")
    assert response.status_code == 200 and not response.get("Content-Disposition")
    assert any("Nothing was exported" in text for text in messages_of(response))


def test_the_order_list_refuses_a_mistyped_date_instead_of_showing_every_order(client, manager):
    OrderFactory()
    client.force_login(manager)
    page = client.get(reverse("admin:orders_order_changelist") + "?placed_at__range__gte=2026/11/01")
    assert list(page.context["cl"].result_list) == []
    assert any("YYYY-MM-DD" in text for text in messages_of(page))


def test_presets_last_month_and_this_month(client, manager):
    now = timezone.localtime()
    this_month = OrderFactory(placed_at=now)
    last_month = OrderFactory(placed_at=now.replace(day=1) - timezone.timedelta(days=1))
    client.force_login(manager)
    for period, order in (("this_month", this_month), ("last_month", last_month)):
        lines = csv_lines(download(post_export(client, export_kind="orders", period=period)))
        assert [line.split(",")[0] for line in lines[1:]] == [order.number]


def test_order_lines_from_the_order_list(client, manager):
    order = OrderFactory(lines=3)
    client.force_login(manager)
    lines = csv_lines(download(post_export(client, export_kind="order-lines")))
    assert len(lines) == 4 and all(line.startswith(order.number) for line in lines[1:])


def test_export_selected_exports_the_ticked_rows(client, manager):
    chosen, _other = OrderFactory(), OrderFactory()
    client.force_login(manager)
    page = client.post(
        reverse("admin:orders_order_changelist"),
        {"action": "export_selected", helpers.ACTION_CHECKBOX_NAME: [chosen.pk]},
    )
    assert page.status_code == 200 and page.context["ids"] == [str(chosen.pk)]
    lines = csv_lines(download(post_export(client, export_kind="orders", ids=[chosen.pk])))
    assert [line.split(",")[0] for line in lines[1:]] == [chosen.number]


def test_personal_columns_need_their_own_permission(client):
    OrderFactory(customer=CustomerFactory(email="private@example.com"))
    reporter = UserFactory()
    reporter.user_permissions.add(
        Permission.objects.get(codename="export_reports"), Permission.objects.get(codename="view_order")
    )
    client.force_login(reporter)
    page = client.get(export_url())
    assert not page.context["personal_data"]
    content = download(post_export(client, export_kind="orders")).decode("utf-8-sig")
    assert "private@example.com" not in content and "customer_email" not in content
    assert "ship_address1" not in content and "ship_phone" not in content


def test_formula_in_a_name_is_neutralised_in_the_download(client, manager):
    OrderFactory(customer=CustomerFactory(name="=HYPERLINK(\"http://x\")"))
    client.force_login(manager)
    content = download(post_export(client, export_kind="orders")).decode("utf-8-sig")
    assert "'=HYPERLINK" in content


def test_exported_amounts_stay_machine_readable_in_chinese(client, manager, settings):
    """The pages group thousands (TWD 3,960.00 in both languages); the CSV never does."""
    OrderFactory(quantity=33, stock=40)  # 33 × 120.00
    client.force_login(manager)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    content = download(post_export(client, export_kind="orders")).decode("utf-8-sig")
    assert "3960.00" in content
    assert "3,960" not in content


# --- large exports --------------------------------------------------------------------


@pytest.fixture
def large(settings):
    settings.EXPORT_ASYNC_THRESHOLD = 2


def test_a_large_export_runs_as_a_task_with_progress_then_downloads(
    client, manager, large, django_capture_on_commit_callbacks
):
    orders = [OrderFactory() for _ in range(3)]
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_export(client, export_kind="orders")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:reports_exportjob_progress", args=[job.pk])
    assert (job.status, job.rows_done, job.rows_total, job.owner) == ("done", 3, 3, manager)
    assert default_storage.exists(job.file.name)
    progress = client.get(response["Location"])
    assert progress.status_code == 200 and b"Download" in progress.content
    assert b'http-equiv="refresh"' not in progress.content  # finished: stops refreshing
    lines = csv_lines(download(client.get(reverse("admin:reports_exportjob_download", args=[job.pk]))))
    assert sorted(line.split(",")[0] for line in lines[1:]) == sorted(order.number for order in orders)


def test_a_running_export_refreshes_itself_and_shows_rows_done(client, manager):
    job = ExportJob.objects.create(owner=manager, kind="orders", file_format="csv", rows_total=60000, rows_done=15000, status="running")
    client.force_login(manager)
    page = client.get(reverse("admin:reports_exportjob_progress", args=[job.pk]))
    assert b'http-equiv="refresh"' in page.content
    assert b"15,000 of 60,000 rows" in page.content
    assert client.get(reverse("admin:reports_exportjob_download", args=[job.pk])).status_code == 404


def test_only_the_owner_and_managers_fetch_an_export(client, manager, large, django_capture_on_commit_callbacks):
    OrderFactory(), OrderFactory(), OrderFactory()
    reporter = UserFactory()
    reporter.user_permissions.add(
        Permission.objects.get(codename="export_reports"), Permission.objects.get(codename="view_order")
    )
    other = UserFactory()
    other.user_permissions.add(Permission.objects.get(codename="export_reports"))
    client.force_login(reporter)
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, export_kind="orders")
    job = ExportJob.objects.get()
    url = reverse("admin:reports_exportjob_download", args=[job.pk])
    assert client.get(url).status_code == 200
    client.force_login(other)
    assert client.get(url).status_code == 403
    assert client.get(reverse("admin:reports_exportjob_progress", args=[job.pk])).status_code == 403
    assert list(client.get(reverse("admin:reports_exportjob_changelist")).context["cl"].result_list) == []
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_expired_exports_are_removed(client, manager, large, django_capture_on_commit_callbacks):
    OrderFactory(), OrderFactory(), OrderFactory()
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, export_kind="orders")
    job = ExportJob.objects.get()
    name = job.file.name
    assert export_jobs_purge(now=job.expires_at + timezone.timedelta(seconds=1)) == 1
    job.refresh_from_db()
    assert job.status == "expired" and not default_storage.exists(name)
    response = client.get(reverse("admin:reports_exportjob_download", args=[job.pk]))
    assert response.status_code in (302, 404)


def test_a_failed_export_says_so(client, manager, monkeypatch, large, django_capture_on_commit_callbacks):
    OrderFactory(), OrderFactory(), OrderFactory()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("reports.services.write_export", broken)
    monkeypatch.setattr("reports.services.copy_csv", broken)  # the PostgreSQL path
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, export_kind="orders")
    job = ExportJob.objects.get()
    assert job.status == "failed" and "disk full" in job.error
    page = client.get(reverse("admin:reports_exportjob_progress", args=[job.pk]))
    assert b"The export failed" in page.content


def test_export_list_query_count_does_not_grow(client):
    manager = manager_user()
    client.force_login(manager)
    ExportJob.objects.create(owner=manager, kind="orders", file_format="csv")
    url = reverse("admin:reports_exportjob_changelist")
    one, one_page = page_queries(client, url)
    for _ in range(15):
        ExportJob.objects.create(owner=manager, kind="stock", file_format="xlsx")
    many, many_page = page_queries(client, url)
    # Both pages list the exports their queries are counted over.
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 16)
    assert many == one


def test_purge_exports_command(manager, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.management import call_command

    job = ExportJob.objects.create(
        owner=manager, kind="orders", file_format="csv", status="done", expires_at=timezone.now()
    )
    job.file.save("old.csv", ContentFile(b"x"))
    out = io.StringIO()
    call_command("purge_exports", stdout=out)
    job.refresh_from_db()
    assert "1 expired" in out.getvalue() and job.status == "expired" and not job.file
