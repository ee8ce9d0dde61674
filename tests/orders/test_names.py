"""The words a customer is found by (orders/names.py), and how they are kept when a
customer is saved, created in bulk or renamed."""

import pytest

from orders import services
from orders.models import Customer, CustomerNamePart
from orders.names import name_parts, part_key
from tests.factories import CustomerFactory, ProductFactory


@pytest.mark.parametrize(
    "name, expected",
    [
        ("林美華", {"林美華", "林", "美華"}),
        ("歐陽娜娜", {"歐陽娜娜", "歐陽", "娜娜"}),
        ("張簡志明", {"張簡志明", "張簡", "志明"}),
        ("歐陽", {"歐陽", "歐", "陽"}),  # a two-character name: surname 歐, given name 陽
        ("林 美華", {"林美華", "林", "美華"}),
        ("Wang Da-wei", {"WANGDAWEI", "WANG", "DA", "WEI", "DAWEI"}),
        ("WANG Xiao", {"WANGXIAO", "WANG", "XIAO"}),
        ("陳美玲 Mei Chen", {"陳美玲MEICHEN", "陳美玲", "陳", "美玲", "MEI", "CHEN"}),
        ("ＷＡＮＧ　小明", {"WANG小明", "WANG", "小明", "小", "明"}),  # full-width letters and space
        ("台灣大哥大股份有限公司", {"台灣大哥大股份有限公司"}),  # not a personal name: whole only
        ("", set()),
        ("!!!", set()),
    ],
)
def test_the_parts_of_a_name(name, expected):
    assert name_parts(name) == expected


def test_a_term_is_compared_as_the_parts_are():
    assert part_key(" wang ") == "WANG"
    assert part_key("Mei-hua") == "MEIHUA"
    assert part_key("林 美華") == "林美華"
    assert part_key("!!!") == ""


def parts_of(customer):
    return set(CustomerNamePart.objects.filter(customer=customer).values_list("part", flat=True))


def test_saving_a_customer_keeps_its_parts(db):
    customer = CustomerFactory(name="林美華")
    assert parts_of(customer) == {"林美華", "林", "美華"}
    customer.name = "王美華"
    customer.save()
    assert parts_of(customer) == {"王美華", "王", "美華"}
    customer.phone = "0962-477-523"
    customer.save(update_fields=["phone", "phone_digits", "phone_reversed"])
    assert parts_of(customer) == {"王美華", "王", "美華"}
    assert Customer.objects.get(pk=customer.pk).phone_reversed == "3257742690"


def test_customers_created_with_their_orders_in_bulk_get_their_parts(db):
    product = ProductFactory()
    specs = [
        {
            "number": f"SO-BULK-{index}",
            "customer": Customer(name=name, email=f"bulk{index}@example.com", phone="0962-477-523"),
            "lines": [{"product": product, "quantity": 1, "unit_price": "10.00"}],
            "ship_name": name,
            "ship_address1": "Road 1",
            "ship_city": "Taipei",
        }
        for index, name in enumerate(["林志明", "Wang Xiao"])
    ]
    services.orders_create_many(specs=specs, actor=None)
    lin = Customer.objects.get(email="bulk0@example.com")
    assert parts_of(lin) == {"林志明", "林", "志明"}
    assert parts_of(Customer.objects.get(email="bulk1@example.com")) == {"WANGXIAO", "WANG", "XIAO"}
    assert lin.phone_reversed == "3257742690"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_fills_the_parts_and_phone_endings_of_existing_customers():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("orders", "0013_status_recent_covering")], [("orders", "0014_customer_name_parts_and_phone_ending")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("orders", "Customer")
        customer = old.objects.create(name="林美華", email="lin@example.com", phone="0962-477-523", phone_digits="0962477523")
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
    customer = Customer.objects.get(pk=customer.pk)
    assert parts_of(customer) == {"林美華", "林", "美華"}
    assert customer.phone_reversed == "3257742690"
