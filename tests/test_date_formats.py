"""Dates and times in one format on every page staff read (fulfilment_site/formats):
"2026-11-20 17:30" in the configured time zone (Asia/Taipei), "2026-11-20" for a day,
in English and in Chinese; never the admin's "Nov. 20, 2026, 5:30 p.m." beside it."""

import re
from datetime import datetime, timezone

import pytest
from django.conf import settings
from django.urls import reverse

from common.text import date_text, datetime_text
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

PLACED = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)  # 17:30 in Taipei
OTHER_FORMATS = re.compile(
    r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}|a\.m\.|p\.m\.|\d{4}年|上午|下午"
    r"|\d{4}/\d{1,2}/\d{1,2}|\d{1,2}/\d{1,2}/\d{4}"
)
DATETIME = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}\b")


def visible_text(html):
    """The page without its scripts and styles (where other digits may sit)."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)


def test_the_helpers_use_the_configured_time_zone():
    assert settings.TIME_ZONE == "Asia/Taipei"
    assert datetime_text(PLACED) == "2026-11-20 17:30"
    assert date_text(datetime(2026, 11, 20, 20, 0, tzinfo=timezone.utc)) == "2026-11-21"  # 04:00 next day in Taipei


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_the_order_page_and_the_lists_show_one_format(client, manager, language):
    order = OrderFactory(processing=True, shipped=False, placed_at=PLACED)
    client.force_login(manager)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language

    page = visible_text(client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode())
    assert "2026-11-20 17:30" in page  # the "placed" field
    event = order.events.earliest("created_at")
    assert datetime_text(event.created_at) in page  # the timeline
    assert not OTHER_FORMATS.search(page), OTHER_FORMATS.search(page)

    order_list = visible_text(client.get(reverse("admin:orders_order_changelist")).content.decode())
    assert '<span title="2026-11-20 17:30">2026-11-20</span>' in order_list
    assert not OTHER_FORMATS.search(order_list), OTHER_FORMATS.search(order_list)

    for name in ["admin:inventory_stockmovement_changelist", "admin:orders_customer_changelist"]:
        listing = visible_text(client.get(reverse(name)).content.decode())
        assert DATETIME.search(listing), name
        assert not OTHER_FORMATS.search(listing), (name, OTHER_FORMATS.search(listing))


def test_the_shipment_list_and_the_customer_page(client, manager):
    order = OrderFactory(shipped=True, placed_at=PLACED)
    client.force_login(manager)
    shipments = visible_text(client.get(reverse("admin:shipping_shipment_changelist")).content.decode())
    assert datetime_text(order.shipments.get().shipped_at) in shipments
    assert not OTHER_FORMATS.search(shipments)
    customer = visible_text(client.get(reverse("admin:orders_customer_change", args=[order.customer_id])).content.decode())
    assert "2026-11-20 17:30" in customer
    assert not OTHER_FORMATS.search(customer)
