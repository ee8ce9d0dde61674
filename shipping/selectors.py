"""Reads of shipments shared by the shipment list and its export."""

from django.db.models import Q

from .tracking import normalise_tracking_number


SEARCH_MAX_LENGTH = 64


class SearchTooLong(ValueError):
    pass


def shipment_search(queryset, term):
    """Exact tracking number (as typed or as stored: upper case, no spaces) or order
    number; both are indexed. Shared by the shipment list and its export."""
    term = (term or "").strip()
    if not term:
        return queryset
    if len(term) > SEARCH_MAX_LENGTH:
        raise SearchTooLong(term)
    normalised = normalise_tracking_number(term)
    return queryset.filter(Q(tracking_number=normalised) | Q(order__number=term) | Q(order__number=term.upper()))
