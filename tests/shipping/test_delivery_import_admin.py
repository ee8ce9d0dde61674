"""The shipment list's "Import delivery report" (reports.admin.imports with the
`deliveries` kind): preview, confirm, and the result page listing what happened."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderEvent, OrderStatus, PaymentMethod, PaymentStatus
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:shipping_shipment_import")
CONFIRM = reverse("admin:shipping_shipment_import_confirm")
SHIPMENTS = reverse("admin:shipping_shipment_changelist")
YESTERDAY = (timezone.localdate() - timedelta(days=1)).isoformat()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def upload(text, **data):
    return {"file": SimpleUploadedFile("report.csv", text.encode("utf-8")), **data}


def shipped(method=None):
    order = OrderFactory(shipped=True)
    order.shipments.update(shipped_at=timezone.now() - timedelta(days=3))
    if method:
        Order.objects.filter(pk=order.pk).update(payment_method=method, payment_status=PaymentStatus.PENDING)
    return order, order.shipments.get()


def report_text(*orders_and_parcels, collected=None):
    rows = [f"{parcel.tracking_number},{YESTERDAY},{collected or ''}" for _order, parcel in orders_and_parcels]
    return "tracking_number,delivered_at,collected\n" + "\n".join(rows) + f"\nNOSUCH,{YESTERDAY},\n"


def test_managers_find_import_delivery_report_on_the_shipment_list(client, manager):
    client.force_login(manager)
    html = client.get(SHIPMENTS).content.decode()
    assert f'href="{IMPORT}"' in html and "Import delivery report" in html
    form = client.get(IMPORT).content.decode()
    assert "tracking_number,delivered_at" in form and "collected,carrier" in form
    assert "A tracking number no parcel has is listed" in form


def test_warehouse_staff_and_customer_service_may_not_import_reports(client, warehouse_user, service_user):
    order, parcel = shipped()
    for user in (warehouse_user, service_user):
        client.force_login(user)
        assert "Import delivery report" not in client.get(SHIPMENTS).content.decode()
        assert client.get(IMPORT).status_code == 403
        assert client.post(IMPORT, upload(report_text((order, parcel)))).status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_preview_then_confirm_then_the_result_page_lists_what_happened(client, manager, media):
    done, done_parcel = shipped()
    cod, cod_parcel = shipped(method=PaymentMethod.CASH_ON_DELIVERY)
    client.force_login(manager)
    preview = client.post(IMPORT, upload(report_text((done, done_parcel), (cod, cod_parcel)), preview_only="on"))
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "2 parcels would be marked delivered." in html and "1 order would be completed." in html
    assert "Unknown tracking numbers: nothing recorded for these rows, the rest imported" in html
    assert "row 4, NOSUCH: no live parcel has this tracking number" in html
    assert f"{cod.number}: delivered, cash not reported collected" in html
    assert "Confirm import" in html
    assert Order.objects.get(pk=done.pk).status == OrderStatus.SHIPPED
    assert not OrderEvent.objects.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="delivered").exists()

    result = client.post(CONFIRM, {"token": preview.context["token"]})
    assert result.status_code == 200 and result.context["report"].written
    html = result.content.decode()
    assert "2 parcels marked delivered." in html and "1 order completed." in html
    assert "row 4, NOSUCH" in html and "Confirm import" not in html
    assert [str(m) for m in get_messages(result.wsgi_request)] == ["Imported deliveries: 2 imported, 0 skipped."]
    assert [Order.objects.get(pk=o.pk).status for o in (done, cod)] == [OrderStatus.COMPLETED, OrderStatus.DELIVERED]
    assert not (media / "imports").exists() or not list((media / "imports").iterdir())


def test_a_report_with_bad_rows_lists_them_and_offers_no_confirm(client, manager):
    order, parcel = shipped()
    client.force_login(manager)
    response = client.post(
        IMPORT, upload(f"tracking_number,delivered_at\n{parcel.tracking_number},tomorrow\n", preview_only="on")
    )
    assert response.status_code == 200 and response.context["token"] is None
    assert [(e.row, e.column) for e in response.context["errors"]] == [(2, "delivered_at")]
    assert "Confirm import" not in response.content.decode()


def test_a_report_changing_nothing_offers_no_confirm(client, manager):
    client.force_login(manager)
    response = client.post(IMPORT, upload(f"tracking_number,delivered_at\nNOSUCH,{YESTERDAY}\n", preview_only="on"))
    assert response.status_code == 200 and response.context["token"] is None
    assert "1 tracking number is unknown" in response.content.decode()


def test_the_preview_reads_in_chinese(client, manager):
    order, parcel = shipped()
    client.force_login(manager)
    response = client.post(
        IMPORT, upload(report_text((order, parcel)), preview_only="on"), HTTP_ACCEPT_LANGUAGE="zh-hant"
    )
    assert response.status_code == 200 and 'lang="zh-hant"' in response.content.decode()


def test_a_report_that_only_moves_orders_on_can_be_confirmed(client, manager):
    from shipping.services import shipment_mark_delivered

    order, parcel = shipped()
    shipment_mark_delivered(shipment=parcel, actor=None)  # by hand; the order was left in Shipped
    client.force_login(manager)
    preview = client.post(
        IMPORT, upload(f"tracking_number,delivered_at\n{parcel.tracking_number},{YESTERDAY}\n", preview_only="on")
    )
    assert preview.context["token"] and "1 order would be completed." in preview.content.decode()
    client.post(CONFIRM, {"token": preview.context["token"]})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.COMPLETED
