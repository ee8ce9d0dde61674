"""The project's admin site: Django's, with a start page per role on the index and
the sections in a fixed order.

Django sorts the index's sections (and the nav sidebar's) by their translated names,
so in 繁體中文 "Orders" (訂單) would drop below the others; staff find their way by
position as much as by name, so the order is the same in every language: the work
first (orders, shipping, inventory), then reports, then everything else by name.
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.utils import timezone

SECTION_ORDER = ["orders", "shipping", "inventory", "reports"]


def section_position(app):
    label = app["app_label"]
    if label in SECTION_ORDER:
        return (SECTION_ORDER.index(label), "")
    return (len(SECTION_ORDER), str(app["name"]))


class FulfilmentAdminSite(admin.AdminSite):
    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        return sorted(apps, key=section_position)

    def index(self, request, extra_context=None):
        """The index with the start page of the user's role above the sections
        (orders.start_pages); users in no role see the plain index."""
        # Imported here: settings load this module before the apps' models exist.
        from orders.start_pages import start_page

        role, start = start_page(request.user, timezone.now())
        context = {"start_role": role, **start, **(extra_context or {})}
        return super().index(request, context)


class FulfilmentAdminConfig(AdminConfig):
    default_site = "fulfilment_site.admin_site.FulfilmentAdminSite"
