"""403 and 404 are admin pages: the admin's header and user links, breadcrumbs, a
way back, in the user's language, with the right status (DEBUG is off in tests, so
these are the pages staff see)."""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/orders/order/dashboard/"


def test_debug_is_off():
    assert settings.DEBUG is False


@pytest.mark.parametrize(
    "url",
    [DASHBOARD, reverse("admin:orders_order_export"), reverse("admin:inventory_stocklevel_count")],
)
def test_a_manager_page_opened_by_warehouse_staff_is_an_admin_403(client, warehouse_user, url):
    client.force_login(warehouse_user)
    response = client.get(url, HTTP_REFERER="http://testserver/admin/orders/order/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "Fulfilment back-office" in html  # the admin's header
    assert 'id="user-tools"' in html and "Log out" in html
    assert '<div class="breadcrumbs">' in html
    assert "<h1>No access to this page</h1>" in html
    assert f'href="{reverse("admin:index")}">Back to the start page' in html
    assert 'href="http://testserver/admin/orders/order/">Back to the previous page' in html
    assert "403 Forbidden" not in html


def test_the_views_own_reason_is_shown(client, warehouse_user):
    client.force_login(warehouse_user)
    html = client.get(DASHBOARD).content.decode()
    assert "<strong>You do not have permission to see the managers&#x27; dashboard.</strong>" in html


def test_a_link_from_another_site_is_not_offered_as_the_way_back(client, warehouse_user):
    client.force_login(warehouse_user)
    response = client.get(DASHBOARD, HTTP_REFERER="https://evil.example/")
    assert response.status_code == 403
    assert "evil.example" not in response.content.decode()
    assert "Back to the previous page" not in response.content.decode()


def test_403_in_chinese(client, warehouse_user):
    client.force_login(warehouse_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    response = client.get(DASHBOARD)
    assert response.status_code == 403
    html = response.content.decode()
    assert '<html lang="zh-hant"' in html
    assert "Fulfilment back-office" not in html  # the header in Chinese
    assert "Log out" not in html
    assert '<div class="breadcrumbs">' in html


@pytest.mark.parametrize("url", ["/admin/no-such-page/", "/no-such-page/"])
def test_an_unknown_url_is_an_admin_404(client, warehouse_user, url):
    client.force_login(warehouse_user)
    response = client.get(url)
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert "Fulfilment back-office" in html and '<div class="breadcrumbs">' in html
    assert "Back to the start page" in html


def test_a_missing_order_is_an_admin_404_saying_so(client, manager):
    client.force_login(manager)
    OrderFactory()
    response = client.post(reverse("admin:orders_order_hold", args=[999999]), {"reason": "x"})
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is no order with that ID." in html
    assert "<h1>Page not found</h1>" in html


def test_404_in_chinese_uses_the_translated_title(client, warehouse_user):
    client.force_login(warehouse_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hant"
    response = client.get("/admin/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" not in html  # Django's own translation of the title
    assert "Fulfilment back-office" not in html


def test_anonymous_visitors_still_go_to_the_login(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
