"""The tracking-number format in words (shipping/tracking.py), shown where numbers are
typed and named when one is refused."""

import pytest
from django.urls import reverse
from django.utils import translation

from shipping.models import Carrier
from shipping.services import shipment_create
from shipping.exceptions import ShippingError
from shipping.tracking import describe_pattern, tracking_number_hint, tracking_number_valid
from tests.factories import CarrierFactory, OrderFactory


@pytest.mark.parametrize(
    "pattern, words",
    [
        (r"\d{12}", "12 digits, like 123456789012"),
        (r"[A-Z]\d{11}", "1 letter, 11 digits, like A12345678901"),
        (r"^\d{10,12}$", "10 to 12 digits, like 1234567890"),
        (r"\d{14}|[A-Z]{2}\d{9}TW", "14 digits, like 12345678901234; or 2 letters, 9 digits, “TW”, like AB123456789TW"),
        (r"1Z[A-Z0-9]{16}", "“1Z”, 16 letters or digits, like 1ZA1B2C3D4E5F6G7H8"),
        (r"(?:AB-\d{4})", "“AB-”, 4 digits, like AB-1234"),
    ],
)
def test_simple_patterns_are_put_in_words_with_an_example_that_matches(pattern, words):
    assert describe_pattern(pattern) == words
    carrier = Carrier(name="X", tracking_number_pattern=pattern)
    example = words.rsplit("like ", 1)[1]
    assert tracking_number_valid(carrier, example)


@pytest.mark.parametrize("pattern", [r"\d+", r"(A+)+B", r"[^0-9]{3}", r"\d{2}(\d{3})?", ""])
def test_other_patterns_are_not_guessed_at(pattern):
    assert describe_pattern(pattern) == ""


def test_the_hint_falls_back_to_the_pattern_and_is_empty_without_one():
    assert tracking_number_hint(Carrier(tracking_number_pattern=r"\d+")) == r"matching the pattern \d+"
    assert tracking_number_hint(Carrier(tracking_number_pattern="")) == ""


def test_the_words_follow_the_language():
    with translation.override("zh-hant"):
        zh = describe_pattern(r"\d{12}")
    assert describe_pattern(r"\d{12}") == "12 digits, like 123456789012"
    assert "123456789012" in zh


@pytest.mark.django_db
def test_a_refused_number_names_the_expected_format(warehouse_user):
    order = OrderFactory(packed=True)
    with pytest.raises(ShippingError, match="“12AB” is not a valid T-Cat tracking number: expected 12 digits, like 123456789012."):
        shipment_create(order=order, carrier=CarrierFactory(), tracking_number="12ab", actor=warehouse_user)


@pytest.mark.django_db
def test_the_carrier_page_reads_the_pattern_back_to_the_manager(client, manager):
    carrier = CarrierFactory()
    client.force_login(manager)
    page = client.get(reverse("admin:shipping_carrier_change", args=[carrier.pk])).content.decode()
    assert "12 digits, like 123456789012" in page
    listing = client.get(reverse("admin:shipping_carrier_changelist")).content.decode()
    assert "12 digits, like 123456789012" in listing
