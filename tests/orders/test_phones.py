"""Phone numbers as staff and customers type them are the same phone."""

import pytest

from orders.models import Customer
from orders.phones import normalize_phone


@pytest.mark.parametrize(
    "typed",
    [
        "0912-345-678",
        "0912345678",
        "+886 912 345 678",
        "+886-912-345-678",
        "00886912345678",
        "+886 0912 345 678",
        "(0912) 345 678",
        " 0912.345.678 ",
        "+886912345678",
        "00886 912-345-678",
    ],
)
def test_every_way_of_writing_a_taiwan_mobile_gives_the_same_digits(typed):
    assert normalize_phone(typed) == "0912345678"


@pytest.mark.parametrize(
    "typed, digits",
    [
        ("02-2345-6789", "0223456789"),
        ("+886 2 2345 6789", "0223456789"),
        ("+1 (415) 555-0100", "14155550100"),
        ("0044 20 7946 0958", "442079460958"),
        ("", ""),
        (None, ""),
        ("call me", ""),
    ],
)
def test_landlines_foreign_numbers_and_nothing(typed, digits):
    assert normalize_phone(typed) == digits


@pytest.mark.django_db
def test_customers_store_the_normalised_digits_and_lower_case_email():
    customer = Customer.objects.create(name="陳美玲", phone="+886 912-345-678", email=" Mei.Chen@Example.COM ")
    customer.refresh_from_db()
    assert customer.phone == "+886 912-345-678"  # shown as typed
    assert customer.phone_digits == "0912345678"
    assert customer.email == "mei.chen@example.com"

    customer.phone = "0933 111 222"
    customer.save()
    assert Customer.objects.get(pk=customer.pk).phone_digits == "0933111222"
