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
    number only. The ledger grows without end: the products and orders the term names
    are looked up first (their unique indexes), then the ledger's rows by product and
    by order (its product and order indexes). An OR of conditions on the joined
    product and order tables could use neither, and would read the whole ledger."""
    term = _term(term)
    if not term:
        return queryset
    codes = sorted({term, term.upper()})
    product_ids = list(
        Product.objects.filter(Q(sku__in=codes) | Q(barcode=term)).order_by().values_list("pk", flat=True)
    )
    # The orders app sits above this one: reach Order through the ledger's relation.
    order_model = queryset.model._meta.get_field("order").related_model
    order_ids = list(order_model._default_manager.filter(number__in=codes).order_by().values_list("pk", flat=True))
    if not product_ids and not order_ids:
        return queryset.none()
    return queryset.filter(Q(product_id__in=product_ids) | Q(order_id__in=order_ids))


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
