from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShippingConfig(AppConfig):
    name = "shipping"
    verbose_name = _("Shipping")

    def ready(self):
        # Register this app's export and import kinds with the reports machinery.
        from . import imports, resources  # noqa: F401

        # The shipment steps of the checklist, and shipments that follow their order
        # through the workflow: orders never imports shipping.
        from . import checks, receivers  # noqa: F401

        checks.register()
