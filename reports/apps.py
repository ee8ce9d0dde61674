from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    """Exports and imports for every app: the machinery only.

    This app sits below the others (inventory, orders and shipping import it, never
    the reverse): each app registers the kinds of data it owns (its Resource,
    FilterSet, search and importer) in `reports.registry` when it is ready, and the
    commands, the admin export and import pages and the export task look kinds up
    there by name.
    """

    name = "reports"
    verbose_name = _("Reports")
