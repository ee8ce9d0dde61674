"""Reads shared by the admin pages, the packing station and the lookup."""

from django.db.models import Prefetch
from django.utils.translation import gettext as _

from inventory.permissions import has_permission

from . import workflow
from .models import Order, OrderChecklistItem, OrderEvent
from .services import step_passed


def order_for_page(pk):
    """One order with everything its page shows, in a fixed number of queries."""
    from shipping.models import Shipment

    return (
        Order.objects.select_related("customer", "warehouse")
        .prefetch_related(
            "lines",
            Prefetch("checklist_items", queryset=OrderChecklistItem.objects.select_related("done_by")),
            Prefetch("shipments", queryset=Shipment.objects.select_related("carrier")),
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("-created_at", "-id")),
        )
        .get(pk=pk)
    )


def checklist_rows(order):
    """The current state's steps as (item, done, hint), in order.

    Uses the prefetched `checklist_items`, `lines` and `shipments` of the order.
    """
    rows = []
    for item in order.checklist_items.all():
        if item.state != order.status:
            continue
        done, hint = step_passed(item, order)
        rows.append((item, done, hint))
    rows.sort(key=lambda row: (row[0].position, row[0].pk))
    return rows


def checklist_progress(rows):
    """("3/4", all_required_done) for rows from checklist_rows()."""
    required = [done for item, done, _hint in rows if item.required]
    return f"{sum(required)}/{len(required)}", all(required)


def available_actions(order, user, rows=None):
    """The transitions a user sees on the order page: each with whether it can be
    done now and, if not, why (missing steps, or no permission)."""
    rows = checklist_rows(order) if rows is None else rows
    actions = []
    for code, action in workflow.ACTIONS.items():
        if not workflow.allowed_from(code, order.status):
            continue
        label = workflow.ADVANCE_LABELS.get(order.status, action.label) if code == "advance" else action.label
        reason = ""
        if not has_permission(user, action.permission):
            reason = _("You do not have permission.")
        elif code == "advance":
            missing = [item.display_label for item, done, _hint in rows if item.required and not done]
            if missing:
                reason = _("Missing: %(steps)s") % {"steps": ", ".join(missing)}
        actions.append({"code": code, "label": label, "action": action, "enabled": not reason, "reason": reason})
    return actions


# --- search ---------------------------------------------------------------------

SEARCH_MAX_LENGTH = 200
NAME_MIN_LENGTH = 2
_PHONE_CHARS = set("0123456789+-() .")


class SearchTooLong(ValueError):
    pass


def classify_search(term):
    """What a search box entry can be: {"number", "email", "phone", "tracking", "name"}
    → the normalised value to look up. Exact identifiers use indexed columns; only
    the name is a partial match (backed by a trigram index on PostgreSQL)."""
    from .phones import normalize_phone

    term = (term or "").strip()
    if not term:
        return {}
    if len(term) > SEARCH_MAX_LENGTH:
        raise SearchTooLong(_("The search is too long (at most %(max)s characters).") % {"max": SEARCH_MAX_LENGTH})
    lookups = {"number": term, "tracking": term.upper().replace(" ", "")}
    if "@" in term:
        lookups["email"] = term.lower()
    if set(term) <= _PHONE_CHARS:
        digits = normalize_phone(term)
        if len(digits) >= 6:
            lookups["phone"] = digits
    if len(term) >= NAME_MIN_LENGTH and "@" not in term:
        lookups["name"] = term
    return lookups


SEARCH_MATCH_LIMIT = 500


def order_search_filter(term):
    """A Q over Order matching the search box entry (see classify_search).

    Each identifier is resolved first with its own indexed query, and the result is
    a Q on primary keys and customer ids. (One WHERE with OR-ed subqueries would
    make PostgreSQL scan the whole orders table.)
    """
    from django.db.models import Q

    from shipping.models import Shipment

    from .models import Customer

    lookups = classify_search(term)
    if not lookups:
        return Q(pk__in=[])
    numbers = {lookups["number"], lookups["number"].upper()}
    order_ids = set(Order.objects.filter(number__in=numbers).values_list("pk", flat=True))
    order_ids.update(
        Shipment.objects.filter(tracking_number=lookups["tracking"]).values_list("order_id", flat=True)[
            :SEARCH_MATCH_LIMIT
        ]
    )
    customer_q = Q()
    if "email" in lookups:
        customer_q |= Q(email=lookups["email"])
    if "phone" in lookups:
        customer_q |= Q(phone_digits=lookups["phone"])
    if "name" in lookups:
        # Names are matched on customers (far fewer rows than orders; a trigram
        # index on PostgreSQL), never by scanning the orders table.
        customer_q |= Q(name__icontains=lookups["name"])
    customer_ids = (
        list(Customer.objects.filter(customer_q).values_list("pk", flat=True)[:SEARCH_MATCH_LIMIT])
        if customer_q
        else []
    )
    return Q(pk__in=sorted(order_ids)) | Q(customer_id__in=customer_ids)
