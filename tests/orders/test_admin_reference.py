"""Admin pages for customers, checklist templates and target times."""

import pytest
from django.urls import reverse

from orders.models import ChecklistStep, Customer, Predicate, StatusTarget
from tests.factories import CustomerFactory, OrderFactory
from tests.utils import changelist_rows, count_queries, page_queries

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("admin:orders_customer_changelist")
STEPS = reverse("admin:orders_checkliststep_changelist")
TARGETS = reverse("admin:orders_statustarget_changelist")


def list_editable_post(response, changes):
    """The POST a manager's "Save" on a list_editable changelist sends, with `changes`
    ({pk: {field: value}}) applied to the rows shown."""
    formset = response.context["cl"].formset
    data = {key: value for key, value in formset.management_form.initial.items()}
    data = {f"{formset.prefix}-{key}": value for key, value in data.items()}
    for form in formset.forms:
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            value = changes.get(form.instance.pk, {}).get(name, value)
            if value is False:
                continue  # an unticked checkbox is not sent
            data[form.add_prefix(name)] = "on" if value is True else ("" if value is None else value)
    data["_save"] = "Save"
    return data


# --- customers -------------------------------------------------------------------


def test_customer_list_query_count_does_not_grow(client, service_user):
    client.force_login(service_user)
    OrderFactory()
    count_queries(client, CUSTOMERS)  # warm caches (content types)
    one, one_page = page_queries(client, CUSTOMERS)
    for _ in range(5):
        OrderFactory(lines=2)
    many, many_page = page_queries(client, CUSTOMERS)
    assert Customer.objects.count() == 6
    # Both pages list the customers their queries are counted over.
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 6)
    assert one == many


def test_customer_list_counts_orders(client, service_user):
    client.force_login(service_user)
    customer = CustomerFactory()
    OrderFactory(customer=customer)
    OrderFactory(customer=customer)
    response = client.get(CUSTOMERS)
    assert [row.order_count for row in changelist_rows(response)] == [2]


@pytest.mark.parametrize("typed", ["0912-345-678", "0912345678", "+886 912 345 678", "(0912) 345 678", "+886-912-345-678"])
def test_customer_search_finds_a_phone_however_it_is_written(client, service_user, typed):
    client.force_login(service_user)
    wanted = CustomerFactory(phone="0912 345 678")
    CustomerFactory(phone="0987-654-321")
    response = client.get(CUSTOMERS, {"q": typed})
    assert changelist_rows(response) == [wanted]


def test_customer_search_by_email_any_case_and_by_name(client, service_user):
    client.force_login(service_user)
    mei = CustomerFactory(name="王小美", email="xiaomei@example.com")
    CustomerFactory(name="Emily Chen", email="emily@example.com")
    assert changelist_rows(client.get(CUSTOMERS, {"q": "XiaoMei@Example.COM"})) == [mei]
    assert changelist_rows(client.get(CUSTOMERS, {"q": "小美"})) == [mei]


def test_customer_search_too_long_is_a_message_not_an_error(client, service_user):
    client.force_login(service_user)
    CustomerFactory()
    response = client.get(CUSTOMERS, {"q": "x" * 10_000})
    assert response.status_code == 200
    assert changelist_rows(response) == []
    assert "too long" in response.content.decode()


def test_customer_page_lists_orders_with_links(client, service_user):
    client.force_login(service_user)
    customer = CustomerFactory()
    first = OrderFactory(customer=customer, number="SO-7001")
    second = OrderFactory(customer=customer, number="SO-7002", processing=True)
    response = client.get(reverse("admin:orders_customer_change", args=[customer.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    for order in (first, second):
        assert f'<a href="{reverse("admin:orders_order_change", args=[order.pk])}">{order.number}</a>' in html
    assert "<td>New</td>" in html and "<td>Processing</td>" in html
    assert "TWD 120.00" in html


def test_customer_page_query_count_does_not_grow_with_orders(client, service_user):
    client.force_login(service_user)
    customer = CustomerFactory()
    first = OrderFactory(customer=customer)
    url = reverse("admin:orders_customer_change", args=[customer.pk])
    count_queries(client, url)
    one, one_page = page_queries(client, url)
    more = [OrderFactory(customer=customer, lines=2) for _ in range(4)]
    many, many_page = page_queries(client, url)

    def listed(page):
        html = page.content.decode()
        return {order.number for order in [first, *more] if f">{order.number}</a>" in html}

    # Both pages list the orders their queries are counted over, the second all five.
    assert listed(one_page) == {first.number}
    assert listed(many_page) == {order.number for order in [first, *more]}
    assert many == one


def test_customer_page_links_to_all_orders_beyond_the_first_fifty(client, service_user, monkeypatch):
    from orders.admin import reference as admin_reference

    monkeypatch.setattr(admin_reference, "CUSTOMER_ORDERS_SHOWN", 2)
    client.force_login(service_user)
    customer = CustomerFactory()
    for _ in range(3):
        OrderFactory(customer=customer)
    html = client.get(reverse("admin:orders_customer_change", args=[customer.pk])).content.decode()
    assert "All 3 orders" in html
    assert f"customer__id__exact={customer.pk}" in html


# --- checklist templates -----------------------------------------------------------


def test_checklist_step_list_query_count_does_not_grow(client, manager):
    client.force_login(manager)
    # Automatic steps are always active (issue #7): only manual ones can be switched off.
    keep = ChecklistStep.objects.filter(predicate="").first()
    ChecklistStep.objects.filter(predicate="").exclude(pk=keep.pk).update(is_active=False)
    count_queries(client, STEPS)
    one, one_page = page_queries(client, STEPS + "?is_active__exact=1")
    few = ChecklistStep.objects.filter(is_active=True).count()
    ChecklistStep.objects.update(is_active=True)
    many, many_page = page_queries(client, STEPS + "?is_active__exact=1")
    assert ChecklistStep.objects.filter(is_active=True).count() > few + 4
    # Both pages list the steps their queries are counted over.
    assert len(changelist_rows(one_page)) == few > 0
    assert len(changelist_rows(many_page)) == ChecklistStep.objects.filter(is_active=True).count()
    assert one == many


def test_checklist_steps_listed_in_workflow_order(client, manager):
    client.force_login(manager)
    states = [step.state for step in changelist_rows(client.get(STEPS))]
    assert states == sorted(states, key=["new", "processing", "packed", "shipped", "delivered"].index)


def test_manager_reorders_and_makes_a_step_optional_in_the_list(client, manager):
    client.force_login(manager)
    response = client.get(STEPS, {"state__exact": "processing"})
    picked = ChecklistStep.objects.get(state="processing", label="Items picked")
    data = list_editable_post(response, {picked.pk: {"position": 99, "required": False}})
    response = client.post(STEPS + "?state__exact=processing", data)
    assert response.status_code == 302
    picked.refresh_from_db()
    assert (picked.position, picked.required) == (99, False)


def test_warehouse_staff_see_the_steps_but_cannot_edit_them(client, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(STEPS)
    assert response.status_code == 200
    assert response.context["cl"].formset is None
    step = ChecklistStep.objects.first()
    response = client.post(reverse("admin:orders_checkliststep_change", args=[step.pk]), {"label": "Changed"})
    assert response.status_code == 403
    assert ChecklistStep.objects.get(pk=step.pk).label == step.label


def test_step_form_offers_the_automatic_checks_and_manual(client, manager):
    client.force_login(manager)
    response = client.get(reverse("admin:orders_checkliststep_add"))
    choices = dict(response.context["adminform"].form.fields["predicate"].choices)
    assert set(Predicate.values) < set(choices)
    assert "by hand" in str(choices[""])


def test_manager_adds_a_manual_step(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("admin:orders_checkliststep_add"),
        {"state": "packed", "label": "Fragile sticker applied", "position": 30, "required": "on", "predicate": "", "is_active": "on"},
    )
    assert response.status_code == 302
    step = ChecklistStep.objects.get(label="Fragile sticker applied")
    assert (step.state, step.predicate, step.required) == ("packed", "", True)


# --- target times ---------------------------------------------------------------


def test_status_target_list_query_count_does_not_grow(client, manager):
    client.force_login(manager)
    StatusTarget.objects.exclude(status="new").delete()
    count_queries(client, TARGETS)
    one, one_page = page_queries(client, TARGETS)
    for status, hours in (("processing", 24), ("packed", 12), ("shipped", 120)):
        StatusTarget.objects.create(status=status, target_hours=hours)
    many, many_page = page_queries(client, TARGETS)
    # Both pages list the targets their queries are counted over.
    assert (len(changelist_rows(one_page)), len(changelist_rows(many_page))) == (1, 4)
    assert many == one


def test_manager_edits_target_hours_in_the_list(client, manager):
    client.force_login(manager)
    response = client.get(TARGETS)
    packed = StatusTarget.objects.get(status="packed")
    response = client.post(TARGETS, list_editable_post(response, {packed.pk: {"target_hours": 6}}))
    assert response.status_code == 302
    packed.refresh_from_db()
    assert packed.target_hours == 6


def test_service_staff_cannot_edit_target_hours(client, service_user):
    client.force_login(service_user)
    target = StatusTarget.objects.get(status="packed")
    response = client.post(reverse("admin:orders_statustarget_change", args=[target.pk]), {"status": "packed", "target_hours": 1})
    assert response.status_code == 403
    target.refresh_from_db()
    assert target.target_hours != 1
