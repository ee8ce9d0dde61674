"""Reads shared by the stock admin pages, the packing station and the exports."""

from django.db.models import Q

from .models import Product

# The longest barcode or SKU (the columns hold at most 64 characters).
CODE_MAX_LENGTH = 64


def code_means(product, code, *, line_sku=""):
    """Whether a scanned or typed `code` means `product`: its barcode exactly, or its
    SKU in any case. `line_sku` is the SKU copied onto an order line when the order
    was placed, so a SKU renamed since still finds its line. The one rule, used by
    product_for_code() and the packing station."""
    folded = code.casefold()
    return bool(product.barcode and product.barcode == code) or folded in (
        product.sku.casefold(),
        (line_sku or product.sku).casefold(),
    )


def product_for_code(code):
    """The product a scanned or typed code means (see code_means): the one with that
    barcode, else the one with that SKU (as typed first, then in any case); None when
    no product has it."""
    code = (code or "").strip()
    if not code or len(code) > CODE_MAX_LENGTH:
        return None
    by_barcode = Product.objects.filter(barcode=code).first()
    if by_barcode is not None:
        return by_barcode
    candidates = list(Product.objects.filter(sku__iexact=code).order_by("pk"))
    return next((product for product in candidates if product.sku == code), candidates[0] if candidates else None)

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
