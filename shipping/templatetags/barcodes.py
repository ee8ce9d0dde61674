from django import template
from django.utils.safestring import mark_safe

from shipping.barcodes import code128_svg

register = template.Library()


@register.simple_tag
def code128(value, height=None):
    """{% code128 order.number %} → the value as an inline Code128 SVG barcode.
    `height` (mm) makes the bars taller or shorter; "" when the value cannot be encoded."""
    if height is None:
        return mark_safe(code128_svg(value))
    return mark_safe(code128_svg(value, module_height=float(height)))
