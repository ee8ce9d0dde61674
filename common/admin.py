"""Admin mixins shared by the apps."""


class ReadOnlyAdminMixin:
    """History and derived rows: nobody adds, changes or deletes them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
