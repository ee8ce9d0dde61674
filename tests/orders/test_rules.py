"""The order rules of issue #7: automatic checklist steps are invariants, not settings
(item 1); reservations use active warehouses only (item 3); every order line is
checked like the order, and a duplicate number racing in is the service's refusal
(item 4); the ship-to country is an ISO 3166-1 code and nothing is cut short to fit
(item 5)."""

import importlib
import threading
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.urls import reverse

from inventory import services as stock
from inventory.exceptions import InsufficientStock, InventoryError
from inventory.models import StockLevel, StockMovement, Warehouse
from orders import checklist, services
from orders.admin.actions import AddressForm
from orders.exceptions import ChecklistIncomplete, WorkflowError
from orders.imports import OrderImporter
from orders.models import (
    ChecklistStep,
    Customer,
    Order,
    OrderChecklistItem,
    OrderEvent,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    Predicate,
)
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    WarehouseFactory,
    return_everything,
    tick_manual_steps,
)
from tests.orders.test_imports import csv_file, errors_of, order_row
from tests.utils import ON_POSTGRESQL, race

S = OrderStatus
STEPS = reverse("admin:orders_checkliststep_changelist")
ADD_STEP = reverse("admin:orders_checkliststep_add")
PAYMENT = "Payment confirmed"
STOCK = "Stock available for every line"
TRACKED = "Shipment created with a valid tracking number"
COUNTRY_HINT = "Enter a two-letter country code (ISO 3166-1), such as TW or JP."

# Where each automatic step of the default checklist is, and a state where it can never pass.
AUTOMATIC = [
    (Predicate.PAYMENT_CONFIRMED, S.NEW, S.PROCESSING),
    (Predicate.STOCK_AVAILABLE, S.NEW, S.PACKED),
    (Predicate.ALL_ITEMS_SCANNED, S.PROCESSING, S.NEW),
    (Predicate.SHIPMENT_TRACKED, S.PACKED, S.NEW),
    (Predicate.SHIPMENT_DELIVERED, S.SHIPPED, S.PACKED),
]


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)._queued_messages]


def step_url(step, view="change"):
    return reverse(f"admin:orders_checkliststep_{view}", args=[step.pk])


def automatic_step(predicate):
    return ChecklistStep.objects.get(predicate=predicate)


def list_editable_post(response, changes):
    """The POST of a manager's "Save" on the list, with `changes` ({pk: {field: value}})
    applied to the rows shown (as tests/orders/test_admin_reference.py sends it)."""
    formset = response.context["cl"].formset
    data = {f"{formset.prefix}-{key}": value for key, value in formset.management_form.initial.items()}
    for form in formset.forms:
        for name, field in form.fields.items():
            value = changes.get(form.instance.pk, {}).get(name, form.initial.get(name, field.initial))
            if value is False:
                continue  # an unticked checkbox is not sent
            data[form.add_prefix(name)] = "on" if value is True else ("" if value is None else value)
    data["_save"] = "Save"
    return data


def step_form_data(step, **changes):
    data = {
        "state": step.state,
        "label": step.label,
        "position": step.position,
        "required": "on" if step.required else "",
        "predicate": step.predicate,
        "is_active": "on" if step.is_active else "",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value != ""} | {"predicate": data["predicate"]}


def template():
    return list(ChecklistStep.objects.order_by("pk").values_list("pk", "state", "position", "required", "is_active", "predicate"))


def received(product, warehouse, quantity):
    stock.stock_receive(product=product, warehouse=warehouse, quantity=quantity, actor=None)
    return product


def new_order(lines, *, warehouse=None, number=None, tick=True, **fields):
    """An order in `new` through the service: `lines` are (product, quantity) pairs."""
    fields.setdefault("payment_status", PaymentStatus.PAID)
    customer = CustomerFactory()
    order = services.order_create(
        number=number or f"R-{Order.objects.count() + 1:04d}",
        customer=customer,
        lines=[{"product": product, "quantity": quantity, "unit_price": Decimal(100)} for product, quantity in lines],
        warehouse=warehouse,
        ship_name=customer.name,
        ship_address1="1 Road",
        ship_city="Taipei",
        **fields,
    )
    if tick:
        tick_manual_steps(order)
    return order


def fresh(order):
    return Order.objects.select_related("warehouse").get(pk=order.pk)


def state_of(order):
    order = fresh(order)
    return {
        "order": {field.attname: getattr(order, field.attname) for field in Order._meta.concrete_fields},
        "events": list(order.events.values_list("pk", flat=True)),
        "checklist": list(order.checklist_items.values_list("pk", "done_at")),
        "stock": list(StockLevel.objects.order_by("pk").values_list("pk", "on_hand", "reserved")),
        "movements": StockMovement.objects.count(),
    }


# === item 1: automatic checklist steps are invariants ====================================


# --- the model ------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("predicate, home, _elsewhere", AUTOMATIC, ids=[p.value for p, _h, _e in AUTOMATIC])
def test_an_automatic_step_cannot_be_optional_or_inactive(predicate, home, _elsewhere):
    step = automatic_step(predicate)
    assert (step.state, step.required, step.is_active) == (home, True, True)
    step.full_clean()
    step.required, step.is_active = False, False
    with pytest.raises(ValidationError) as refused:
        step.full_clean()
    assert refused.value.message_dict == {
        "required": ["An automatic check is always required; only manual steps can be optional."],
        "is_active": ["An automatic check is always active; only manual steps can be deactivated."],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("predicate, _home, elsewhere", AUTOMATIC, ids=[p.value for p, _h, _e in AUTOMATIC])
def test_an_automatic_step_cannot_be_placed_where_its_check_never_passes(predicate, _home, elsewhere):
    step = ChecklistStep(state=elsewhere, label="Check", predicate=predicate)
    with pytest.raises(ValidationError) as refused:
        step.full_clean()
    (message,) = refused.value.message_dict["predicate"]
    assert message.startswith(f"The check “{predicate.label}” can only pass while an order is ")
    assert message.endswith(f"an order in {elsewhere.label} would wait for it forever.")


@pytest.mark.django_db
def test_the_shipment_check_can_be_placed_in_processing_or_packed():
    for state in (S.PROCESSING, S.PACKED):
        ChecklistStep(state=state, label="Label printed", predicate=Predicate.SHIPMENT_TRACKED).full_clean()
    with pytest.raises(ValidationError, match="Processing or Packed"):
        ChecklistStep(state=S.NEW, label="Label printed", predicate=Predicate.SHIPMENT_TRACKED).full_clean()


@pytest.mark.django_db
@pytest.mark.parametrize("state", [S.NEW, S.PROCESSING, S.PACKED, S.SHIPPED, S.DELIVERED])
def test_a_manual_step_is_the_managers_to_shape_in_any_state(state):
    ChecklistStep(state=state, label="Anything", predicate="", required=False, is_active=False).full_clean()


@pytest.mark.django_db
def test_the_form_that_leaves_the_check_out_reports_the_state_error_beside_the_state():
    step = automatic_step(Predicate.PAYMENT_CONFIRMED)
    step.state = S.PACKED
    with pytest.raises(ValidationError) as refused:
        step.full_clean(exclude=["predicate"])
    assert set(refused.value.message_dict) == {"state"}
    with pytest.raises(ValidationError) as refused:
        step.full_clean(exclude=["predicate", "state"])
    assert set(refused.value.message_dict) == {"__all__"}


# --- the database ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [{"required": False}, {"is_active": False}, {"state": S.PACKED}],
    ids=["optional", "inactive", "misplaced"],
)
def test_the_database_refuses_an_automatic_template_step_made_otherwise(change):
    """queryset.update() skips validation; the constraints hold the rule all the same."""
    before = template()
    with pytest.raises(IntegrityError), transaction.atomic():
        ChecklistStep.objects.filter(predicate=Predicate.PAYMENT_CONFIRMED).update(**change)
    assert template() == before
    ChecklistStep.objects.filter(predicate="").update(**change)  # manual steps: anything goes


@pytest.mark.django_db
@pytest.mark.parametrize("change", [{"required": False}, {"state": S.PACKED}], ids=["optional", "misplaced"])
def test_the_database_refuses_an_automatic_step_of_an_order_made_otherwise(change):
    order = OrderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        order.checklist_items.filter(predicate=Predicate.PAYMENT_CONFIRMED).update(**change)
    assert order.checklist_items.get(predicate=Predicate.PAYMENT_CONFIRMED).required


# --- the admin list -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, error",
    [
        ("required", "An automatic check is always required; only manual steps can be optional."),
        ("is_active", "An automatic check is always active; only manual steps can be deactivated."),
    ],
)
def test_a_manager_cannot_untick_an_automatic_step_in_the_list(client, manager, field, error):
    """Done-when: a manager cannot make "Payment confirmed" optional. The list says why
    beside the box and in a message, and saves nothing (not even the other rows)."""
    client.force_login(manager)
    payment = automatic_step(Predicate.PAYMENT_CONFIRMED)
    verified = ChecklistStep.objects.get(state=S.NEW, predicate="")
    before = template()
    page = client.get(STEPS, {"state__exact": "new"})
    data = list_editable_post(page, {payment.pk: {field: False}, verified.pk: {"position": 77}})

    response = client.post(STEPS + "?state__exact=new", data)

    assert response.status_code == 200
    form = next(form for form in response.context["cl"].formset.forms if form.instance.pk == payment.pk)
    assert form.errors == {field: [error]}
    html = response.content.decode()
    assert f"Nothing was saved. {PAYMENT}: {error}" in html
    assert error in html.split('id="result_list"')[1]  # beside the row, too
    assert template() == before


@pytest.mark.django_db
def test_the_list_still_saves_what_managers_may_change(client, manager):
    client.force_login(manager)
    payment = automatic_step(Predicate.PAYMENT_CONFIRMED)
    verified = ChecklistStep.objects.get(state=S.NEW, predicate="")
    page = client.get(STEPS, {"state__exact": "new"})
    data = list_editable_post(page, {payment.pk: {"position": 5}, verified.pk: {"required": False, "is_active": False}})
    response = client.post(STEPS + "?state__exact=new", data)
    assert response.status_code == 302
    payment.refresh_from_db()
    verified.refresh_from_db()
    assert (payment.position, payment.required, payment.is_active) == (5, True, True)
    assert (verified.required, verified.is_active) == (False, False)


# --- the admin form -------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_automatic_steps_form_shows_required_active_and_its_check_read_only(client, manager):
    client.force_login(manager)
    page = client.get(step_url(automatic_step(Predicate.PAYMENT_CONFIRMED)))
    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields) == {"state", "label", "position"}
    manual = client.get(step_url(ChecklistStep.objects.filter(predicate="").first()))
    assert {"required", "is_active", "predicate"} <= set(manual.context["adminform"].form.fields)


@pytest.mark.django_db
def test_posting_an_unticked_required_box_for_an_automatic_step_changes_nothing_of_it(client, manager):
    client.force_login(manager)
    payment = automatic_step(Predicate.PAYMENT_CONFIRMED)
    data = step_form_data(payment, label="Paid in full", required="", is_active="", predicate="")
    response = client.post(step_url(payment), data)
    assert response.status_code == 302
    payment.refresh_from_db()
    assert (payment.label, payment.required, payment.is_active, payment.predicate) == (
        "Paid in full",
        True,
        True,
        Predicate.PAYMENT_CONFIRMED,
    )


@pytest.mark.django_db
def test_moving_an_automatic_step_to_a_state_where_it_cannot_pass_is_refused_in_the_form(client, manager):
    client.force_login(manager)
    tracked = automatic_step(Predicate.SHIPMENT_TRACKED)
    before = template()
    response = client.post(step_url(tracked), step_form_data(tracked, state=S.NEW))
    assert response.status_code == 200
    (message,) = response.context["adminform"].form.errors["state"]
    assert "can only pass while an order is Processing or Packed; an order in New would wait for it forever" in message
    assert message in response.content.decode()
    assert template() == before
    # Where the check can pass, the manager may move it.
    assert client.post(step_url(tracked), step_form_data(tracked, state=S.PROCESSING)).status_code == 302
    tracked.refresh_from_db()
    assert tracked.state == S.PROCESSING


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, field",
    [
        ({"state": "new", "predicate": "shipment_tracked", "required": "on", "is_active": "on"}, "predicate"),
        ({"state": "processing", "predicate": "payment_confirmed", "required": "on", "is_active": "on"}, "predicate"),
        ({"state": "new", "predicate": "payment_confirmed", "is_active": "on"}, "required"),
        ({"state": "new", "predicate": "payment_confirmed", "required": "on"}, "is_active"),
    ],
    ids=["tracked-in-new", "payment-in-processing", "optional", "inactive"],
)
def test_adding_an_automatic_step_that_could_never_hold_is_refused(client, manager, data, field):
    client.force_login(manager)
    before = template()
    response = client.post(ADD_STEP, {"label": "Extra check", "position": 50, **data})
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == [field]
    assert template() == before


@pytest.mark.django_db
def test_adding_an_automatic_step_where_it_can_pass_works(client, manager):
    client.force_login(manager)
    response = client.post(
        ADD_STEP,
        {"state": "processing", "label": "Label printed", "position": 50, "predicate": "shipment_tracked", "required": "on", "is_active": "on"},
    )
    assert response.status_code == 302
    assert ChecklistStep.objects.filter(state=S.PROCESSING, predicate=Predicate.SHIPMENT_TRACKED).exists()


@pytest.mark.django_db
def test_a_manual_step_can_be_made_optional_deactivated_and_deleted_in_the_form(client, manager):
    client.force_login(manager)
    step = ChecklistStep.objects.get(state=S.PROCESSING, label="Items picked")
    response = client.post(step_url(step), step_form_data(step, required="", is_active=""))
    assert response.status_code == 302
    step.refresh_from_db()
    assert (step.required, step.is_active) == (False, False)
    assert client.post(step_url(step, "delete"), {"post": "yes"}).status_code == 302
    assert not ChecklistStep.objects.filter(pk=step.pk).exists()


@pytest.mark.django_db
def test_an_automatic_step_cannot_be_deleted_from_its_page_or_the_list(client, manager):
    client.force_login(manager)
    payment = automatic_step(Predicate.PAYMENT_CONFIRMED)
    manual = ChecklistStep.objects.get(state=S.NEW, predicate="")
    assert client.post(step_url(payment, "delete"), {"post": "yes"}).status_code == 403

    response = client.post(
        STEPS, {"action": "delete_selected", "_selected_action": [payment.pk, manual.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert messages_of(response) == [
        ("error", f"Nothing was deleted: automatic steps cannot be deleted (“{PAYMENT}”); only manual steps can.")
    ]
    assert ChecklistStep.objects.filter(pk__in=[payment.pk, manual.pk]).count() == 2
    # Manual steps alone are deleted as usual.
    response = client.post(STEPS, {"action": "delete_selected", "_selected_action": [manual.pk], "post": "yes"})
    assert response.status_code == 302
    assert not ChecklistStep.objects.filter(pk=manual.pk).exists()


# --- the service that advances --------------------------------------------------------------


@pytest.mark.django_db
def test_an_unpaid_order_whose_copy_lost_the_payment_step_is_not_processed(warehouse_user):
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    order = new_order([(received(ProductFactory(), warehouse, 5), 1)], payment_status=PaymentStatus.PENDING)
    order.checklist_items.filter(predicate=Predicate.PAYMENT_CONFIRMED).delete()
    before = state_of(order)

    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)

    assert refused.value.missing == [PAYMENT]
    assert f"“{PAYMENT} (Payment is Pending.)”" in str(refused.value)
    assert state_of(order) == before
    assert checklist.missing_steps(fresh(order)) == [PAYMENT]


@pytest.mark.django_db
def test_an_order_whose_copy_lost_the_stock_step_is_not_processed_without_stock(warehouse_user):
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    product = received(ProductFactory(sku="TEA-1"), warehouse, 1)
    order = new_order([(product, 3)])
    order.checklist_items.filter(predicate=Predicate.STOCK_AVAILABLE).delete()
    with pytest.raises(ChecklistIncomplete, match="Not enough stock for: TEA-1"):
        services.order_advance(order=order, actor=warehouse_user)
    assert fresh(order).status == S.NEW


@pytest.mark.django_db
def test_a_template_without_the_payment_step_still_gives_every_new_order_the_check(warehouse_user):
    ChecklistStep.objects.filter(predicate=Predicate.PAYMENT_CONFIRMED).delete()
    warehouse = WarehouseFactory(code="MAIN", priority=1)
    order = new_order([(received(ProductFactory(), warehouse, 5), 1)], payment_status=PaymentStatus.PENDING)
    payment = order.checklist_items.get(predicate=Predicate.PAYMENT_CONFIRMED)
    assert (payment.label, payment.state, payment.required) == (PAYMENT, S.NEW, True)
    with pytest.raises(ChecklistIncomplete):
        services.order_advance(order=order, actor=warehouse_user)
    services.order_mark_paid(order=order, actor=None)
    assert services.order_advance(order=order, actor=warehouse_user).status == S.PROCESSING


@pytest.mark.django_db
def test_a_packed_order_whose_copy_lost_the_shipment_step_is_not_shipped_and_no_email_goes(warehouse_user):
    """The bug of the issue: no shipment, yet new → shipped and the "shipped" e-mail."""
    order = OrderFactory(packed=True)
    tick_manual_steps(order)
    order.checklist_items.filter(state=S.PACKED, predicate=Predicate.SHIPMENT_TRACKED).delete()
    mail.outbox.clear()
    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.missing == [TRACKED]
    assert fresh(order).status == S.PACKED
    assert mail.outbox == [] and not order.events.filter(kind=OrderEvent.Kind.NOTIFICATION).exists()


@pytest.mark.django_db
def test_an_order_entering_a_state_gets_each_check_the_state_requires_once():
    order = OrderFactory(processing=True)
    for state in (S.NEW, S.PROCESSING):
        predicates = list(order.checklist_items.filter(state=state).exclude(predicate="").values_list("predicate", "required"))
        assert sorted(predicates) == sorted((p.value, True) for p in checklist.REQUIRED_CHECKS[state])


# --- migration 0007 puts the rows right before the constraints --------------------------------


INVARIANTS = {
    ChecklistStep: ("checkliststep_automatic_required_active", "checkliststep_automatic_in_its_state"),
    OrderChecklistItem: ("orderchecklistitem_automatic_required", "orderchecklistitem_automatic_in_its_state"),
}


@contextmanager
def invariants_not_enforced():
    """The rows as they could be before migration 0007: the constraints are not checked
    (SQLite) or dropped for the test's transaction, which is rolled back (PostgreSQL)."""
    if ON_POSTGRESQL:
        with connection.schema_editor() as editor:
            for model, names in INVARIANTS.items():
                for constraint in model._meta.constraints:
                    if constraint.name in names:
                        editor.remove_constraint(model, constraint)
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA ignore_check_constraints = ON")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")


def invariant_violations():
    found = []
    for model, names in INVARIANTS.items():
        constraints = [constraint for constraint in model._meta.constraints if constraint.name in names]
        for row in model.objects.all():
            for constraint in constraints:
                try:
                    constraint.validate(model, row)
                except ValidationError:
                    found.append((model.__name__, row.pk, constraint.name))
    return found


@pytest.mark.django_db
def test_the_service_does_not_trust_template_rows_that_were_forced_past_the_database(warehouse_user):
    """Rows made optional, inactive or misplaced without the constraints (as they were
    before migration 0007, or by hand in a database shell): a new order still gets
    every check of `new`, required, and an unpaid one does not start processing."""
    with invariants_not_enforced():
        steps = ChecklistStep.objects
        steps.filter(predicate=Predicate.PAYMENT_CONFIRMED).update(required=False, is_active=False)
        steps.filter(predicate=Predicate.STOCK_AVAILABLE).update(state=S.PACKED)
        steps.filter(predicate=Predicate.SHIPMENT_TRACKED).update(state=S.NEW)
        warehouse = WarehouseFactory(code="MAIN", priority=1)
        order = new_order([(received(ProductFactory(), warehouse, 5), 1)], payment_status=PaymentStatus.PENDING)
        checks = dict(order.checklist_items.filter(state=S.NEW).exclude(predicate="").values_list("predicate", "required"))
        assert checks == {Predicate.PAYMENT_CONFIRMED: True, Predicate.STOCK_AVAILABLE: True}
        with pytest.raises(ChecklistIncomplete) as refused:
            services.order_advance(order=order, actor=warehouse_user)
        assert refused.value.missing == [PAYMENT]
        assert fresh(order).status == S.NEW


@pytest.mark.django_db
def test_migration_0007_makes_the_rows_a_manager_had_bent_hold_the_invariants(warehouse_user):
    migration = importlib.import_module("orders.migrations.0007_checklist_step_invariants")
    with invariants_not_enforced():
        warehouse = WarehouseFactory(code="MAIN", priority=1)
        stuck = new_order([(received(ProductFactory(), warehouse, 5), 1)])
        steps = ChecklistStep.objects
        steps.filter(predicate=Predicate.PAYMENT_CONFIRMED).update(required=False, is_active=False)
        steps.filter(predicate=Predicate.STOCK_AVAILABLE).update(state=S.PACKED)  # the only one: moved back
        ChecklistStep.objects.create(state=S.NEW, label="Tracked early", predicate=Predicate.SHIPMENT_TRACKED)  # a second: deleted
        ChecklistStep.objects.create(state=S.NEW, label="Gone", predicate="no_longer_a_check")
        stuck.checklist_items.filter(predicate=Predicate.PAYMENT_CONFIRMED).update(required=False)
        OrderChecklistItem.objects.create(
            order=stuck, state=S.NEW, label="Tracked early", position=99, predicate=Predicate.SHIPMENT_TRACKED
        )
        assert len(invariant_violations()) == 6

        migration.automatic_steps_as_invariants(apps, None)

    assert invariant_violations() == []
    payment = automatic_step(Predicate.PAYMENT_CONFIRMED)
    assert (payment.required, payment.is_active) == (True, True)
    assert automatic_step(Predicate.STOCK_AVAILABLE).state == S.NEW
    assert list(steps.filter(predicate=Predicate.SHIPMENT_TRACKED).values_list("state", flat=True)) == [S.PACKED]
    assert steps.get(label="Gone").predicate == ""
    assert stuck.checklist_items.get(predicate=Predicate.PAYMENT_CONFIRMED).required
    early = stuck.checklist_items.get(label="Tracked early")
    assert (early.predicate, early.required) == ("", False)
    # The order that waited for a shipment in `new` can now start processing.
    assert services.order_advance(order=stuck, actor=warehouse_user).status == S.PROCESSING
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the ALTERs below need no pending checks
        with connection.schema_editor() as editor:  # as the migration's AddConstraint then does
            for model, names in INVARIANTS.items():
                for constraint in model._meta.constraints:
                    if constraint.name in names:
                        editor.add_constraint(model, constraint)


# === item 3: reservations use active warehouses only =======================================


@pytest.fixture
def north_closed(db):
    """The order's own warehouse NORTH (deactivated after the order was placed) and the
    active SOUTH; each holds 5 TEA-1."""
    north = WarehouseFactory(code="NORTH", priority=1)
    south = WarehouseFactory(code="SOUTH", priority=2)
    tea = ProductFactory(sku="TEA-1")
    received(tea, north, 5)
    received(tea, south, 5)
    return north, south, tea


def close(warehouse):
    Warehouse.objects.filter(pk=warehouse.pk).update(is_active=False)


@pytest.mark.django_db
def test_an_order_whose_warehouse_was_deactivated_reserves_in_an_active_one_and_says_why(north_closed, warehouse_user):
    north, south, tea = north_closed
    order = new_order([(tea, 2)], warehouse=north)
    close(north)

    done, hint = checklist.stock_available(fresh(order))
    assert (done, hint) == (
        True,
        "Warehouse NORTH of the order is not active; the stock will be reserved in an active warehouse instead.",
    )
    order = services.order_advance(order=order, actor=warehouse_user)

    assert order.status == S.PROCESSING and fresh(order).warehouse == south
    assert StockLevel.objects.get(warehouse=north).reserved == 0
    assert StockLevel.objects.get(warehouse=south).reserved == 2
    event = order.events.get(kind=OrderEvent.Kind.STOCK)
    assert event.data["inactive_warehouse"] == "NORTH"
    assert event.describe() == "Reserved in SOUTH: 2 × TEA-1 — Warehouse NORTH of the order is not active."


@pytest.mark.django_db
def test_an_order_whose_warehouse_was_deactivated_is_refused_when_no_active_one_has_the_stock(north_closed, warehouse_user):
    north, _south, tea = north_closed
    order = new_order([(tea, 7)], warehouse=north)
    close(north)
    before = state_of(order)
    hint = "Warehouse NORTH of the order is not active. Not enough stock for: TEA-1"
    assert checklist.stock_available(fresh(order)) == (False, hint)

    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)

    assert f"“{STOCK} ({hint})”" in str(refused.value)
    assert state_of(order) == before


@pytest.mark.django_db
def test_an_order_whose_warehouse_was_deactivated_is_refused_when_no_warehouse_is_active(north_closed, warehouse_user):
    north, south, tea = north_closed
    order = new_order([(tea, 1)], warehouse=north)
    close(north)
    close(south)
    hint = "Warehouse NORTH of the order is not active, and there is no active warehouse to take stock from."
    assert checklist.stock_available(fresh(order)) == (False, hint)
    with pytest.raises(ChecklistIncomplete, match=hint):
        services.order_advance(order=order, actor=warehouse_user)
    # The reservation itself says the same (when the check was passed a moment before).
    with pytest.raises(WorkflowError, match=hint), transaction.atomic():
        services._reserve_stock(services._lock_order(order), actor=warehouse_user)


@pytest.mark.django_db
def test_the_reservation_refusal_names_the_inactive_warehouse_too(north_closed, warehouse_user):
    """Stock taken by another order between the check and the reservation."""
    north, south, tea = north_closed
    order = new_order([(tea, 5)], warehouse=north)
    close(north)
    with pytest.raises(InsufficientStock) as refused, transaction.atomic():
        stock.stock_reserve(order=new_order([(tea, 1)]), warehouse=south, lines=[(tea, 1)], actor=None)
        services._reserve_stock(services._lock_order(order), actor=warehouse_user)
    assert str(refused.value) == "Warehouse NORTH of the order is not active. Not enough stock in SOUTH for: TEA-1"
    assert refused.value.skus == ["TEA-1"]


@pytest.mark.django_db
def test_the_order_list_shows_the_same_stock_hint_as_the_order(north_closed):
    north, south, tea = north_closed
    enough = new_order([(tea, 2)], warehouse=north)
    short = new_order([(tea, 9)], warehouse=north)
    own = new_order([(tea, 1)], warehouse=south)
    close(north)
    direct = {order.pk: checklist.stock_available(fresh(order)) for order in (enough, short, own)}
    listed = list(Order.objects.filter(pk__in=direct).prefetch_related("lines"))
    checklist.prefetch_stock(listed)
    assert {order.pk: checklist.stock_available(order) for order in listed} == direct
    assert direct[own.pk] == (True, "")


@pytest.mark.django_db
def test_an_active_own_warehouse_is_still_the_only_one_used(north_closed, warehouse_user):
    north, _south, tea = north_closed
    order = new_order([(tea, 7)], warehouse=north)  # NORTH has 5, SOUTH 5: neither alone
    assert checklist.stock_available(fresh(order)) == (False, "Not enough stock for: TEA-1")
    order = new_order([(tea, 4)], warehouse=north)
    assert services.order_advance(order=order, actor=warehouse_user).warehouse == north
    assert "inactive_warehouse" not in order.events.get(kind=OrderEvent.Kind.STOCK).data


# === item 4: every order line is checked like the order ====================================


def create(lines, **fields):
    fields.setdefault("ship_name", "Lin")
    fields.setdefault("ship_address1", "1 Road")
    fields.setdefault("ship_city", "Taipei")
    return services.order_create(number=fields.pop("number", "L-1"), customer=CustomerFactory(), lines=lines, **fields)


def nothing_written():
    return not (Order.objects.exists() or OrderLine.objects.exists() or OrderEvent.objects.exists())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "line, message",
    [
        ({"unit_price": "19.995"}, "Line 2: unit price: Ensure that there are no more than 2 decimal places."),
        ({"unit_price": Decimal("0.001")}, "Line 2: unit price: Ensure that there are no more than 2 decimal places."),
        ({"unit_price": "12345678901.00"}, "Line 2: unit price: Ensure that there are no more than 12 digits in total."),
        ({"unit_price": "abc"}, "Line 2: unit price: Enter a number."),
        ({"quantity": 2**63}, "Line 2: quantity: Ensure this value is less than or equal to "),
    ],
    ids=["three-decimals", "decimal-three-decimals", "too-many-digits", "not-a-number", "quantity-too-large"],
)
def test_a_bad_line_is_refused_naming_the_line_not_the_total(line, message):
    product = ProductFactory()
    lines = [{"product": product, "quantity": 1, "unit_price": "10"}, {"product": product, "quantity": 1, "unit_price": "10", **line}]
    with pytest.raises(ValidationError) as refused:
        create(lines)
    assert list(refused.value.message_dict) == ["lines"]
    (text,) = refused.value.message_dict["lines"]
    assert text.startswith(message)
    assert nothing_written()


@pytest.mark.django_db
def test_a_line_without_a_saved_product_is_refused_on_its_line():
    with pytest.raises(ValidationError) as refused:
        create([{"product": None, "quantity": 1, "unit_price": "1"}])
    assert refused.value.message_dict == {"lines": ["Line 1: a product is required."]}
    assert nothing_written()


@pytest.mark.django_db
def test_orders_create_many_names_the_line_of_the_bad_order_after_good_ones():
    product = ProductFactory()
    specs = [
        {"number": f"M-{n}", "customer": CustomerFactory(), "ship_name": "Lin", "ship_address1": "1 Road", "ship_city": "Taipei",
         "lines": [{"product": product, "quantity": 1, "unit_price": "1.50"}, {"product": product, "quantity": 1, "unit_price": "1.505" if n == 2 else "2"}]}
        for n in range(3)
    ]
    with pytest.raises(ValidationError) as refused:
        services.orders_create_many(specs=specs)
    assert refused.value.message_dict == {"lines": ["Line 2: unit price: Ensure that there are no more than 2 decimal places."]}
    assert nothing_written()


@pytest.mark.django_db
def test_the_import_refuses_a_price_with_three_decimals_at_its_row_and_column():
    from reports.imports import run_import

    WarehouseFactory(code="TPE", priority=1)
    ProductFactory(sku="TEA")
    rows = [order_row("SO-1", "TEA"), order_row("SO-1", "TEA", unit_price="9.999")]
    report = run_import("orders", csv_file(rows), actor=None, dry_run=False)
    assert not report.written and errors_of(report) == [(3, "unit_price")]
    assert nothing_written()


# --- a duplicate order number racing in --------------------------------------------------------


def spec(number, product):
    return {
        "number": number,
        "customer": Customer(name="New", email=f"{number.lower()}@example.com"),
        "lines": [{"product": product, "quantity": 1, "unit_price": "10"}],
        "ship_name": "Lin",
        "ship_address1": "1 Road",
        "ship_city": "Taipei",
    }


@pytest.mark.django_db
def test_a_duplicate_number_the_check_missed_is_the_services_refusal_and_the_transaction_goes_on(monkeypatch):
    """The sequential stand-in for two imports racing (the thread test below is the
    real one): the "which numbers exist" check misses the number another import has
    just committed, so the INSERT meets the unique index."""
    product = ProductFactory()
    services.order_create(**spec("DUP", product))
    before = {model: model.objects.count() for model in (Order, OrderLine, OrderChecklistItem, OrderEvent, Customer)}
    real = services._existing_numbers
    calls = []
    monkeypatch.setattr(services, "_existing_numbers", lambda numbers: calls.append(1) or (set() if len(calls) == 1 else real(numbers)))
    monkeypatch.setattr(services, "CREATE_CHUNK", 1)  # the first order is written before the duplicate is met

    with pytest.raises(WorkflowError) as refused:
        services.orders_create_many(specs=[spec("FIRST", product), spec("DUP", product), spec("LAST", product)])

    assert str(refused.value) == "Order number DUP already exists."
    assert not isinstance(refused.value, IntegrityError) and refused.value.__cause__ is None
    assert {model: model.objects.count() for model in before} == before
    # The caller's transaction is still usable: the refusal was inside a savepoint.
    assert services.order_create(**spec("FIRST", product)).pk


def ordinary_refusal_first():
    """What a sequential duplicate gets: the message the race must give too."""
    product = ProductFactory()
    services.order_create(**spec("SEQ", product))
    with pytest.raises(WorkflowError) as refused:
        services.order_create(**spec("SEQ", product))
    return str(refused.value).replace("SEQ", "%s")


@pytest.mark.django_db
def test_the_race_and_the_sequential_duplicate_get_the_same_words(monkeypatch):
    words = ordinary_refusal_first()
    product = ProductFactory()
    services.order_create(**spec("RACE", product))
    real = services._existing_numbers
    monkeypatch.setattr(services, "_existing_numbers", lambda numbers, seen=[]: seen.append(1) or (set() if len(seen) == 1 else real(numbers)))
    with pytest.raises(WorkflowError) as refused:
        services.order_create(**spec("RACE", product))
    assert str(refused.value) == words % "RACE"


@pytest.mark.skipif(
    not ON_POSTGRESQL,
    reason="two transactions inserting the same number at once: SQLite serialises writers, so the second "
    "never reaches the unique index while the first is still open (the test above simulates it)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_transactions_creating_the_same_number_at_once_give_one_order_and_the_services_refusal(monkeypatch):
    """Both pass the "which numbers exist" check before either has written (a barrier
    holds them there); one INSERT waits on the other's unique index entry, then fails."""
    product = ProductFactory()
    real = services._existing_numbers
    both_checked = threading.Barrier(2)
    local = threading.local()

    def existing_numbers(numbers):
        found = real(numbers)
        if not getattr(local, "checked", False):  # each thread's first check
            local.checked = True
            both_checked.wait(timeout=30)
        return found

    monkeypatch.setattr(services, "_existing_numbers", existing_numbers)
    outcomes = race(
        *(
            lambda index=index: services.orders_create_many(specs=[spec(f"OTHER-{index}", product), spec("SAME", product)])
            for index in range(2)
        )
    )
    assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, WorkflowError) and str(error) == "Order number SAME already exists."
    assert Order.objects.filter(number="SAME").count() == 1
    assert Order.objects.count() == 2 and Customer.objects.count() == 2  # the refused call wrote nothing
    assert OrderLine.objects.count() == 2 and OrderEvent.objects.count() == 2


# === item 5: the country is an ISO 3166-1 code; nothing is cut short =========================


BAD_COUNTRIES = ["Taiwan", "ZZ", "TWN", "158", "T1", "台灣"]


@pytest.mark.django_db
def test_the_address_form_offers_the_countries_as_a_list():
    form = AddressForm(initial={"ship_country": "TW"})
    html = str(form["ship_country"])
    assert html.startswith('<select name="ship_country"')
    assert '<option value="TW" selected>Taiwan</option>' in html
    assert '<option value="JP">Japan</option>' in html
    assert 'value=""' not in html  # a country is always chosen


@pytest.fixture
def address_client(client, service_user):
    client.force_login(service_user)
    order = OrderFactory(processing=True)
    url = reverse("admin:orders_order_address", args=[order.pk])
    data = {name: str(getattr(order, name)) for name in services.ADDRESS_FIELDS}
    return client, order, url, data


@pytest.mark.django_db
def test_the_address_page_renders_the_country_select(address_client):
    client, _order, url, _data = address_client
    html = client.get(url).content.decode()
    assert '<select name="ship_country"' in html and '<option value="TW" selected>Taiwan</option>' in html


@pytest.mark.django_db
@pytest.mark.parametrize("typed", [*BAD_COUNTRIES, "tw", ""])
def test_a_country_not_on_the_list_is_refused_by_the_address_form_and_nothing_changes(address_client, typed):
    """Done-when: typing "Taiwan" as the country is refused with the list."""
    client, order, url, data = address_client
    before = state_of(order)
    response = client.post(url, {**data, "ship_city": "Kaohsiung", "ship_country": typed})
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.errors) == ["ship_country"]
    html = response.content.decode()
    assert "Please correct the errors below." in html
    assert '<select name="ship_country"' in html  # the list is offered again
    if typed:
        assert f"Select a valid choice. {typed} is not one of the available choices." in form.errors["ship_country"]
    assert state_of(order) == before


@pytest.mark.django_db
def test_a_country_chosen_from_the_list_is_saved_and_on_the_timeline(address_client):
    client, order, url, data = address_client
    response = client.post(url, {**data, "ship_country": "JP"})
    assert response.status_code == 302
    order = fresh(order)
    assert order.ship_country == "JP"
    event = order.events.get(kind=OrderEvent.Kind.ADDRESS)
    assert event.data == {"changed": {"ship_country": ["TW", "JP"]}}


@pytest.mark.django_db
def test_the_order_page_shows_the_country_and_does_not_edit_it(client, service_user):
    client.force_login(service_user)
    order = OrderFactory()
    response = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "ship_country" not in form.fields  # corrected only through the address form
    assert "ship_country" in response.context["adminform"].readonly_fields
    assert "Taiwan" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("typed", BAD_COUNTRIES)
def test_the_services_refuse_a_country_that_is_not_a_code_naming_what_was_typed(typed, service_user):
    product = ProductFactory()
    with pytest.raises(ValidationError) as refused:
        create([{"product": product, "quantity": 1, "unit_price": "1"}], ship_country=typed)
    assert refused.value.message_dict == {"ship_country": [f"“{typed}” is not a country code. {COUNTRY_HINT}"]}
    assert nothing_written()

    order = OrderFactory(number="A-1")
    before = state_of(order)
    with pytest.raises(ValidationError) as refused:
        services.order_correct_address(order=order, actor=service_user, ship_country=typed, ship_city="Tainan")
    assert list(refused.value.message_dict) == ["ship_country"]
    assert state_of(order) == before


@pytest.mark.django_db
def test_a_code_in_any_case_is_the_code(service_user):
    product = ProductFactory()
    assert create([{"product": product, "quantity": 1, "unit_price": "1"}], ship_country=" jp ").ship_country == "JP"
    order = services.order_correct_address(order=OrderFactory(), actor=service_user, ship_country="kr")
    assert fresh(order).ship_country == "KR"


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["Taiwan", "ZZ", "TWN", "Tw1"])
def test_the_import_refuses_a_country_that_is_not_a_code_at_its_row_and_column(typed):
    from reports.imports import run_import

    WarehouseFactory(code="TPE", priority=1)
    ProductFactory(sku="TEA")
    rows = [order_row("SO-1", "TEA"), order_row("SO-2", "TEA", ship_country=typed)]
    report = run_import("orders", csv_file(rows), actor=None, dry_run=False)
    assert not report.written
    (error,) = report.sorted_errors()
    assert (error.row, error.column) == (3, "ship_country")
    assert error.reason == f"“{typed}” is not a two-letter country code (ISO 3166-1), such as TW or JP."
    assert nothing_written()
    assert "ship_country" in OrderImporter.columns


@pytest.mark.django_db
def test_the_import_takes_a_code_in_lower_case():
    from reports.imports import run_import

    WarehouseFactory(code="TPE", priority=1)
    ProductFactory(sku="TEA")
    report = run_import("orders", csv_file([order_row("SO-1", "TEA", ship_country="jp")]), actor=None, dry_run=False)
    assert report.written
    assert Order.objects.get().ship_country == "JP"


# --- stock notes are refused, never cut short ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("service", ["receive", "count"])
def test_a_stock_note_longer_than_the_ledger_keeps_is_refused(service):
    warehouse, product = WarehouseFactory(code="MAIN"), ProductFactory()
    call = {
        "receive": lambda note: stock.stock_receive(product=product, warehouse=warehouse, quantity=3, actor=None, note=note),
        "count": lambda note: stock.stock_count(product=product, warehouse=warehouse, on_hand=3, actor=None, note=note),
    }[service]
    with pytest.raises(InventoryError) as refused:
        call("x" * 256)
    assert str(refused.value) == "A note can be at most 255 characters; this one has 256."
    assert not StockMovement.objects.exists() and not StockLevel.objects.filter(on_hand__gt=0).exists()
    call("é" * 255)
    assert StockMovement.objects.get().note == "é" * 255


@pytest.mark.django_db
def test_a_long_return_reason_is_kept_in_full_on_the_timeline_and_marked_shortened_in_the_ledger(service_user):
    order = OrderFactory(shipped=True)
    reason = "The customer explains at length. " * 20
    return_everything(order, actor=service_user, reason=reason)
    assert fresh(order).events.get(kind=OrderEvent.Kind.RETURN, data__action="opened").message == reason.strip()
    assert fresh(order).events.get(kind=OrderEvent.Kind.TRANSITION, data__to=S.RETURNED).message == reason.strip()
    note = StockMovement.objects.get(kind=StockMovement.Kind.RETURN).note
    head = f"Return #{fresh(order).returns.get().pk}: "
    assert len(note) == 255 and note.endswith("…") and (head + reason).startswith(note[:-1])


@pytest.mark.django_db
def test_a_refused_scan_too_long_for_any_code_is_on_the_timeline_marked_as_cut(warehouse_user):
    order = OrderFactory(processing=True)
    code = "9" * 100
    services.order_scan_refusal_record(order=order, code=code, reason="Not a barcode", actor=warehouse_user)
    recorded = order.events.get(kind=OrderEvent.Kind.SCAN, data__action="refused").data["code"]
    assert len(recorded) == 64 and recorded == "9" * 63 + "…"
    services.order_scan_refusal_record(order=order, code="9" * 64, reason="Not a barcode", actor=warehouse_user)
    assert order.events.filter(data__code="9" * 64).exists()  # one that fits is kept whole


@pytest.mark.django_db
def test_an_export_jobs_label_marks_a_long_search_as_cut_and_runs_the_whole_search(manager):
    from reports.exporting import Selection
    from reports.services import export_job_start

    search = "customer " * 30
    job = export_job_start(kind="orders", file_format="csv", selection=Selection({}, search), rows_total=1, actor=manager)
    assert len(job.search) == 200 and job.search.endswith("…") and search.startswith(job.search[:-1])
    assert job.params["search"] == search.strip()


@pytest.mark.django_db
def test_a_fully_scanned_order_still_needs_its_checks_after_the_copy_is_gone(warehouse_user):
    """Processing: the scan check is made even if the order's copy of it was removed."""
    order = OrderFactory(processing=True)
    tick_manual_steps(order)
    order.checklist_items.filter(state=S.PROCESSING, predicate=Predicate.ALL_ITEMS_SCANNED).delete()
    with pytest.raises(ChecklistIncomplete) as refused:
        services.order_advance(order=order, actor=warehouse_user)
    assert refused.value.missing == ["Every item scanned at the packing station"]
    order.lines.update(quantity_scanned=F("quantity"))
    assert services.order_advance(order=order, actor=warehouse_user).status == S.PACKED
