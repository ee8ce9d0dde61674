from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """Demo data for every app (`manage.py seed_demo`): it fills them all, so it sits
    above them all in the import order (docs/architecture.md)."""

    name = "demo"
    verbose_name = _("Demo data")
