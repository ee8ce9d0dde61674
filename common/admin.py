"""Admin mixins shared by the apps."""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.db import models
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext


class LabelledListEditableMixin:
    """A list's editable cells (list_editable) get an accessible name: Django renders
    their inputs without a <label>. Each is named after its column (the field's label);
    the row is announced from the row's header cell, the link to the object."""

    def get_changelist_form(self, request, **kwargs):
        base = super().get_changelist_form(request, **kwargs)

        class LabelledForm(base):
            def __init__(self, *args, **form_kwargs):
                super().__init__(*args, **form_kwargs)
                for field in self.fields.values():
                    if not field.widget.is_hidden:
                        field.widget.attrs.setdefault("aria-label", field.label)

        return LabelledForm


class ReadOnlyAdminMixin:
    """History and derived rows: nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class KeepHistoryAdminMixin:
    """For records that history points to (products, warehouses, carriers,
    customers): orders, shipments and the stock ledger refer to them with
    on_delete=PROTECT, and deleting one would take that history with it.

    There is no "Delete selected"; a record that anything protected refers to has no
    delete button, and its delete page refuses with a message that says why and what
    to do instead. A record nothing refers to yet (added by mistake) can still be
    deleted by whoever may delete it. Each check is an EXISTS per relation, not the
    admin's list of every related row."""

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def history_of(self, obj):
        """The verbose names (plural) of the protected relations with rows for `obj`."""
        cached = getattr(obj, "_history_of", None)
        if cached is None:
            cached = [
                str(relation.related_model._meta.verbose_name_plural)
                for relation in obj._meta.related_objects
                if relation.on_delete is models.PROTECT
                and relation.related_model._base_manager.filter(**{relation.field.name: obj}).exists()
            ]
            obj._history_of = cached
        return cached

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.pk is not None and self.history_of(obj):
            return False
        return super().has_delete_permission(request, obj)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and super().has_delete_permission(request, obj) and self.history_of(obj):
            text = _("“%(name)s” cannot be deleted: %(records)s refer to it, and that history must stay.") % {
                "name": obj,
                "records": pgettext("between the items of a list", ", ").join(self.history_of(obj)),
            }
            if any(field.name == "is_active" for field in obj._meta.fields):
                text = " ".join([text, _("Untick “active” instead to stop using it.")])
            messages.error(request, text)
            opts = obj._meta
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
        return super().delete_view(request, object_id, extra_context)
