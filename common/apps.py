from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommonConfig(AppConfig):
    """Helpers every app shares: permission checks, admin mixins, input cleaning.
    The bottom of the import order (docs/architecture.md): it imports no app."""

    name = "common"
    verbose_name = _("Common")

    def ready(self):
        from . import lookups  # noqa: F401  (registers field__in_ids)
