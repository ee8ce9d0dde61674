"""Permission checks shared by the services of every app.

`actor=None` means the system itself (imports, demo data, background tasks): code
paths driven by a person always pass `request.user`.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


def require_permission(actor, perm, action=None):
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(perm):
        raise PermissionDenied(
            _("You do not have permission to %(action)s.") % {"action": action or perm}
        )


def has_permission(actor, perm):
    return actor is None or (actor.is_active and actor.has_perm(perm))
