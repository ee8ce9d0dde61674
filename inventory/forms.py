"""Forms of the stock pages. They only read and validate input; the services write."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import StockLevel, Warehouse, clean_location
from .selectors import product_for_code


class ProductCodeField(forms.CharField):
    """A product typed or scanned: its SKU (any case) or its barcode."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 64)
        kwargs.setdefault("label", _("Product"))
        kwargs.setdefault("help_text", _("Scan the barcode or type the SKU."))
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "class": "vTextField"})
        )
        super().__init__(**kwargs)

    def clean(self, value):
        code = super().clean(value).strip()
        product = product_for_code(code)
        if product is None:
            raise forms.ValidationError(_("No product has the SKU or barcode “%(code)s”."), params={"code": code})
        if not product.is_active:
            raise forms.ValidationError(_("%(sku)s is not an active product."), params={"sku": product.sku})
        return product


class StockFormBase(forms.Form):
    product = ProductCodeField()
    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=Warehouse.objects.filter(is_active=True))
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        warehouses = self.fields["warehouse"].queryset
        if len(warehouses) == 1 and not self.initial.get("warehouse"):
            self.initial["warehouse"] = warehouses[0].pk
        if self.initial.get("product"):
            # Opened from a product or stock row: the quantity is what is left to type.
            self.fields["product"].widget.attrs.pop("autofocus", None)
            self.fields[self.field_order[2]].widget.attrs["autofocus"] = True


class StockReceiveForm(StockFormBase):
    quantity = forms.IntegerField(label=_("Quantity received"), min_value=1, max_value=1_000_000)
    field_order = ["product", "warehouse", "quantity", "note"]

    def service_kwargs(self):
        data = self.cleaned_data
        return {"product": data["product"], "warehouse": data["warehouse"], "quantity": data["quantity"], "note": data["note"]}


class StockCountForm(StockFormBase):
    on_hand = forms.IntegerField(
        label=_("Counted quantity"),
        min_value=0,
        max_value=1_000_000,
        help_text=_("What is on the shelf now, including units reserved for orders."),
    )
    field_order = ["product", "warehouse", "on_hand", "note"]

    def service_kwargs(self):
        data = self.cleaned_data
        return {"product": data["product"], "warehouse": data["warehouse"], "on_hand": data["on_hand"], "note": data["note"]}


class StockLevelLocationForm(forms.ModelForm):
    """The stock level's admin page edits only its bin location."""

    class Meta:
        model = StockLevel
        fields = ["location"]
        error_messages = {
            "location": {
                "max_length": _("A location can be at most %(limit_value)d characters, like A-03-2; this one has %(show_value)d.")
            }
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "location" in self.fields:
            self.fields["location"].widget.attrs.setdefault("placeholder", "A-03-2")

    def clean_location(self):
        return clean_location(self.cleaned_data.get("location"))
