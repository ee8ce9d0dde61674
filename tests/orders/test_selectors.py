"""Selectors. Search: what the one search box understands (classify_search) and the
orders it finds (order_search_filter)."""

import pytest

from orders.models import Order
from orders.selectors import SEARCH_MAX_LENGTH, SearchTooLong, classify_search, order_search_filter
from shipping.services import shipment_create
from tests.factories import CarrierFactory, CustomerFactory, OrderFactory

# --- search: classification ----------------------------------------------------------------


@pytest.mark.parametrize("term", ["", "   ", None, "\t\n"])
def test_an_empty_search_looks_nothing_up(term):
    assert classify_search(term) == {}


def test_a_search_of_ten_thousand_characters_is_too_long():
    with pytest.raises(SearchTooLong, match="too long"):
        classify_search("x" * 10_000)
    with pytest.raises(SearchTooLong):
        classify_search("0912345678" * 1_000)


def test_the_longest_allowed_search_is_accepted():
    assert classify_search("a" * SEARCH_MAX_LENGTH)["name"] == "a" * SEARCH_MAX_LENGTH


@pytest.mark.parametrize("term", ["Mei.Chen@Example.COM", "mei.chen@example.com", "  MEI.CHEN@EXAMPLE.COM "])
def test_an_email_in_any_case_is_looked_up_in_lower_case_and_not_as_a_name(term):
    lookups = classify_search(term)
    assert lookups["email"] == "mei.chen@example.com"
    assert "name" not in lookups and "phone" not in lookups


@pytest.mark.parametrize("term", ["0912-345-678", "+886 912 345 678", "0912345678", "(0912) 345-678"])
def test_a_phone_number_in_any_common_form_is_looked_up_by_its_digits(term):
    assert classify_search(term)["phone"] == "0912345678"


def test_short_digit_strings_are_not_phone_numbers():
    assert "phone" not in classify_search("12345")


def test_a_tracking_number_is_looked_up_without_spaces_in_upper_case():
    lookups = classify_search(" sf 1234 5678 90 ")
    assert lookups["tracking"] == "SF1234567890"
    assert "phone" not in lookups and "email" not in lookups


def test_an_order_number_is_looked_up_exactly():
    lookups = classify_search(" SO-10001 ")
    assert lookups["number"] == "SO-10001"
    assert "email" not in lookups and "phone" not in lookups


@pytest.mark.parametrize("term", ["Chen", "陳美", "mei chen"])
def test_part_of_a_name_is_looked_up_as_a_name(term):
    assert classify_search(term)["name"] == term


def test_one_chinese_character_is_a_name_and_one_latin_letter_or_punctuation_is_not():
    assert classify_search("陳")["name"] == "陳"  # a surname
    for term in ("L", "!!!", "-- --", "。"):
        assert "name" not in classify_search(term), term


@pytest.mark.parametrize("term", ["1052", "#1052", "# 1052"])
def test_a_bare_number_may_be_an_order_number_without_its_prefix(term):
    assert "SO-1052" in classify_search(term)["numbers"]


def test_six_or_more_digits_are_a_phone_or_its_ending():
    assert classify_search("477-523")["phone"] == "477523"
    assert "phone" not in classify_search("77523")


# --- search: the orders it finds ----------------------------------------------------------------


def found(term):
    return set(Order.objects.filter(order_search_filter(term)).values_list("number", flat=True))


@pytest.fixture
def orders(db):
    mei = CustomerFactory(name="陳美玲 Mei Chen", email="mei.chen@example.com", phone="0912-345-678")
    wang = CustomerFactory(name="Wang Da-wei", email="dawei@example.com", phone="+886 933 111 222")
    first = OrderFactory(number="SO-20001", customer=mei)
    second = OrderFactory(number="SO-20002", customer=mei, packed=True)
    shipment_create(order=second, carrier=CarrierFactory(), tracking_number="123456789012", actor=None)
    third = OrderFactory(number="SO-20003", customer=wang)
    return {"first": first, "second": second, "third": third}


@pytest.mark.parametrize(
    "term, numbers",
    [
        ("SO-20003", {"SO-20003"}),
        ("so-20003", {"SO-20003"}),
        ("MEI.CHEN@EXAMPLE.COM", {"SO-20001", "SO-20002"}),
        ("0912345678", {"SO-20001", "SO-20002"}),
        ("+886 912-345-678", {"SO-20001", "SO-20002"}),
        ("0933-111-222", {"SO-20003"}),
        ("1234 5678 9012", {"SO-20002"}),
        ("美玲", {"SO-20001", "SO-20002"}),
        ("da-WEI", {"SO-20003"}),
        # What callers say: a surname alone (one character), a Latin word in any
        # case, the last digits of the phone, the number without its prefix.
        ("陳", {"SO-20001", "SO-20002"}),
        ("wang", {"SO-20003"}),
        ("WANG", {"SO-20003"}),
        ("111222", {"SO-20003"}),
        ("111-222", {"SO-20003"}),
        ("20003", {"SO-20003"}),
    ],
)
def test_search_finds_orders_by_any_identifier(orders, term, numbers):
    assert found(term) == numbers


@pytest.mark.parametrize("term", ["", "   ", "nobody@example.com", "0999-999-999", "SO-99999", "Zhang"])
def test_search_that_matches_nothing_finds_nothing(orders, term):
    assert found(term) == set()


def test_a_partial_email_or_order_number_is_not_a_match(orders):
    assert found("mei.chen@example") == set()
    assert found("SO-2000") == set()
    assert found("2000") == set()  # not SO-20001: the whole number after the prefix
    assert found("0003") == set()
    assert found("11222") == set()  # 5 digits are no phone ending


def test_search_too_long_is_refused_before_any_query(orders, django_assert_num_queries):
    with django_assert_num_queries(0):
        with pytest.raises(SearchTooLong):
            order_search_filter("x" * 10_000)
