from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        # Register this app's export and import kinds with the reports machinery.
        from . import imports, resources  # noqa: F401
