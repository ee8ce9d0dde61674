"""The admin import pages (reports.admin.imports): upload, preview, confirm; who may
use them; bad files shown on the form, never as an error page."""

import io
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook

from inventory.models import Product, StockMovement, Warehouse
from orders.models import Order
from reports.admin import imports as admin_imports
from reports.admin.imports import ImportAdminMixin
from tests.factories import ProductFactory, WarehouseFactory, manager_user

pytestmark = pytest.mark.django_db

KINDS = {
    "inventory_warehouse": "code,name,priority\nTPE,台北倉,1\n",
    "inventory_product": "sku,name,barcode,weight_grams\nTEA,Tea,,100\n",
    "inventory_stocklevel": "sku,warehouse,on_hand\nTEA,TPE,5\n",
    "orders_order": (
        "order_number,placed_at,customer_email,customer_name,customer_phone,ship_name,ship_phone,ship_address1,"
        "ship_address2,ship_city,ship_postcode,ship_country,delivery_method,warehouse,payment_status,currency,sku,"
        "quantity,unit_price\nSO-1,2026-05-01,lin@example.com,Lin,,Lin,,1 Road,,Taipei,110,TW,home,TPE,paid,TWD,TEA,2,100\n"
    ),
}
IMPORT = reverse("admin:inventory_warehouse_import")
CONFIRM = reverse("admin:inventory_warehouse_import_confirm")
WAREHOUSES = reverse("admin:inventory_warehouse_changelist")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(text, name="warehouses.csv", **data):
    content = text.encode("utf-8") if isinstance(text, str) else text
    return {"file": SimpleUploadedFile(name, content), **data}


def preview(client, text, **kwargs):
    return client.post(IMPORT, upload(text, preview_only="on", **kwargs))


def kept_files(media):
    directory = media / "imports"
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- who may import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("info", sorted(KINDS))
def test_staff_without_import_data_get_403_and_nothing_runs(client, warehouse_user, service_user, monkeypatch, info):
    def must_not_run(*args, **kwargs):
        raise AssertionError("run_import was called")

    monkeypatch.setattr(admin_imports, "run_import", must_not_run)
    url, confirm = reverse(f"admin:{info}_import"), reverse(f"admin:{info}_import_confirm")
    for user in (warehouse_user, service_user):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, upload(KINDS[info], name="file.csv")).status_code == 403
        assert client.post(confirm, {"token": "anything"}).status_code == 403
        changelist = client.get(reverse(f"admin:{info}_changelist"))
        assert changelist.status_code == 200 and "report_import_url" not in changelist.context
    assert not Warehouse.objects.exists() and not Product.objects.exists() and not Order.objects.exists()


@pytest.mark.parametrize("info", sorted(KINDS))
def test_managers_see_the_import_button_and_the_form(client, manager, info):
    client.force_login(manager)
    changelist = client.get(reverse(f"admin:{info}_changelist"))
    url = reverse(f"admin:{info}_import")
    assert changelist.context["report_import_url"] == url
    assert f'href="{url}"' in changelist.content.decode()
    form = client.get(url)
    assert form.status_code == 200
    html = form.content.decode()
    assert KINDS[info].splitlines()[0] in html  # the columns, as the first row must name them
    assert 'name="preview_only"' in html and "checked" in html  # a preview is the default first step
    assert 'enctype="multipart/form-data"' in html


def test_confirm_is_post_only(client, manager):
    client.force_login(manager)
    assert client.get(CONFIRM).status_code == 405


# --- preview and confirm -------------------------------------------------------------------------------


def test_preview_shows_what_would_happen_and_writes_nothing_then_confirm_imports(client, manager, media):
    WarehouseFactory(code="TPE", name="Taipei")
    client.force_login(manager)
    response = preview(client, "code,name,priority\nTPE,Renamed,1\nKHH,高雄倉,2\n")
    assert response.status_code == 200
    html = response.content.decode()
    assert "KHH – 高雄倉" in html and "Confirm import" in html
    assert "TPE" in html and "exists; left as it is" in html
    assert Warehouse.objects.count() == 1
    assert len(kept_files(media)) == 1
    token = response.context["token"]

    done = client.post(CONFIRM, {"token": token})
    assert done.status_code == 302 and done["Location"] == WAREHOUSES
    assert messages_of(done) == ["Imported warehouses: 1 imported, 1 skipped."]
    assert dict(Warehouse.objects.values_list("code", "name")) == {"TPE": "Taipei", "KHH": "高雄倉"}
    assert kept_files(media) == []  # deleted after use

    again = client.post(CONFIRM, {"token": token})
    assert again.status_code == 302 and again["Location"] == IMPORT
    assert "imported already or has expired" in messages_of(again)[-1]
    assert Warehouse.objects.count() == 2


def test_only_the_uploader_may_confirm(client, manager, media):
    client.force_login(manager)
    token = preview(client, "code,name,priority\nKHH,高雄倉,2\n").context["token"]
    client.force_login(manager_user(username="other-manager"))
    assert client.post(CONFIRM, {"token": token}).status_code == 403
    assert not Warehouse.objects.exists() and len(kept_files(media)) == 1  # still the uploader's to confirm


def test_a_token_for_another_kind_is_refused(client, manager):
    client.force_login(manager)
    token = preview(client, "code,name,priority\nKHH,高雄倉,2\n").context["token"]
    assert client.post(reverse("admin:inventory_product_import_confirm"), {"token": token}).status_code == 403
    assert not Warehouse.objects.exists() and not Product.objects.exists()


@pytest.mark.parametrize("token", ["", "forged", "imports/../../settings.py"])
def test_an_unknown_token_imports_nothing(client, manager, token):
    client.force_login(manager)
    response = client.post(CONFIRM, {"token": token})
    assert response.status_code == 302 and response["Location"] == IMPORT
    assert not Warehouse.objects.exists()


def test_an_expired_token_imports_nothing(client, manager, monkeypatch):
    client.force_login(manager)
    token = preview(client, "code,name,priority\nKHH,高雄倉,2\n").context["token"]
    monkeypatch.setattr(ImportAdminMixin, "import_upload_max_age", timedelta(seconds=-1))
    response = client.post(CONFIRM, {"token": token})
    assert response["Location"] == IMPORT and not Warehouse.objects.exists()


def test_stale_previews_are_deleted_on_the_next_upload(client, manager, media, monkeypatch):
    client.force_login(manager)
    preview(client, "code,name,priority\nKHH,高雄倉,2\n")
    monkeypatch.setattr(ImportAdminMixin, "import_upload_max_age", timedelta(seconds=-1))
    preview(client, "code,name,priority\nTXG,台中倉,3\n")
    assert len(kept_files(media)) == 1


def test_a_file_with_errors_lists_every_refused_row_and_offers_no_confirm(client, manager, media):
    client.force_login(manager)
    response = preview(client, "code,name,priority\nTPE,Taipei,x\n,Nowhere,1\nKHH,Kaohsiung,2\n")
    assert response.status_code == 200
    errors = [(error.row, error.column, error.reason) for error in response.context["errors"]]
    assert errors == [(2, "priority", "“x” is not a whole number."), (3, "code", "A value is required.")]
    html = response.content.decode()
    assert "“x” is not a whole number." in html and "Confirm import" not in html
    assert response.context["token"] is None and kept_files(media) == []
    assert not Warehouse.objects.exists()


def test_without_preview_a_clean_file_is_imported_at_once(client, manager, media):
    client.force_login(manager)
    response = client.post(IMPORT, upload("code,name,priority\nKHH,高雄倉,2\n"))
    assert response.status_code == 302 and response["Location"] == WAREHOUSES
    assert Warehouse.objects.get().code == "KHH" and kept_files(media) == []


def test_without_preview_a_bad_file_imports_nothing_and_shows_why(client, manager):
    client.force_login(manager)
    response = client.post(IMPORT, upload("code,name,priority\nKHH,高雄倉,2\nTXG,,3\n"))
    assert response.status_code == 200
    assert [(error.row, error.column) for error in response.context["errors"]] == [(3, "name")]
    assert "Nothing was imported." in messages_of(response)
    assert not Warehouse.objects.exists()


def _xlsx_with_formula():
    workbook = Workbook()
    workbook.active.append(["code", "name", "priority"])
    workbook.active.append(["TPE", "Taipei", "=1+1"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"", "warehouses.csv", "file is empty."),
        (b"\xef\xbb\xbf\r\n", "warehouses.csv", "The file is empty."),
        ("code,name,priority\nTPE,台北倉,1\n".encode("big5"), "warehouses.csv", "not UTF-8 text"),
        (b"code,title\nTPE,Taipei\n", "warehouses.csv", "missing name, priority; unexpected title"),
        (b"code,name,priority\nTPE,Taipei,1\n", "warehouses.numbers", "Only .csv and .xlsx files"),
        (_xlsx_with_formula(), "warehouses.xlsx", "Cell C2 holds a formula"),
        (b"code,name,priority\n" + b"TPE,Taipei,1\n" * 20, "warehouses.csv", "Split it into smaller files"),
    ],
    ids=["empty", "bom-only", "big5", "header", "extension", "formula", "too-large"],
)
def test_a_bad_file_is_shown_on_the_form_not_as_an_error_page(client, manager, settings, media, content, name, message):
    settings.IMPORT_MAX_BYTES = 200 if message.startswith("Split") else 20_000
    client.force_login(manager)
    response = preview(client, content, name=name)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["file"])
    assert message in response.content.decode().replace("&quot;", '"')
    assert not Warehouse.objects.exists() and kept_files(media) == []


def test_no_file_is_a_form_error(client, manager):
    client.force_login(manager)
    response = client.post(IMPORT, {"preview_only": "on"})
    assert response.status_code == 200 and response.context["form"].errors["file"]


# --- each kind ------------------------------------------------------------------------------------------


def test_orders_are_imported_from_the_order_list_as_the_manager(client, manager):
    WarehouseFactory(code="TPE")
    ProductFactory(sku="TEA")
    client.force_login(manager)
    response = client.post(reverse("admin:orders_order_import"), upload(KINDS["orders_order"], name="o.csv", preview_only="on"))
    assert "SO-1 (1 line)" in response.content.decode() and not Order.objects.exists()
    done = client.post(reverse("admin:orders_order_import_confirm"), {"token": response.context["token"]})
    assert done["Location"] == reverse("admin:orders_order_changelist")
    order = Order.objects.get()
    assert order.events.get().actor == manager and order.checklist_items.count() == 3


def test_stock_counts_are_imported_from_the_stock_list(client, manager):
    WarehouseFactory(code="TPE")
    ProductFactory(sku="TEA")
    client.force_login(manager)
    url = reverse("admin:inventory_stocklevel_import")
    response = client.post(url, upload(KINDS["inventory_stocklevel"], name="s.csv"))
    assert response["Location"] == reverse("admin:inventory_stocklevel_changelist")
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.on_hand_delta, movement.actor) == ("count", 5, manager)
