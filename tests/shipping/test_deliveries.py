"""Carriers' delivery reports (shipping.services.deliveries_record, the `deliveries`
import of shipping/imports.py) and cash collected on delivery
(orders.services.order_payment_collect)."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from orders.exceptions import StaleAction, WorkflowError
from orders.models import ChecklistStep, Order, OrderEvent, OrderStatus, PaymentMethod, PaymentStatus
from orders.services import order_cancel, order_payment_collect
from reports.imports import run_import
from shipping.models import Carrier, Shipment, ShipmentLine
from shipping.selectors import deliveries_match
from shipping.services import DeliveryReportRow, DeliveryRowsRefused, deliveries_record, shipment_mark_delivered
from tests.factories import CarrierFactory, OrderFactory, UserFactory, order_to

pytestmark = pytest.mark.django_db

HEADER = "tracking_number,delivered_at,collected,carrier\n"
YESTERDAY = (timezone.localdate() - timedelta(days=1)).isoformat()


def csv_file(text, name="deliveries.csv"):
    return SimpleUploadedFile(name, text.encode("utf-8"))


def run(text, *, actor=None, dry_run=False):
    return run_import("deliveries", csv_file(text), actor=actor, dry_run=dry_run)


def errors_of(report):
    return [(error.row, error.column) for error in report.sorted_errors()]


def parcel(order):
    return order.shipments.get()


# When the tests' parcels left: before the delivery dates the reports give.
SHIPPED_AT = "2026-11-20T09:00"


def shipped(**fields):
    """A shipped order (one parcel holding every line, shipped on SHIPPED_AT) and its parcel."""
    order = OrderFactory(shipped=True, **fields)
    order.shipments.update(shipped_at=local(SHIPPED_AT))
    return order, parcel(order)


def paid_on_delivery(method=PaymentMethod.CASH_ON_DELIVERY, **fields):
    """A shipped order the carrier collects for, not paid yet."""
    order, shipment = shipped(**fields)
    Order.objects.filter(pk=order.pk).update(payment_method=method, payment_status=PaymentStatus.PENDING)
    order.refresh_from_db()
    return order, shipment


def two_parcels():
    """A shipped order of two lines, each in its own parcel (T-Cat and Chunghwa Post)."""
    order = OrderFactory(lines=2, packed=True)
    tcat = CarrierFactory()
    post = CarrierFactory(code="POSTX", name="Chunghwa Post", tracking_number_pattern=r"\d{14}")
    first, second = order.lines.order_by("pk")
    parcels = []
    for carrier, line, number in ((tcat, first, f"{order.pk:012d}"), (post, second, f"{order.pk:014d}")):
        shipment = Shipment.objects.create(order=order, carrier=carrier, tracking_number=number)
        ShipmentLine.objects.create(shipment=shipment, order_line=line, quantity=line.quantity)
        parcels.append(shipment)
    order = order_to(order, OrderStatus.SHIPPED)
    order.shipments.update(shipped_at=local(SHIPPED_AT))
    return order, parcels


def statuses(*orders):
    return [Order.objects.get(pk=order.pk).status for order in orders]


def snapshot():
    """What an import may change: every order's status and payment, every parcel and every event."""
    return (
        list(Order.objects.order_by("pk").values_list("status", "payment_status", "payment_reference", "paid_at")),
        list(Shipment.objects.order_by("pk").values_list("status", "delivered_at")),
        OrderEvent.objects.count(),
        ChecklistStep.objects.count(),
    )


def local(text):
    return timezone.make_aware(datetime.fromisoformat(text), timezone.get_default_timezone())


# --- delivered parcels and orders ---------------------------------------------------------------


def test_a_report_marks_parcels_delivered_at_its_time_and_completes_the_orders():
    first, first_parcel = shipped()
    second, second_parcel = shipped()
    report = run(
        "tracking_number,delivered_at\n"
        f"{first_parcel.tracking_number},2026-12-01T14:05\n"
        # Written as a scanner or a person might: lower case, spaces.
        f" {second_parcel.tracking_number[:4]} {second_parcel.tracking_number[4:]} ,2026-12-01\n"
    )
    assert report.written and report.ok
    first_parcel.refresh_from_db()
    second_parcel.refresh_from_db()
    assert (first_parcel.status, first_parcel.delivered_at) == (Shipment.Status.DELIVERED, local("2026-12-01T14:05"))
    # A date alone is that day, 00:00 in TIME_ZONE.
    assert second_parcel.delivered_at == local("2026-12-01T00:00")
    assert statuses(first, second) == [OrderStatus.COMPLETED, OrderStatus.COMPLETED]
    assert report.summary == [
        "2 parcels marked delivered.",
        "2 orders moved to Delivered.",
        "2 orders completed.",
        "0 orders marked paid (cash collected by the carrier).",
    ]
    assert len(report.created) == 2 and "delivered 2026-12-01 14:05" in report.created[0]
    transitions = list(
        first.events.filter(kind=OrderEvent.Kind.TRANSITION).order_by("pk").values_list("data__from", "data__to")
    )
    assert transitions[-2:] == [("shipped", "delivered"), ("delivered", "completed")]
    delivered = first.events.filter(kind=OrderEvent.Kind.SHIPMENT, data__action="delivered").get()
    assert delivered.data["source"] == "carrier_report"
    assert "from the carrier's report, delivered 2026-12-01 14:05" in delivered.describe()


def test_a_dry_run_works_out_everything_and_writes_nothing():
    order, shipment = shipped()
    cod, cod_parcel = paid_on_delivery()
    before = snapshot()
    report = run(
        HEADER + f"{shipment.tracking_number},{YESTERDAY},,\n{cod_parcel.tracking_number},{YESTERDAY},{cod.total},\n",
        dry_run=True,
    )
    assert snapshot() == before
    assert not report.written and report.ok
    assert report.summary == [
        "2 parcels would be marked delivered.",
        "2 orders would move to Delivered.",
        "2 orders would be completed.",
        "1 order would be marked paid (cash collected by the carrier).",
    ]
    assert len(report.created) == 2 and "collected" in report.created[1]


def test_every_malformed_row_is_named_and_nothing_is_written():
    order, shipment = shipped()
    CarrierFactory(code="TESTHCT", name="HCT", tracking_number_pattern=r"\d{10}")
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    before = snapshot()
    report = run(
        HEADER
        + f"{shipment.tracking_number},{YESTERDAY},,\n"  # 2: good
        + f",{YESTERDAY},,\n"  # 3: no number
        + "X1,01/12/2026,,\n"  # 4: not ISO 8601
        + f"X2,{tomorrow},,\n"  # 5: in the future
        + f"X3,{YESTERDAY},abc,\n"  # 6: not an amount
        + f"X4,{YESTERDAY},-5,\n"  # 7: negative
        + f'X5,{YESTERDAY},"1,280",\n'  # 8: thousands separator
        + f"X6,{YESTERDAY},12.345,\n"  # 9: three decimals
        + f"X7,{YESTERDAY},,NOPE\n"  # 10: unknown carrier
        + f"{shipment.tracking_number},{YESTERDAY},,\n"  # 11: row 2 again
        + f"X8,{YESTERDAY},,testhct\n"  # 12: good (a carrier code in any case), unknown number
        + f"x8,{YESTERDAY},,TESTHCT\n"  # 13: row 12 again
        + f"{'9' * 65},{YESTERDAY},,\n"  # 14: too long
    )
    assert errors_of(report) == [
        (3, "tracking_number"), (4, "delivered_at"), (5, "delivered_at"), (6, "collected"), (7, "collected"),
        (8, "collected"), (9, "collected"), (10, "carrier"), (11, "tracking_number"), (13, "tracking_number"),
        (14, "tracking_number"),
    ]  # fmt: skip
    reasons = {error.row: error.reason for error in report.errors}
    assert reasons[3] == "A value is required."
    assert "not an ISO 8601 date or date-time" in reasons[4]
    assert "is in the future" in reasons[5]
    assert "not an amount such as 1280 or 1280.50" in reasons[6]
    assert reasons[7] == "A collected amount cannot be negative."
    assert "without thousands separators" in reasons[8]
    assert reasons[9] == "At most 2 decimals."
    assert "Unknown carrier “NOPE”" in reasons[10] and "HCT" in reasons[10]
    assert f"{shipment.tracking_number} is given on row 2 already." == reasons[11]
    assert "given on row 12 already" in reasons[13]
    assert "at most 64 characters" in reasons[14]
    assert not report.written and snapshot() == before


def test_unknown_numbers_are_listed_and_the_rest_is_recorded():
    order, shipment = shipped()
    report = run(f"tracking_number,delivered_at\nNOSUCH1,{YESTERDAY}\n{shipment.tracking_number},{YESTERDAY}\n")
    assert report.written and not report.errors
    assert statuses(order) == [OrderStatus.COMPLETED]
    [unknown] = [section for section in report.sections if section.key == "unknown"]
    assert unknown.lines == [
        "row 2, NOSUCH1: no live parcel has this tracking number (mistyped, voided or not entered yet); "
        "nothing was recorded for it."
    ]
    assert report.summary[-1] == "1 tracking number is unknown: nothing recorded for it (listed)."


def test_a_voided_parcel_is_unknown_and_a_carrier_column_narrows_the_match():
    order, shipment = shipped()
    other = CarrierFactory(code="TESTHCT", name="HCT", tracking_number_pattern="")
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},,TESTHCT\n")
    assert [s.lines for s in report.sections if s.key == "unknown"] == [
        [f"row 2, {shipment.tracking_number}: no live HCT parcel has this tracking number; nothing was recorded for it."]
    ]
    assert statuses(order) == [OrderStatus.SHIPPED]
    assert other.shipments.count() == 0


def test_a_number_two_carriers_share_needs_the_carrier_column():
    first, first_parcel = shipped()
    second = OrderFactory(packed=True)
    hct = CarrierFactory(code="TESTHCT", name="HCT", tracking_number_pattern="")
    parcel = Shipment.objects.create(order=second, carrier=hct, tracking_number=first_parcel.tracking_number)
    for line in second.lines.all():
        ShipmentLine.objects.create(shipment=parcel, order_line=line, quantity=line.quantity)
    order_to(second, OrderStatus.SHIPPED)
    second.shipments.update(shipped_at=local(SHIPPED_AT))
    before = snapshot()
    report = run(f"tracking_number,delivered_at\n{first_parcel.tracking_number},{YESTERDAY}\n")
    assert errors_of(report) == [(2, "carrier")]
    assert f"belongs to parcels of TESTCAT ({first.number}), TESTHCT ({second.number})" in report.errors[0].reason
    assert snapshot() == before
    report = run(HEADER + f"{first_parcel.tracking_number},{YESTERDAY},,testhct\n")
    assert report.written and statuses(first, second) == [OrderStatus.SHIPPED, OrderStatus.COMPLETED]


def test_the_same_parcel_twice_and_a_delivery_before_it_shipped_are_refused():
    order, shipment = shipped()
    report = run(HEADER + f"{shipment.tracking_number},2026-11-19,,\n")
    assert errors_of(report) == [(2, "delivered_at")]
    assert report.errors[0].reason == (
        f"Delivered on 2026-11-19, before parcel T-Cat {shipment.tracking_number} was shipped (2026-11-20)."
    )
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},,\n{shipment.tracking_number},{YESTERDAY},,TESTCAT\n")
    assert errors_of(report) == [(3, "tracking_number")]
    assert report.errors[0].reason == f"Parcel T-Cat {shipment.tracking_number} is given on row 2 already."
    assert statuses(order) == [OrderStatus.SHIPPED]


def test_an_order_stays_shipped_until_all_its_parcels_are_delivered():
    order, (first, second) = two_parcels()
    report = run(f"tracking_number,delivered_at\n{first.tracking_number},{YESTERDAY}\n")
    assert statuses(order) == [OrderStatus.SHIPPED]
    assert [s.lines for s in report.sections if s.key == "not-advanced"] == [
        [f"{order.number}: 1 of 2 parcels delivered; stays Shipped until the others are."]
    ]
    assert report.summary[:3] == ["1 parcel marked delivered.", "0 orders moved to Delivered.", "0 orders completed."]
    report = run(f"tracking_number,delivered_at\n{second.tracking_number},{YESTERDAY}\n")
    assert statuses(order) == [OrderStatus.COMPLETED]
    assert report.summary[:3] == ["1 parcel marked delivered.", "1 order moved to Delivered.", "1 order completed."]


def test_parcels_already_delivered_not_handed_over_or_of_finished_orders_are_skipped_as_they_are():
    delivered = OrderFactory(status=OrderStatus.COMPLETED)
    delivered_parcel = parcel(delivered)
    packed = OrderFactory(packed=True)
    pending = Shipment.objects.create(order=packed, carrier=CarrierFactory(), tracking_number="777777777777")
    returned, returned_parcel = shipped()
    Order.objects.filter(pk=returned.pk).update(status=OrderStatus.RETURNED)
    before = snapshot()
    report = run(
        "tracking_number,delivered_at\n"
        f"{delivered_parcel.tracking_number},{YESTERDAY}\n{pending.tracking_number},{YESTERDAY}\n"
        f"{returned_parcel.tracking_number},{YESTERDAY}\n"
    )
    assert report.written and report.created == [] and snapshot() == before
    reasons = {skip.row: skip.reason for skip in report.skipped}
    assert reasons[2].startswith("already delivered ") and reasons[2].endswith("; left as it is.")
    assert reasons[3] == "waiting for pickup: not handed to the carrier yet, so not marked delivered."
    assert reasons[4] == f"order {returned.number} is Returned; its parcels are no longer marked delivered."
    assert [skip.label for skip in report.skipped][1] == f"T-Cat 777777777777 ({packed.number})"


def test_an_order_left_shipped_after_its_parcel_was_marked_delivered_by_hand_moves_on():
    order, shipment = shipped()
    shipment_mark_delivered(shipment=shipment, actor=None)
    report = run(f"tracking_number,delivered_at\n{shipment.tracking_number},{YESTERDAY}\n")
    assert statuses(order) == [OrderStatus.COMPLETED]
    assert report.created == [] and report.skipped[0].reason.startswith("already delivered")
    assert report.summary[:3] == ["0 parcels marked delivered.", "1 order moved to Delivered.", "1 order completed."]


def test_an_order_whose_checklist_has_a_required_step_left_stays_and_is_listed():
    ChecklistStep.objects.create(state=OrderStatus.DELIVERED, label="Customer called", position=50, required=True)
    order, shipment = shipped()
    report = run(f"tracking_number,delivered_at\n{shipment.tracking_number},{YESTERDAY}\n")
    assert report.written and statuses(order) == [OrderStatus.DELIVERED]
    assert [s.lines for s in report.sections if s.key == "not-advanced"] == [
        [f"{order.number}: Order {order.number} cannot leave Delivered yet; missing: “Customer called”."]
    ]
    assert report.summary[1:3] == ["1 order moved to Delivered.", "0 orders completed."]


def test_a_required_manual_step_of_shipped_keeps_the_order_shipped_with_its_parcel_delivered():
    ChecklistStep.objects.create(state=OrderStatus.SHIPPED, label="Photo of the doorstep", position=50, required=True)
    order, shipment = shipped()
    report = run(f"tracking_number,delivered_at\n{shipment.tracking_number},{YESTERDAY}\n")
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED and statuses(order) == [OrderStatus.SHIPPED]
    assert "missing: “Photo of the doorstep”" in report.sections[0].lines[0]


def test_importing_the_same_report_again_changes_nothing():
    order, shipment = shipped()
    cod, cod_parcel = paid_on_delivery()
    text = HEADER + f"{shipment.tracking_number},{YESTERDAY},,\n{cod_parcel.tracking_number},{YESTERDAY},{cod.total},\n"
    run(text)
    before = snapshot()
    report = run(text)
    assert report.written and report.created == [] and snapshot() == before
    assert [skip.row for skip in report.skipped] == [2, 3]
    assert report.skipped[1].reason.endswith("its cash is recorded already")
    assert report.summary[:4] == [
        "0 parcels marked delivered.", "0 orders moved to Delivered.", "0 orders completed.",
        "0 orders marked paid (cash collected by the carrier).",
    ]  # fmt: skip


# --- cash on delivery ------------------------------------------------------------------------------


def test_cash_collected_for_the_total_pays_the_order_which_then_completes():
    order, shipment = paid_on_delivery(method=PaymentMethod.STORE_PICKUP)
    report = run(HEADER + f"{shipment.tracking_number},2026-12-01T18:30,{order.total},\n")
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.COMPLETED, PaymentStatus.PAID)
    assert (order.payment_reference, order.paid_at) == (shipment.tracking_number, local("2026-12-01T18:30"))
    payment = order.events.get(kind=OrderEvent.Kind.PAYMENT, data__action="collected")
    assert payment.describe() == f"Paid: TWD 120.00 collected by the carrier ({shipment.tracking_number})"
    assert report.summary[3] == "1 order marked paid (cash collected by the carrier)."
    assert report.created == [
        f"T-Cat {shipment.tracking_number} ({order.number}): delivered 2026-12-01 18:30; TWD 120.00 collected"
    ]


def test_a_cash_on_delivery_order_delivered_without_collected_stays_unpaid_and_delivered():
    order, shipment = paid_on_delivery()
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},,\n")
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.DELIVERED, PaymentStatus.PENDING)
    assert [s.lines for s in report.sections if s.key == "uncollected"] == [
        [f"{order.number}: delivered, cash not reported collected (Cash on delivery); stays Delivered until it is."]
    ]
    # The carrier's payment report comes later: the same parcel with its cash pays and completes the order.
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},120,\n")
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.COMPLETED, PaymentStatus.PAID)
    assert report.created == [f"T-Cat {shipment.tracking_number} ({order.number}): TWD 120.00 collected"]
    assert report.summary[:4] == [
        "0 parcels marked delivered.", "0 orders moved to Delivered.", "1 order completed.",
        "1 order marked paid (cash collected by the carrier).",
    ]  # fmt: skip


def test_a_collected_amount_other_than_the_total_is_refused_for_its_row_and_the_delivery_still_recorded():
    order, shipment = paid_on_delivery()
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},100.50,\n")
    order.refresh_from_db()
    assert (order.status, order.payment_status) == (OrderStatus.DELIVERED, PaymentStatus.PENDING)
    [refused] = [s.lines for s in report.sections if s.key == "refused"]
    assert refused == [
        f"row 2, T-Cat {shipment.tracking_number} ({order.number}): cash not recorded: The carrier collected "
        f"TWD 100.50 but order {order.number} comes to TWD 120.00; the payment is not recorded. Check the amount "
        "with the carrier."
    ]
    assert not order.events.filter(kind=OrderEvent.Kind.PAYMENT).exists()


def test_cash_reported_for_an_order_paid_by_card_is_refused_for_its_row():
    order, shipment = shipped()
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},120,\n")
    assert statuses(order) == [OrderStatus.COMPLETED]
    assert [s.lines for s in report.sections if s.key == "refused"] == [
        [
            f"row 2, T-Cat {shipment.tracking_number} ({order.number}): cash not recorded: Order {order.number} is "
            "paid by Credit card; the carrier collects nothing for it."
        ]
    ]


def test_cash_collected_on_one_parcel_of_two_pays_the_order():
    order, (first, second) = two_parcels()
    Order.objects.filter(pk=order.pk).update(payment_method=PaymentMethod.CASH_ON_DELIVERY, payment_status="pending")
    run(HEADER + f"{first.tracking_number},{YESTERDAY},{order.total},\n")
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.payment_reference) == (
        OrderStatus.SHIPPED, PaymentStatus.PAID, first.tracking_number,
    )  # fmt: skip
    run(HEADER + f"{second.tracking_number},{YESTERDAY},,\n")
    assert statuses(order) == [OrderStatus.COMPLETED]


# --- order_payment_collect ---------------------------------------------------------------------------


def test_order_payment_collect_refuses_what_the_carrier_cannot_have_collected(manager):
    card, _parcel = shipped()
    new = OrderFactory(payment_status=PaymentStatus.PENDING)
    Order.objects.filter(pk=new.pk).update(payment_method=PaymentMethod.CASH_ON_DELIVERY)
    cancelled = OrderFactory(payment_status=PaymentStatus.PENDING)
    order_cancel(order=cancelled, actor=None, reason="Customer changed their mind")
    Order.objects.filter(pk=cancelled.pk).update(payment_method=PaymentMethod.CASH_ON_DELIVERY)
    cod, cod_parcel = paid_on_delivery()
    cases = [
        (card, "120", "R1", None, WorkflowError, f"Order {card.number} is paid by Credit card; the carrier collects nothing for it."),
        (new, "120", "R1", None, WorkflowError, f"Order {new.number} is New; the carrier collects payment only for an order that has shipped."),
        (cancelled, "120", "R1", None, WorkflowError, f"Order {cancelled.number} is Cancelled; the carrier collects payment only for an order that has shipped."),
        (cod, "119.99", "R1", None, WorkflowError, f"The carrier collected TWD 119.99 but order {cod.number} comes to TWD 120.00; the payment is not recorded. Check the amount with the carrier."),
        (cod, "120", " ", None, WorkflowError, "A collected payment needs a reference, such as the parcel's tracking number."),
        (cod, "120", "R" * 65, None, WorkflowError, "A payment reference has at most 64 characters; this one has 65."),
        (cod, "120", "R1", timezone.now() + timedelta(hours=1), WorkflowError, "A payment cannot be collected in the future."),
    ]  # fmt: skip
    before = snapshot()
    for order, amount, reference, at, error, message in cases:
        with pytest.raises(error) as refusal:
            order_payment_collect(order=order, actor=manager, amount=Decimal(amount), reference=reference, collected_at=at)
        assert str(refusal.value) == message
    assert snapshot() == before
    order_payment_collect(order=cod, actor=manager, amount=Decimal("120"), reference=cod_parcel.tracking_number)
    with pytest.raises(StaleAction, match=f"Order {cod.number} is already paid."):
        order_payment_collect(order=cod, actor=manager, amount=Decimal("120"), reference="again")


def test_order_payment_collect_needs_the_right_to_mark_orders_paid(warehouse_user, service_user):
    order, shipment = paid_on_delivery()
    with pytest.raises(PermissionDenied, match="You do not have permission to record payments."):
        order_payment_collect(order=order, actor=warehouse_user, amount=order.total, reference="R1")
    order_payment_collect(order=order, actor=service_user, amount=order.total, reference="R1")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PAID and order.paid_at is not None


# --- permissions and the service itself ---------------------------------------------------------------


def test_only_those_who_import_and_advance_orders_may_record_a_report(manager, warehouse_user, service_user):
    order, shipment = shipped()
    text = f"tracking_number,delivered_at\n{shipment.tracking_number},{YESTERDAY}\n"
    for user in (warehouse_user, service_user):
        with pytest.raises(PermissionDenied):
            run(text, actor=user)
    row = DeliveryReportRow(2, shipment.tracking_number, local(f"{YESTERDAY}T10:00"))
    with pytest.raises(PermissionDenied, match="You do not have permission to import delivery reports."):
        deliveries_record(rows=[row], actor=warehouse_user)
    assert statuses(order) == [OrderStatus.SHIPPED]
    assert run(text, actor=manager).written and statuses(order) == [OrderStatus.COMPLETED]


def test_cash_collected_needs_the_right_to_mark_orders_paid_too():
    importer = UserFactory()
    importer.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="orders", codename__in=["import_data", "advance_order"])
    )
    order, shipment = paid_on_delivery()
    before = snapshot()
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},120,\n", actor=importer, dry_run=True)
    assert report.refusal == "You do not have permission to record cash collected by carriers."
    assert not report.ok
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},120,\n", actor=importer)
    assert not report.written and report.refusal and snapshot() == before
    # Without a collected amount the same user records the delivery.
    assert run(HEADER + f"{shipment.tracking_number},{YESTERDAY},,\n", actor=importer).written


def test_the_service_refuses_rows_no_report_can_hold():
    order, shipment = shipped()
    moment = local(f"{YESTERDAY}T10:00")
    bad = [
        ([DeliveryReportRow(2, " ", moment)], "Row 2: a tracking number is required, at most 64 characters."),
        ([DeliveryReportRow(2, "1", timezone.now() + timedelta(hours=1))], "Row 2: the delivery time must be a moment in the past."),
        ([DeliveryReportRow(2, "1", datetime(2026, 1, 1))], "Row 2: the delivery time must be a moment in the past."),
        ([DeliveryReportRow(2, "1", moment, Decimal("-1"))], "Row 2: a collected amount cannot be negative."),
        ([DeliveryReportRow(2, "1", moment), DeliveryReportRow(3, "1", moment)], "Row 3 gives parcel 1 again (row 2)."),
    ]  # fmt: skip
    for rows, message in bad:
        with pytest.raises(WorkflowError) as refusal:
            deliveries_record(rows=rows, actor=None)
        assert str(refusal.value) == message
    second = OrderFactory(packed=True)
    Shipment.objects.create(order=second, carrier=CarrierFactory(code="TESTHCT", name="HCT"), tracking_number=shipment.tracking_number)
    with pytest.raises(DeliveryRowsRefused) as refusal:
        deliveries_record(rows=[DeliveryReportRow(7, shipment.tracking_number, moment)], actor=None)
    assert [(row, column) for row, column, _reason in refusal.value.errors] == [(7, "carrier")]
    assert str(refusal.value).startswith("Nothing was recorded: 1 row of the report cannot be matched to one parcel (7: ")


def test_matching_a_report_reads_the_parcels_in_one_query(django_assert_num_queries):
    parcels = [shipped()[1] for _ in range(5)]
    rows = [DeliveryReportRow(n, p.tracking_number, local(f"{YESTERDAY}T10:00")) for n, p in enumerate(parcels, start=2)]
    rows.append(DeliveryReportRow(9, "UNKNOWN", local(f"{YESTERDAY}T10:00")))
    with django_assert_num_queries(1):
        matches, unknown, errors = deliveries_match(rows)
    assert sorted(matches) == [2, 3, 4, 5, 6] and [row.row for row in unknown] == [9] and errors == []


# --- the command ----------------------------------------------------------------------------------------


def test_import_csv_deliveries_prints_counts_lists_and_succeeds_with_unknown_numbers(tmp_path, capsys):
    order, shipment = shipped()
    two, (first, _second) = two_parcels()
    path = tmp_path / "report.csv"
    path.write_text(f"tracking_number,delivered_at\n{shipment.tracking_number},{YESTERDAY}\nNOSUCH,{YESTERDAY}\n{first.tracking_number},{YESTERDAY}\n")
    call_command("import_csv", "deliveries", str(path), "--dry-run")
    out = capsys.readouterr().out
    assert f"would import: T-Cat {shipment.tracking_number} ({order.number}): delivered" in out
    assert "Unknown tracking numbers: nothing recorded for these rows, the rest imported:\n  row 3, NOSUCH: no live parcel" in out
    assert f"Orders that stay where they are:\n  {two.number}: 1 of 2 parcels delivered" in out
    assert "2 parcels would be marked delivered.\n1 order would move to Delivered.\n1 order would be completed.\n" in out
    assert statuses(order, two) == [OrderStatus.SHIPPED, OrderStatus.SHIPPED]
    call_command("import_csv", "deliveries", str(path))
    out = capsys.readouterr().out
    assert "2 parcels marked delivered.\n1 order moved to Delivered.\n1 order completed.\n" in out
    assert "1 tracking number is unknown: nothing recorded for it (listed)." in out
    assert "Imported deliveries: 2 imported, 0 skipped." in out
    assert statuses(order, two) == [OrderStatus.COMPLETED, OrderStatus.SHIPPED]


def test_import_csv_deliveries_names_each_bad_row_and_fails(tmp_path, capsys):
    order, shipment = shipped()
    path = tmp_path / "report.csv"
    path.write_text(f"tracking_number,delivered_at\n{shipment.tracking_number},yesterday\n,{YESTERDAY}\n")
    with pytest.raises(CommandError, match="Nothing was imported: 2 errors in the file"):
        call_command("import_csv", "deliveries", str(path))
    err = capsys.readouterr().err
    assert "row 2, column delivered_at: “yesterday” is not an ISO 8601 date" in err
    assert "row 3, column tracking_number: A value is required." in err
    assert statuses(order) == [OrderStatus.SHIPPED]


def test_carrier_codes_are_matched_in_any_case():
    order, shipment = shipped()
    assert Carrier.objects.filter(code="TCAT").exists()
    report = run(HEADER + f"{shipment.tracking_number},{YESTERDAY},0,testcat\n")
    assert report.written and statuses(order) == [OrderStatus.COMPLETED]
