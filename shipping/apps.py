from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShippingConfig(AppConfig):
    name = "shipping"
    verbose_name = _("Shipping")

    def ready(self):
        # Register this app's export and import kinds with the reports machinery.
        from . import imports, resources  # noqa: F401
