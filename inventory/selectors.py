"""Reads shared by the stock admin pages and the exports."""

from django.db.models import Q

SEARCH_MAX_LENGTH = 64


class SearchTooLong(ValueError):
    pass


def _term(term):
    term = (term or "").strip()
    if len(term) > SEARCH_MAX_LENGTH:
        raise SearchTooLong(term)
    return term


def movement_search(queryset, term):
    """The ledger's search: exact SKU (as typed or upper case), barcode or order
    number only. The ledger grows without end and these columns are indexed."""
    term = _term(term)
    if not term:
        return queryset
    return queryset.filter(
        Q(product__sku=term)
        | Q(product__sku=term.upper())
        | Q(product__barcode=term)
        | Q(order__number=term)
        | Q(order__number=term.upper())
    )


def stock_level_search(queryset, term):
    """SKU or product name (any part), or the exact barcode."""
    term = _term(term)
    if not term:
        return queryset
    return queryset.filter(
        Q(product__sku__icontains=term) | Q(product__name__icontains=term) | Q(product__barcode=term)
    )


def product_search(queryset, term):
    term = _term(term)
    if not term:
        return queryset
    return queryset.filter(Q(sku__icontains=term) | Q(name__icontains=term) | Q(barcode=term))


def warehouse_search(queryset, term):
    term = _term(term)
    if not term:
        return queryset
    return queryset.filter(Q(code__icontains=term) | Q(name__icontains=term))
