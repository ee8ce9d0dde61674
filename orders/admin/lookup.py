"""The customer-service lookup: one search box for an order number, an e-mail, a
phone number written any way, a tracking number or part of a name, answered with
the matching customers and all their orders on one screen.

Read-only itself: each order's hold, resume, cancel, address, mark-paid and note
controls post to the order page's existing action views (admin_views.py) with a
`next` field, so the person comes back here, to the same search, afterwards.
"""

from html import escape as html_escape
from urllib.parse import quote as url_quote

from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.middleware.csrf import get_token
from django.utils.formats import number_format
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from common.permissions import has_permission
from common.text import datetime_text, person_name

from .. import workflow
from ..models import DeliveryMethod, OrderStatus, PaymentMethod, PaymentStatus
from ..selectors import (
    LOOKUP_CUSTOMER_LIMIT,
    LOOKUP_ORDER_LIMIT,
    LOOKUP_ORDERS_EACH_OF_SEVERAL,
    SEARCH_MAX_LENGTH,
    SearchTooLong,
    customer_lookup,
)
from ..services import REASON_MAX_LENGTH, REFERENCE_MAX_LENGTH
from ..text import money


def order_controls(order, perms):
    """What the lookup offers for one order, given the user's `perms` (a set of
    permission names): workflow.abilities(), as on the order page and in the services."""
    able = workflow.abilities(order, perms)
    controls = {key: able[key] for key in ("hold", "resume", "cancel", "already_shipped", "address", "mark_paid", "note")}
    # The mark-paid form differs by method (an ATM transfer needs the last five digits).
    controls["mark_paid"] = order.payment_method if controls["mark_paid"] else False
    return controls


def control_labels():
    """The summary line of an order's actions, in the order they are shown."""
    return [
        ("hold", _("Put on hold")),
        ("resume", _("Resume")),
        ("cancel", _("Cancel")),
        ("address", _("Correct address")),
        ("mark_paid", _("Mark paid")),
        ("note", _("Add a note")),
    ]




class CustomerLookupAdminMixin:
    """Adds admin:orders_order_lookup to the Order admin (list it before ModelAdmin)."""

    lookup_template = "admin/orders/order/lookup.html"
    lookup_permission = "orders.view_order"
    lookup_customer_limit = LOOKUP_CUSTOMER_LIMIT
    lookup_order_limit = LOOKUP_ORDER_LIMIT
    lookup_several_order_limit = LOOKUP_ORDERS_EACH_OF_SEVERAL

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        urls = [path("lookup/", self.admin_site.admin_view(self.lookup_view), name="%s_%s_lookup" % info)]
        return urls + super().get_urls()

    def has_lookup_permission(self, request):
        return has_permission(request.user, self.lookup_permission)

    def lookup_view(self, request):
        if not self.has_lookup_permission(request):
            raise PermissionDenied
        info = self.opts.app_label, self.opts.model_name
        term = request.GET.get("q", "").strip()
        too_long = ""
        result = None
        if term:
            try:
                result = customer_lookup(
                    term,
                    customer_limit=self.lookup_customer_limit,
                    order_limit=self.lookup_order_limit,
                    several_order_limit=self.lookup_several_order_limit,
                )
            except SearchTooLong as error:
                too_long = str(error)
        lookup_url = reverse("%s:%s_%s_lookup" % ((self.admin_site.name,) + info))
        perms = workflow.user_permissions(request.user)
        customers = []
        # Where the action views send the person back to: this search, from the top,
        # so that the message about the action is in view.
        back_url = f"{lookup_url}?{urlencode({'q': term})}"
        if result is not None:
            changelist = reverse("%s:%s_%s_changelist" % ((self.admin_site.name,) + info))
            labels = control_labels()
            render = OrderRowRenderer(request, self.admin_site.name, self.opts, back_url, REASON_MAX_LENGTH)
            # With one order on the screen, or the one the search named, its actions start open.
            single = len(result.customers) == 1 and len(result.customers[0].lookup_orders) == 1
            # What a refused form of this page held (a reason, a note): shown again, open.
            typed = self.typed_for_orders(request)  # OrderActionViewsMixin
            for customer in result.customers:
                customers.append(
                    {
                        "customer": customer,
                        "orders_url": f"{changelist}?{urlencode({'customer__id__exact': customer.pk})}",
                        "orders": [
                            render(self._lookup_row(order, perms, labels, result.matched_order_ids, single, typed))
                            for order in customer.lookup_orders
                        ],
                    }
                )
                customers[-1]["html"] = render.customer(customers[-1])
        context = {
            **self.admin_site.each_context(request),
            "title": _("Find a customer or order"),
            "subtitle": None,
            "opts": self.opts,
            "term": term[:SEARCH_MAX_LENGTH],
            "searched": bool(term) and not too_long,
            "too_long": too_long,
            "customers": customers,
            "more_customers": result.more_customers if result else False,
            "customer_limit": self.lookup_customer_limit,
            "max_length": SEARCH_MAX_LENGTH,
            "reason_max_length": REASON_MAX_LENGTH,
            "back_url": back_url,
            "media": self.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.lookup_template, context)

    def _lookup_row(self, order, perms, labels, matched_order_ids, single, typed=None):
        controls = order_controls(order, perms)
        typed = (typed or {}).get(order.pk, {})
        return {
            "order": order,
            "matched": order.pk in matched_order_ids,
            "open": single or order.pk in matched_order_ids or bool(typed),
            "typed": typed,
            "latest_event": order.latest_events[0] if order.latest_events else None,
            "shipments": list(order.shipments.all()),
            "open_returns": getattr(order, "open_returns", []),
            "controls": controls,
            "has_controls": any(controls.values()),
            "control_labels": [label for code, label in labels if controls[code]],
        }


_BREAK = "\n        "


def _e(value):
    """conditional_escape() without its lazy-string wrapper (a tenth of its cost):
    safe HTML as it is, anything else escaped."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html_escape(str(value))


class OrderRowRenderer:
    """The HTML of one order of the lookup (a <tbody>: its details, and its action
    forms), written in Python rather than by an included template: a name search
    shows up to 20 customers with 10 orders each, and the template engine took
    0.7 ms an order (a URL, a CSRF field and a dozen translations each), most of
    the page's time. What does not change between rows (URL patterns, labels, the
    CSRF field) is worked out once per page; every value is escaped (_e)."""

    _MARK = "0123456789876543210"
    _ACTIONS = ("change", "hold", "resume", "cancel", "address", "mark_paid", "note")

    def __init__(self, request, admin_site_name, opts, back_url, reason_max_length):
        info = opts.app_label, opts.model_name
        self.urls = {}
        for action in self._ACTIONS:
            url = reverse(f"{admin_site_name}:%s_%s_{action}" % info, args=[self._MARK])
            self.urls[action] = _e(url).split(self._MARK)
        self.hidden = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{_e(get_token(request))}">'
            f"\n          "
            f'<input type="hidden" name="next" value="{_e(back_url)}">'
        )
        self.back_query = _e(url_quote(back_url, safe=""))
        self.reason_max = _e(reason_max_length)
        self.labels = {
            name: {value: _e(label) for value, label in choices.choices}
            for name, choices in (
                ("status", OrderStatus),
                ("payment", PaymentStatus),
                ("method", PaymentMethod),
                ("delivery", DeliveryMethod),
            )
        }
        self.text = {
            key: _e(text)
            for key, text in {
                "found": _("matches your search"),
                "split_from": _("Split from"),
                "not_shipped": _("Not shipped yet"),
                "already_shipped": _("Already shipped — request a return instead."),
                "hold_placeholder": _("Reason for the hold"),
                "hold": _("Put on hold"),
                "resume": _("Resume"),
                "cancel_placeholder": _("Reason for cancelling"),
                "cancel": _("Cancel order"),
                "address": _("Correct shipping address"),
                "mark_paid": _("Mark paid"),
                "atm_placeholder": _("Last 5 digits of the account"),
                "reference_placeholder": _("Reference (optional)"),
                "note_placeholder": _("Note"),
                "note": _("Add note"),
            }.items()
        }
        # The columns of the orders table; on a phone each cell is a line of the
        # order's card, its column's name above it (data-label, lookup.css).
        self.columns = {
            key: _e(label)
            for key, label in (
                ("order", _("Order")),
                ("status", _("Status")),
                ("placed", _("Placed")),
                ("total", _("Total")),
                ("items", _("Items")),
                ("ship_to", _("Ship to")),
                ("event", _("Latest event")),
                ("shipments", _("Shipments")),
            )
        }
        self.system = _("system")
        self.action_shapes = {}
        self.more_items = {}
        # Translated once per page, filled in per row.
        self.formats = {
            "who_when": _("%(who)s, %(when)s"),
            "hold_label": _("Reason to put %(number)s on hold"),
            "cancel_label": _("Reason to cancel %(number)s"),
            "note_label": _("Note on %(number)s"),
            "atm_label": _("Last 5 digits of the transfer account for %(number)s"),
            "reference_label": _("Payment reference for %(number)s (optional)"),
            "reference": _("reference %(reference)s"),
            "refund_due": _("Refund due: %(amount)s"),
            "actions": _("Actions for %(number)s"),
            "return": _("Return #%(number)s waiting to be received"),
        }

    def url(self, action, pk):
        head, tail = self.urls[action]
        return f"{head}{pk if pk == self._PK else _e(quote(pk))}{tail}"

    def __call__(self, row):
        """`row` (from _lookup_row) with its HTML as row["html"]."""
        row["html"] = mark_safe(self._html(row))
        return row

    def _html(self, row):
        order, text, labels, column = row["order"], self.text, self.labels, self.columns
        found = f'<span class="lookup-order__found">{text["found"]}</span>' if row["matched"] else ""
        split_from = getattr(order, "split_from_number", "")
        if split_from:
            found += (
                f'\n      <div class="order-muted lookup-order__split">{text["split_from"]} '
                f'<a href="{self.url("change", order.split_from_id)}">{_e(split_from)}</a></div>'
            )
        parts = [
            f'<tbody id="order-{order.pk}" class="lookup-order{" lookup-order--matched" if row["matched"] else ""}">\n'
            f'  <tr class="lookup-order__info">\n    <th scope="row">\n'
            f'      <a class="lookup-order__number" href="{self.url("change", order.pk)}">{_e(order.number)}</a>\n'
            f"      {found}\n    </th>\n"
            f'    <td data-label="{column["status"]}">\n'
            f'      <span class="order-badge order-badge--{_e(order.status)}">'
            f"{labels['status'].get(order.status) or _e(order.status)}</span>\n"
            f'      <span class="order-badge order-badge--payment-{_e(order.payment_status)}">'
            f"{labels['payment'].get(order.payment_status) or _e(order.payment_status)}</span>\n"
            f"      {self._payment(order)}\n    </td>\n"
            f'    <td class="order-nowrap" data-label="{column["placed"]}">{datetime_text(order.placed_at)}</td>\n'
            f'    <td class="order-total" data-label="{column["total"]}">'
            f"{_e(order.currency)} {_e(number_format(order.total, 2, force_grouping=True))}</td>\n"
            f'    <td class="lookup-order__items" data-label="{column["items"]}">\n      {self._items(order)}\n    </td>\n'
            f'    <td data-label="{column["ship_to"]}">\n      {_e(order.ship_name)}, {_e(order.ship_city)}\n'
            f'      <div class="order-muted">'
            f"{labels['delivery'].get(order.delivery_method) or _e(order.delivery_method)}</div>\n"
            f"{self._store(order)}    </td>\n"
        ]
        event = row["latest_event"]
        if event is not None:
            who = person_name(event.actor) or self.system
            when = self.formats["who_when"] % {"who": who, "when": datetime_text(event.created_at)}
            parts.append(
                f'    <td class="lookup-order__event" data-label="{column["event"]}">\n      {_e(event.describe())}\n'
                f'      <div class="order-muted">{_e(when)}</div>\n    </td>\n'
            )
        else:
            parts.append(f'    <td class="lookup-order__event" data-label="{column["event"]}">\n      —\n    </td>\n')
        shipments = []
        for shipment in row["shipments"]:
            number, url = _e(shipment.tracking_number), shipment.tracking_url
            if url:
                number = f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{number}</a>'
            shipments.append(
                f'<div class="lookup-shipment">\n          {_e(shipment.carrier.name)}\n          {number}\n'
                f'          <span class="order-badge order-badge--shipment-{_e(shipment.status)}">'
                f"{self._shipment_status(shipment)}</span>\n        </div>"
            )
        if not shipments:
            shipments = [f'<span class="order-muted">{text["not_shipped"]}</span>']
        for record in row["open_returns"]:
            head = self.formats["return"] % {"number": record.pk}
            lines = ", ".join(f"{_e(line.quantity)} × {_e(line.order_line.sku)}" for line in record.lines.all())
            shipments.append(
                f'<div class="lookup-return">\n          '
                f'<span class="order-badge order-badge--return-open">{_e(head)}</span>\n'
                f"          {lines}\n        </div>"
            )
        parts.append(
            f'    <td data-label="{column["shipments"]}">\n      {_BREAK.join(shipments)}\n    </td>\n  </tr>\n'
        )
        if row["has_controls"]:
            parts.append(self._actions(row, order))
        parts.append("</tbody>")
        return "".join(parts)

    def _payment(self, order):
        """The method (and reference) under the payment badge, and what is owed back."""
        method = self.labels["method"].get(order.payment_method) or _e(order.payment_method)
        if order.payment_reference:
            method = f"{method} · {_e(self.formats['reference'] % {'reference': order.payment_reference})}"
        parts = [f'<div class="order-muted">{method}</div>']
        due = getattr(order, "lookup_refund_due", None)
        if due:
            text = self.formats["refund_due"] % {"amount": money(due, order.currency)}
            parts.append(f'<span class="order-badge order-badge--refund-due">{_e(text)}</span>')
        return "".join(parts)

    def customer(self, entry):
        """The HTML of one customer's section: contact details and the orders
        (entry["orders"], rows already rendered by this renderer)."""
        if "headers" not in self.text:
            numeric = ' class="order-num"'
            cells = [
                f'<th scope="col"{numeric if key == "total" else ""}>{name}</th>' for key, name in self.columns.items()
            ]
            self.text["headers"] = "\n          ".join(cells)
            self.text["contact"] = [_e(name) for name in (_("E-mail"), _("Phone"), _("Language"), _("Orders"))]
            self.text["no_orders"] = _e(_("This customer has no orders."))
            self.formats["showing"] = _("Showing %(shown)s of %(total)s orders (the newest, and any your search found).")
            self.formats["see_all"] = _("See all %(total)s orders in the order list")
            self.labels["language"] = {value: _e(label) for value, label in type(entry["customer"]).Language.choices}
        customer, text = entry["customer"], self.text
        pk = customer.pk
        email = f'<a href="mailto:{_e(customer.email)}">{_e(customer.email)}</a>' if customer.email else "—"
        phone = f'<a href="tel:{_e(customer.phone_digits)}">{_e(customer.phone)}</a>' if customer.phone else "—"
        language = self.labels["language"].get(customer.language) or _e(customer.language)
        values = [email, phone, language, _e(customer.order_count)]
        contact = "\n    ".join(
            f"<div><dt>{label}</dt><dd>{value}</dd></div>" for label, value in zip(text["contact"], values)
        )
        parts = [
            f'<section class="module lookup-customer" id="customer-{pk}" aria-labelledby="customer-{pk}-name">\n'
            f'  <h2 id="customer-{pk}-name">{_e(customer.name)}</h2>\n'
            f'  <dl class="lookup-contact">\n    {contact}\n  </dl>\n'
        ]
        if entry["orders"]:
            rows = "\n      ".join(row["html"] for row in entry["orders"])
            parts.append(
                f'  <table class="lookup-orders">\n      <thead>\n        <tr>\n          {text["headers"]}\n'
                f"        </tr>\n      </thead>\n      {rows}\n    </table>\n"
            )
            if customer.more_orders:
                showing = self.formats["showing"] % {"shown": len(entry["orders"]), "total": customer.order_count}
                see_all = self.formats["see_all"] % {"total": customer.order_count}
                parts.append(
                    f'    <p class="lookup-more-orders">\n      {_e(showing)}\n'
                    f'      <a href="{_e(entry["orders_url"])}">{_e(see_all)}</a>\n    </p>\n'
                )
        else:
            parts.append(f'    <p class="lookup-more-orders">{text["no_orders"]}</p>\n')
        parts.append("</section>")
        return mark_safe("".join(parts))

    @staticmethod
    def _store(order):
        """The pickup store of a convenience-store pickup, under its delivery method."""
        store = order.pickup_store_text
        return f'      <div class="lookup-order__store">{_e(store)}</div>\n' if store else ""

    def _items(self, order):
        """What was ordered (order.lookup_items, customer_lookup): "2 × name" with the
        SKU under it, a line each, then how many more lines there are."""
        items = [
            f'<li><span class="lookup-item__quantity">{_e(item.quantity)} ×</span> {_e(item.product_name)}'
            f' <span class="lookup-item__sku">{_e(item.sku)}</span></li>'
            for item in order.lookup_items
        ]
        if not items:
            return "—"
        more = order.item_count - len(items)
        if more > 0:
            if more not in self.more_items:
                self.more_items[more] = _e(
                    ngettext("and %(count)s more line", "and %(count)s more lines", more) % {"count": more}
                )
            items.append(f'<li class="order-muted">{self.more_items[more]}</li>')
        return f'<ul class="lookup-items">{"".join(items)}</ul>'

    def _shipment_status(self, shipment):
        """shipment.get_status_display(), escaped, from labels read once a page (that
        method builds a dict of every choice each time; the shipping app's model is
        not imported here)."""
        if "shipment" not in self.labels:
            choices = type(shipment)._meta.get_field("status").flatchoices
            self.labels["shipment"] = {value: _e(label) for value, label in choices}
        return self.labels["shipment"].get(shipment.status) or _e(shipment.status)

    def _form(self, action, pk, body, css="lookup-action"):
        return (
            f'<form method="post" action="{self.url(action, pk)}" class="{css}">{self.hidden}\n'
            f"          {body}\n        </form>"
        )

    def _input(self, name, maxlength, placeholder, label, value=""):
        shown = f' value="{_e(value)}"' if value else ""
        return (
            f'<input type="text" name="{name}" required maxlength="{maxlength}" placeholder="{placeholder}" '
            f'aria-label="{_e(label)}"{shown}>'
        )

    @staticmethod
    def _kept(value):
        return f' value="{_e(value)}"' if value else ""

    @staticmethod
    def _button(label, css="button"):
        return f'<button type="submit" class="{css}">{label}</button>'

    # Stand-ins for an order's key and number in the action forms' HTML, which is
    # otherwise the same for every order with the same controls: it is written once
    # per combination and page, then each order's values (escaped) are put in.
    _PK, _NUMBER = "\ue000", "\ue001"

    def _actions(self, row, order):
        if row.get("typed"):  # the order whose form was refused: its own values, once
            return self._actions_html(row, order.pk, order.number)
        key = (tuple(row["controls"].items()), row["open"], tuple(row["control_labels"]))
        shape = self.action_shapes.get(key)
        if shape is None:
            shape = self.action_shapes[key] = self._actions_html(row, self._PK, self._NUMBER)
        return shape.replace(self._PK, _e(quote(order.pk))).replace(self._NUMBER, _e(order.number))

    def _actions_html(self, row, pk, number):
        controls, text = row["controls"], self.text
        typed = row.get("typed") or {}

        def kept(action, field):
            return typed.get(action, {}).get(field, "")

        forms = []
        if controls["hold"]:
            label = self.formats["hold_label"] % {"number": number}
            reason = self._input("reason", self.reason_max, text["hold_placeholder"], label, kept("hold", "reason"))
            forms.append(self._form("hold", pk, f"{reason}\n          {self._button(text['hold'])}"))
        if controls["resume"]:
            forms.append(self._form("resume", pk, self._button(text["resume"])))
        if controls["cancel"]:
            label = self.formats["cancel_label"] % {"number": number}
            reason = self._input("reason", self.reason_max, text["cancel_placeholder"], label, kept("cancel", "reason"))
            button = self._button(text["cancel"], "button order-button--danger")
            forms.append(self._form("cancel", pk, f"{reason}\n          {button}"))
        if controls["address"]:
            forms.append(
                f'<a class="button lookup-action" href="{self.url("address", pk)}?next={self.back_query}">'
                f"{text['address']}</a>"
            )
        if controls["mark_paid"] == PaymentMethod.ATM:
            label = self.formats["atm_label"] % {"number": number}
            reference = (
                f'<input type="text" name="reference" required inputmode="numeric" pattern="[0-9]{{5}}" maxlength="5" '
                f'placeholder="{text["atm_placeholder"]}" aria-label="{_e(label)}"{self._kept(kept("mark_paid", "reference"))}>'
            )
            forms.append(self._form("mark_paid", pk, f"{reference}\n          {self._button(text['mark_paid'])}"))
        elif controls["mark_paid"]:
            label = self.formats["reference_label"] % {"number": number}
            reference = (
                f'<input type="text" name="reference" maxlength="{REFERENCE_MAX_LENGTH}" '
                f'placeholder="{text["reference_placeholder"]}" aria-label="{_e(label)}"'
                f'{self._kept(kept("mark_paid", "reference"))}>'
            )
            forms.append(self._form("mark_paid", pk, f"{reference}\n          {self._button(text['mark_paid'])}"))
        if controls["note"]:
            note_label = self.formats["note_label"] % {"number": number}
            note = self._input("text", 2000, text["note_placeholder"], note_label, kept("note", "text"))
            body = f"{note}\n          {self._button(text['note'])}"
            forms.append(self._form("note", pk, body, css="lookup-action lookup-action--note"))
        head = _e(self.formats["actions"] % {"number": number})
        summary = [f'<span class="lookup-summary__head">{head}</span>']
        if row["control_labels"]:
            summary.append(f'<span class="lookup-summary__list">{_e(" · ".join(row["control_labels"]))}</span>')
        if controls["already_shipped"]:
            summary.append(f'<span class="lookup-action__why">{text["already_shipped"]}</span>')
        return (
            f'  <tr class="lookup-order__actions">\n    <td colspan="8">\n'
            f'      <details{" open" if row["open"] else ""}>\n      <summary>\n'
            f"        {_BREAK.join(summary)}\n      </summary>\n"
            f'      <div class="lookup-action-forms">\n        {_BREAK.join(forms)}\n      </div>\n'
            f"      </details>\n    </td>\n  </tr>\n"
        )
