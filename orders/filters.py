"""Which orders a report covers: one FilterSet for the admin export, the dashboard
and the `export_csv` command, so "the orders in this report" has one definition."""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inventory.models import Warehouse
from reports.filters import PeriodFilterSet

from .models import DeliveryMethod, Order, OrderStatus, PaymentMethod, PaymentStatus, StatusTarget

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def status_target_deltas():
    from datetime import timedelta

    return {status: timedelta(hours=hours) for status, hours in StatusTarget.objects.values_list("status", "target_hours")}


def overdue_q(targets, now):
    """Orders that have been in their state longer than its target (None: no targets)."""
    import operator
    from functools import reduce

    from django.db.models import Q

    conditions = [Q(status=status, status_changed_at__lt=now - target) for status, target in targets.items()]
    return reduce(operator.or_, conditions) if conditions else None


def _shipment_model():
    # Shipments belong to the shipping app, which depends on this one: reach the
    # model through the reverse relation instead of importing it.
    return Order._meta.get_field("shipments").related_model


def _carriers(request=None):
    return _shipment_model()._meta.get_field("carrier").related_model.objects.order_by("name")


class OrderReportFilter(PeriodFilterSet):
    """Orders by status, placed date (since/until, or this or last month), warehouse,
    carrier, payment, delivery method and whether they are past their target time."""

    date_field = "placed_at"

    status = django_filters.ChoiceFilter(label=_("status"), choices=OrderStatus.choices)
    warehouse = django_filters.ModelChoiceFilter(
        label=_("warehouse"), queryset=Warehouse.objects.order_by("priority", "code"), to_field_name="code"
    )
    carrier = django_filters.ModelChoiceFilter(
        label=_("carrier"), queryset=_carriers, to_field_name="code", method="filter_carrier"
    )
    payment_status = django_filters.ChoiceFilter(label=_("payment"), choices=PaymentStatus.choices)
    payment_method = django_filters.ChoiceFilter(label=_("payment method"), choices=PaymentMethod.choices)
    delivery_method = django_filters.ChoiceFilter(label=_("delivery method"), choices=DeliveryMethod.choices)
    overdue = django_filters.ChoiceFilter(label=_("past the target time"), choices=YES_NO, method="filter_overdue")

    class Meta(PeriodFilterSet.Meta):
        model = Order
        fields = []

    def filter_carrier(self, queryset, name, carrier):
        shipments = _shipment_model().objects.filter(carrier=carrier).exclude(status="cancelled")
        return queryset.filter(pk__in=shipments.values("order_id"))

    def filter_overdue(self, queryset, name, value):
        q = overdue_q(status_target_deltas(), timezone.now())
        if q is None:
            return queryset.none() if value == "yes" else queryset
        return queryset.filter(q) if value == "yes" else queryset.exclude(q)
