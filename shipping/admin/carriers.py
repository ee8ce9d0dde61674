"""Carriers: managers add and edit them, with the tracking-number format and link and
the delivery methods each serves (a fresh install starts with Taiwan's carriers:
shipping/defaults.py, loaded by a migration)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from common.admin import KeepHistoryAdminMixin

from ..models import Carrier
from ..tracking import validate_tracking_number_pattern


class CarrierForm(forms.ModelForm):
    class Meta:
        model = Carrier
        fields = [
            "code",
            "name",
            "tracking_url_template",
            "tracking_number_pattern",
            "serves_home",
            "serves_store_pickup",
            "store_chain",
            "serves_express",
            "is_active",
        ]

    def clean_tracking_number_pattern(self):
        # RE2, as the matching does (shipping/tracking.py): a pattern that could make
        # the matching backtrack for ever cannot be written in RE2's syntax.
        pattern = self.cleaned_data["tracking_number_pattern"].strip()
        validate_tracking_number_pattern(pattern)
        return pattern

    def clean_tracking_url_template(self):
        template = self.cleaned_data["tracking_url_template"].strip()
        if template and "{tracking_number}" not in template:
            raise forms.ValidationError(_("Put {tracking_number} where the tracking number goes in the address."))
        if template and not template.startswith(("https://", "http://")):
            raise forms.ValidationError(_("The address must start with https:// or http://."))
        return template


@admin.register(Carrier)
class CarrierAdmin(KeepHistoryAdminMixin, admin.ModelAdmin):
    form = CarrierForm
    list_display = [
        "name",
        "code",
        "served_methods",
        "tracking_number_pattern",
        "tracking_number_format",
        "tracking_url_template",
        "is_active",
    ]
    list_filter = ["is_active", "serves_home", "serves_store_pickup", "store_chain", "serves_express"]
    search_fields = ["code", "name"]
    # How staff are told the pattern, read back to the manager who wrote it.
    readonly_fields = ["tracking_number_format"]
    fieldsets = [
        (None, {"fields": ["code", "name", "tracking_url_template", "tracking_number_pattern", "tracking_number_format", "is_active"]}),
        (
            gettext_lazy("Delivery methods served"),
            {
                "fields": ["serves_home", "serves_store_pickup", "store_chain", "serves_express"],
                "description": gettext_lazy(
                    "A shipment with this carrier is accepted only for orders sent by a method it serves; "
                    "for convenience-store pickup, only to the stores of its chain."
                ),
            },
        ),
    ]

    @admin.display(description=gettext_lazy("serves"))
    def served_methods(self, carrier):
        return carrier.served_methods_text or "—"

    @admin.display(description=gettext_lazy("format shown to staff"))
    def tracking_number_format(self, carrier):
        if not carrier.pk and not carrier.tracking_number_pattern:
            return "—"
        return carrier.tracking_number_format or _("Any tracking number (no pattern).")
