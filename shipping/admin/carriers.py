"""Carriers: managers add and edit them, with the tracking-number format and link."""

import re

from django import forms
from django.contrib import admin
from django.utils.translation import gettext as _

from ..models import Carrier


class CarrierForm(forms.ModelForm):
    class Meta:
        model = Carrier
        fields = ["code", "name", "tracking_url_template", "tracking_number_pattern", "is_active"]

    def clean_tracking_number_pattern(self):
        pattern = self.cleaned_data["tracking_number_pattern"].strip()
        try:
            re.compile(pattern)
        except re.error as error:
            raise forms.ValidationError(
                _("This is not a valid regular expression: %(error)s"), params={"error": error}
            ) from None
        return pattern

    def clean_tracking_url_template(self):
        template = self.cleaned_data["tracking_url_template"].strip()
        if template and "{tracking_number}" not in template:
            raise forms.ValidationError(_("Put {tracking_number} where the tracking number goes in the address."))
        if template and not template.startswith(("https://", "http://")):
            raise forms.ValidationError(_("The address must start with https:// or http://."))
        return template


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    form = CarrierForm
    list_display = ["name", "code", "tracking_number_pattern", "tracking_url_template", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
