"""Records that history points to (products, warehouses, carriers, customers) are
not deleted once orders, shipments or stock movements refer to them: no "Delete
selected", no delete button, and the delete page refuses with a message. One that
nothing refers to yet can still be deleted by whoever may delete it."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from inventory.models import Product, Warehouse
from orders.models import Customer
from shipping.models import Carrier
from tests.factories import (
    CarrierFactory,
    CustomerFactory,
    OrderFactory,
    ProductFactory,
    UserFactory,
    WarehouseFactory,
)

pytestmark = pytest.mark.django_db


def used_product():
    return OrderFactory(processing=True).lines.get().product


def used_warehouse():
    return OrderFactory(processing=True).warehouse


def used_carrier():
    return OrderFactory(shipped=True).shipments.get().carrier


def used_customer():
    return OrderFactory().customer


CASES = {
    "product": (Product, used_product, ProductFactory, "stock levels, stock movements, order lines"),
    "warehouse": (Warehouse, used_warehouse, WarehouseFactory, "stock levels, stock movements, orders"),
    "carrier": (Carrier, used_carrier, CarrierFactory, "shipments"),
    "customer": (Customer, used_customer, CustomerFactory, "orders"),
}


def url(model, view, obj=None):
    opts = model._meta
    name = f"admin:{opts.app_label}_{opts.model_name}_{view}"
    return reverse(name, args=[obj.pk]) if obj is not None else reverse(name)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_no_delete_selected_for_anyone(client, manager, superuser, case):
    model, _used, factory, _names = CASES[case]
    factory()
    for user in (manager, superuser):
        client.force_login(user)
        response = client.get(url(model, "changelist"))
        assert response.status_code == 200
        action_form = response.context["action_form"]  # None when the list has no action left
        assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_record_with_history_cannot_be_deleted(client, superuser, case):
    model, used, _factory, names = CASES[case]
    obj = used()
    client.force_login(superuser)

    change = client.get(url(model, "change", obj))
    assert change.status_code == 200
    assert url(model, "delete", obj) not in change.content.decode()  # no delete button

    for method in (client.get, client.post):
        response = method(url(model, "delete", obj), {"post": "yes"} if method == client.post else None)
        assert response.status_code == 302
        assert response["Location"] == url(model, "change", obj)
        [text] = [str(m) for m in get_messages(response.wsgi_request)._queued_messages]
        assert text.startswith(f"“{obj}” cannot be deleted: {names} refer to it")
    assert model.objects.filter(pk=obj.pk).exists()
    page = client.get(url(model, "change", obj)).content.decode()
    assert "cannot be deleted" in page


def test_the_message_suggests_deactivating_where_records_have_an_active_flag(client, manager):
    product = used_product()
    client.force_login(manager)
    [text] = [str(m) for m in get_messages(client.post(url(Product, "delete", product), {"post": "yes"}).wsgi_request)]
    assert text.endswith("Untick “active” instead to stop using it.")


@pytest.mark.parametrize("case", ["product", "warehouse", "carrier"])
def test_a_manager_still_deletes_an_unused_record(client, manager, case):
    model, _used, factory, _names = CASES[case]
    obj = factory()
    client.force_login(manager)
    assert client.get(url(model, "delete", obj)).status_code == 200
    response = client.post(url(model, "delete", obj), {"post": "yes"})
    assert response.status_code == 302
    assert not model.objects.filter(pk=obj.pk).exists()


def test_managers_do_not_delete_customers_at_all(client, manager):
    customer = CustomerFactory()
    client.force_login(manager)
    assert client.post(url(Customer, "delete", customer), {"post": "yes"}).status_code == 403
    assert Customer.objects.filter(pk=customer.pk).exists()
