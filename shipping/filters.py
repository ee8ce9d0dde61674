"""Which shipments a report covers (the admin export and `export_csv`)."""

import django_filters
from django.utils.translation import gettext_lazy as _

from inventory.models import Warehouse
from reports.filters import PeriodFilterSet

from .models import Carrier, Shipment


class ShipmentReportFilter(PeriodFilterSet):
    """Shipments by status, the day they were booked (since/until), carrier and
    the warehouse of their order."""

    date_field = "created_at"

    status = django_filters.ChoiceFilter(label=_("status"), choices=Shipment.Status.choices)
    carrier = django_filters.ModelChoiceFilter(label=_("carrier"), queryset=Carrier.objects.order_by("name"))
    warehouse = django_filters.ModelChoiceFilter(
        label=_("warehouse"), queryset=Warehouse.objects.all(), field_name="order__warehouse"
    )

    class Meta(PeriodFilterSet.Meta):
        model = Shipment
        fields = []
