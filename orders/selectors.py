"""Reads shared by the admin pages, the packing station, the lookup and the printables."""

import re
from dataclasses import dataclass, field

from django.db.models import F, Prefetch, Sum
from django.utils.translation import gettext as _

from inventory.models import StockLevel, StockMovement, Warehouse

from . import workflow
from .checklist import step_passed
from .models import Order, OrderChecklistItem, OrderEvent, OrderLine, OrderStatus, Refund, shipment_model
from .text import quoted_list


def order_for_page(pk):
    """One order with everything its page shows, in a fixed number of queries."""
    Shipment = shipment_model()

    return (
        Order.objects.select_related("customer", "warehouse", "split_from")
        .prefetch_related(
            "lines",
            Prefetch("split_orders", queryset=Order.objects.only("pk", "number", "status", "split_from").order_by("pk")),
            Prefetch("checklist_items", queryset=OrderChecklistItem.objects.select_related("done_by")),
            # Each parcel with the units of each line it holds (the page lists them, and
            # the "shipment with a valid tracking number" step adds them up).
            Prefetch("shipments", queryset=Shipment.objects.select_related("carrier").prefetch_related("lines")),
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("-created_at", "-id")),
            Prefetch(
                "refunds",
                queryset=Refund.objects.select_related("created_by", "refunded_by").order_by("created_at", "id"),
            ),
        )
        .get(pk=pk)
    )


def live_parcel_units(order):
    """{order line id: units of it in the order's live (not cancelled) parcels}, one
    query; lines in no parcel are absent. Read through the relation the shipping app
    declares on OrderLine (orders never imports shipping)."""
    ShipmentLine = OrderLine._meta.get_field("shipment_lines").related_model
    return dict(
        ShipmentLine.objects.filter(order_line__order=order)
        .exclude(shipment__status=shipment_model().Status.CANCELLED)
        .values("order_line_id")
        .annotate(units=Sum("quantity"))
        .order_by()
        .values_list("order_line_id", "units")
    )


def split_limits(order, lines):
    """{line id: units of it that order_split would move now}: the line's quantity
    less its units in live parcels and, while scans can still be undone, its scanned
    units (the rules of order_split, for the order page's form). One query."""
    in_parcels = live_parcel_units(order)
    undoable = workflow.scans_can_be_undone(order)
    return {
        line.pk: max(
            line.quantity - max(in_parcels.get(line.pk, 0), line.quantity_scanned if undoable else 0), 0
        )
        for line in lines
    }


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


class _Step:
    """What step_passed() reads of a checklist item (list pages load no more)."""

    __slots__ = ("done_at", "predicate")

    def __init__(self, done_at, predicate):
        self.done_at, self.predicate = done_at, predicate

    is_done = OrderChecklistItem.is_done


def _attach_rows(orders, name, rows):
    """Give each of `orders` its rows of the related `name` ("lines", "shipments"),
    as prefetch_related would: order.<name>.all() then answers them without a
    query. `rows`: every row of those orders, in the order to show them. Unlike
    prefetch_related with a Prefetch queryset, no queryset is built per order."""
    found = {order.pk: [] for order in orders}
    for row in rows:
        found[row.order_id].append(row)
    cache_name = Order._meta.get_field(name).cache_name
    for order in orders:
        order.__dict__.setdefault("_prefetched_objects_cache", {})[cache_name] = found[order.pk]


class _LineRow:
    """The fields of an order line the automatic checks read (checklist.py)."""

    __slots__ = ("id", "order_id", "product_id", "sku", "quantity", "quantity_scanned")

    def __init__(self, *values):
        for name, value in zip(self.__slots__, values):
            setattr(self, name, value)


def list_checklist_progress(orders):
    """{order pk: ("3/4", all_required_done)} for the orders of a list page: what
    checklist_progress(checklist_rows(order)) says of each, in a fixed number of
    queries however many orders. Only the required steps of each order's current
    state are read (the progress counts no other), and lines, shipments and stock
    only for the orders with an automatic step still to check that reads them."""
    from .checklist import PREDICATE_READS, READS_ALL, prefetch_stock

    orders = list(orders)
    if not orders:
        return {}
    steps = {order.pk: [] for order in orders}
    for order_id, done_at, predicate in OrderChecklistItem.objects.filter(
        order_id__in=list(steps), required=True, state=F("order__status")
    ).values_list("order_id", "done_at", "predicate"):
        steps[order_id].append(_Step(done_at, predicate))
    # What the checks still to pass read (checklist.PREDICATE_READS), per order.
    reads = {}
    for order in orders:
        needed = set().union(
            *(PREDICATE_READS.get(s.predicate, READS_ALL) for s in steps[order.pk] if not s.is_done and s.predicate)
        )
        if "stock" in needed:
            needed.add("lines")  # prefetch_stock reads the lines
        reads[order.pk] = needed
    # As prefetch_related("lines", "shipments") would, in one query each, without its
    # queryset per order, and only for the orders whose checks read them:
    # order.lines.all() and order.shipments.all() give the order's rows (in each
    # model's ordering), all the checks read of them, and each shipment's parcel lines
    # (one query more). Lines as plain rows of the six fields the checks read (a page's 200 lines as model instances cost more than
    # their query).
    def reading(name):
        return [order for order in orders if name in reads[order.pk]]

    if lines_for := reading("lines"):
        rows = OrderLine.objects.filter(order_id__in=[order.pk for order in lines_for])
        _attach_rows(lines_for, "lines", (_LineRow(*values) for values in rows.values_list(*_LineRow.__slots__)))
    if shipments_for := reading("shipments"):
        shipments = shipment_model().objects.select_related("carrier").prefetch_related("lines")
        _attach_rows(shipments_for, "shipments", shipments.filter(order_id__in=[o.pk for o in shipments_for]))
    if stock_for := reading("stock"):
        prefetch_stock(stock_for)
    progress = {}
    for order in orders:
        done = [step_passed(step, order)[0] for step in steps[order.pk]]
        progress[order.pk] = (f"{sum(done)}/{len(done)}", all(done))
    return progress


def available_actions(order, user, rows=None):
    """The transitions a user sees on the order page: those the order's state allows
    and the user's role may take, each with whether it can be done now and, if not,
    why (the missing steps). An action the role can never take is left out rather
    than shown greyed out."""
    rows = checklist_rows(order) if rows is None else rows
    perms = workflow.user_permissions(user)
    actions = []
    for code, action in workflow.ACTIONS.items():
        if not workflow.allowed_from(code, order.status) or action.permission not in perms:
            continue
        label = workflow.ADVANCE_LABELS.get(order.status, action.label) if code == "advance" else action.label
        reason = ""
        if code == "advance":
            missing = [item.display_label for item, done, _hint in rows if item.required and not done]
            if missing:
                reason = _("Missing: %(steps)s") % {"steps": quoted_list(missing)}
        actions.append({"code": code, "label": label, "action": action, "enabled": not reason, "reason": reason})
    return actions


# --- the order list's status chips ------------------------------------------------

# Orders still being worked on: few at any time however many were ever placed, so
# they are counted exactly, through the (status, placed_at, id) index (at most the
# status's slice is read). OPEN_COUNT_CAP only guards against a pathological filter;
# it is not expected to be reached.
OPEN_COUNT_CAP = 100_000
# Finished orders are nearly every order ever placed (1.49 million of 1.5 million on
# the bench): an exact count reads them all, and even a count stopped after 1,001
# rows reads far when another filter is selective (a carrier, a payment status). On
# PostgreSQL their chips show the planner's estimate ("≈ 1,400,000": planning only,
# no row read) when it is above FINISHED_COUNT_CAP; below it, and on other databases,
# they are counted up to FINISHED_COUNT_CAP + 1 rows and shown as "1,000+" past it.
FINISHED_STATES = frozenset({OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.RETURNED})
FINISHED_COUNT_CAP = 1_000
# A finished state's count under a selective filter (a payment status, a carrier)
# reads its whole slice, testing each row against the filter: the count stops after
# cap + 1 matches, and there may be none (27,000 delivered orders read to find no
# pending payment, 10 ms). Such a count is made only when the state has at most
# FINISHED_READ_BUDGET orders in all (the planner's statistics say); otherwise the
# chip is shown without a number (UNCOUNTED), rather than a guess that may be far off.
FINISHED_READ_BUDGET = 5_000
# Under a filter on another table (a carrier: is there a live shipment of it), each
# order of a state is tested through that table's index, one probe an order: the
# 5,800 shipped orders of the bench cost 6 ms, the most of any state. There the open
# states are counted up to JOINED_COUNT_CAP matches too ("1,000+"), so a state where
# most orders match stops early; a state where few match is still read whole, which
# its size bounds.
JOINED_COUNT_CAP = 1_000

EXACT, AT_LEAST, ESTIMATE, UNCOUNTED = "exact", "at_least", "estimate", "uncounted"


def _planner_rows(queryset):
    """The number of rows PostgreSQL's planner expects `queryset` to return."""
    return _planner_rows_sql(queryset.db, *queryset.query.sql_with_params())


def _planner_rows_sql(db, sql, params):
    import json

    from django.db import connections

    with connections[db].cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _status_sizes(model, db):
    """{status: rows} of the whole order table, from PostgreSQL's statistics (the
    status column's most common values and the table's row estimate): one query, no
    row read. A status the statistics do not list is left out. (Not kept between
    requests: a page would then run one query more each time it expired, and the
    list's query count would depend on the clock.)"""
    from django.db import connections

    with connections[db].cursor() as cursor:
        cursor.execute(
            "SELECT s.most_common_vals::text::text[], s.most_common_freqs, c.reltuples "
            "FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename "
            "WHERE s.schemaname = current_schema() AND s.tablename = %s AND s.attname = %s",
            [model._meta.db_table, model._meta.get_field("status").column],
        )
        row = cursor.fetchone()
    if not row or row[0] is None:
        return {}
    values, freqs, total = row
    return {value: int(freq * max(total, 0)) for value, freq in zip(values, freqs)}


def _rounded(number):
    """An estimate to two significant figures (1,374,142 → 1,400,000)."""
    step = 10 ** max(len(str(number)) - 2, 0)
    return int(round(number / step) * step)


def order_status_counts(queryset, *, exact=False):
    """{status: (count, kind)} of the orders of `queryset` (the list's filters and
    search) in each status, kind EXACT, AT_LEAST (the count stopped at its cap),
    ESTIMATE (the planner's) or UNCOUNTED (see FINISHED_READ_BUDGET); a fixed number
    of queries.

    `exact` (a search: its matches are few): one GROUP BY over the matches. Otherwise
    one SELECT of a COUNT per status over a LIMITed subquery, `(SELECT COUNT(*) FROM
    (SELECT id … WHERE status = 'new' AND … LIMIT 100001))`, so the database stops
    after cap + 1 rows of each, preceded on PostgreSQL by one read of the status
    column's statistics and, under a filter, one EXPLAIN per finished state (see
    FINISHED_STATES; FINISHED_READ_BUDGET: such a state may be UNCOUNTED).
    """
    from contextlib import nullcontext

    from django.core.exceptions import EmptyResultSet
    from django.db import connections, transaction
    from django.db.models import Count

    counts = {status.value: (0, EXACT) for status in OrderStatus}
    queryset = queryset.order_by().prefetch_related(None)
    if exact:
        for status, count in queryset.values_list("status").annotate(n=Count("pk")).values_list("status", "n"):
            counts[status] = (count, EXACT)
        return counts
    try:
        queryset.query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (queryset.none())
        return counts
    caps = {}
    postgresql = connections[queryset.db].vendor == "postgresql"
    filtered = bool(queryset.query.where)
    # The list's filters compiled once (an overdue filter is six ORs), each status's
    # query a condition around them: the planner pulls the subquery up, so each is
    # planned as if written out (WHERE <filters> AND status = %s).
    base_sql, base_params = queryset.values("pk", "status").query.sql_with_params()

    def of_status(status, select="1", limit=""):
        return f"SELECT {select} FROM ({base_sql}) AS listed WHERE listed.status = %s{limit}", [*base_params, status]

    # Unfiltered, the planner's estimate of each state is its share in the statistics:
    # one read of them rather than an EXPLAIN per finished state.
    sizes = _status_sizes(queryset.model, queryset.db) if postgresql else {}
    # Each count reads one status's slice, found through (status, placed_at, id), at
    # most cap + 1 rows: a filter on another table is best tested row by row through
    # its own index (a carrier: the order's live shipment). Hashing the other side
    # instead reads all of it (every shipment of the carrier, 180,000 on the bench, for
    # 5,800 shipped orders). Without another table there is no join to choose, and no
    # transaction to open for the settings.
    other_table = base_sql.count("SELECT") > 1 or " JOIN " in base_sql
    for status in OrderStatus:
        if status not in FINISHED_STATES:
            caps[status.value] = JOINED_COUNT_CAP if other_table else OPEN_COUNT_CAP
            continue
        if postgresql:
            size = sizes.get(status.value)
            if size is None:
                size = _planner_rows(queryset.model.objects.filter(status=status).values("pk"))
            estimate = _planner_rows_sql(queryset.db, *of_status(status.value)) if filtered else size
            if estimate > FINISHED_COUNT_CAP:
                counts[status.value] = (_rounded(estimate), ESTIMATE)
                continue
            if filtered and size > FINISHED_READ_BUDGET:
                counts[status.value] = (0, UNCOUNTED)
                continue
        caps[status.value] = FINISHED_COUNT_CAP
    parts, params = [], []
    for index, (status, cap) in enumerate(caps.items()):
        sql, sub_params = of_status(status, select="listed.pk", limit=f" LIMIT {int(cap) + 1}")
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS status_{index})")
        params.extend(sub_params)
    connection = connections[queryset.db]
    with transaction.atomic(using=queryset.db) if postgresql and other_table else nullcontext():
        with connection.cursor() as cursor:
            if postgresql and other_table:
                # Probing row by row, a parallel worker costs more to start than it saves.
                cursor.execute(
                    "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
                    "SET LOCAL max_parallel_workers_per_gather = 0"
                )
            cursor.execute("SELECT " + ", ".join(parts), params)
            found = cursor.fetchone()
    for (status, cap), count in zip(caps.items(), found):
        counts[status] = (min(count, cap), AT_LEAST if count > cap else EXACT)
    return counts


# --- search ---------------------------------------------------------------------

SEARCH_MAX_LENGTH = 200
# A name search needs this many letters, or one Chinese character (a surname: 林).
NAME_MIN_LENGTH = 2
# A substring of the name (not a whole part of it) is matched from this many
# letters in a row: the trigram index cannot answer fewer (pg_trgm reads the whole
# index for '%wu%'), so shorter terms match whole name parts only.
NAME_SUBSTRING_MIN_LENGTH = 3
_SUBSTRING_RUN = re.compile(r"[^\W_]{%d}" % NAME_SUBSTRING_MIN_LENGTH)
# The last digits of a phone a caller may read out ("the number ending 477523").
PHONE_ENDING_MIN_DIGITS = 6
_PHONE_CHARS = set("0123456789+-() .")
# Order numbers are "SO-" and a number (seed_demo, imports); callers read out only
# the number ("order 1052"), sometimes with "#" before it.
ORDER_NUMBER_PREFIX = "SO-"
_BARE_ORDER_NUMBER = re.compile(r"#?\s*(\d{1,18})")


class SearchTooLong(ValueError):
    pass


def classify_search(term):
    """What a search box entry can be: {"number", "numbers", "email", "phone",
    "tracking", "name"} → the normalised value to look up. Exact identifiers use
    indexed columns: "numbers" are the order numbers it may mean (as typed, upper
    case, and with the SO- prefix when it is a bare number); "phone" is a whole
    phone number or its last 6 or more digits; "name" a surname, a given name or
    part of a name (see customer_match_q)."""
    from .names import has_han, part_key
    from .phones import normalize_phone

    term = (term or "").strip()
    if not term:
        return {}
    if len(term) > SEARCH_MAX_LENGTH:
        raise SearchTooLong(_("The search is too long (at most %(max)s characters).") % {"max": SEARCH_MAX_LENGTH})
    numbers = {term, term.upper()}
    if bare := _BARE_ORDER_NUMBER.fullmatch(term):
        numbers.add(ORDER_NUMBER_PREFIX + bare.group(1))
    lookups = {"number": term, "numbers": numbers, "tracking": term.upper().replace(" ", "")}
    if "@" in term:
        lookups["email"] = term.lower()
    if set(term) <= _PHONE_CHARS:
        digits = normalize_phone(term)
        if len(digits) >= PHONE_ENDING_MIN_DIGITS:
            lookups["phone"] = digits
    key = part_key(term)
    if "@" not in term and (len(key) >= NAME_MIN_LENGTH or (key and has_han(key))):
        lookups["name"] = term
    return lookups


SEARCH_MATCH_LIMIT = 500


def customer_match_q(lookups):
    """(exact, any): Qs over Customer for classify_search() look-ups. `exact` matches
    the e-mail or the phone, whole or its ending (indexed columns); `any` adds the
    name: a whole part of it (a surname, a given name, a word: the name-part index,
    one query here for the customers' ids) or, from NAME_SUBSTRING_MIN_LENGTH letters,
    any piece of it (a trigram index on PostgreSQL). Either is an empty Q() when
    there is nothing to match.

    The name's matches are found first, each kind with its own indexed query, and
    `any` names them by id: ORed in one WHERE (the ids OR the trigram condition) the
    planner walked the customers table until it had 500 ("Smith": 62,000 rows read,
    15 ms, on the bench), and an OR with a subquery on the parts would read every
    customer."""
    from django.db.models import Q

    from .models import Customer, CustomerNamePart
    from .names import part_key

    exact_q = Q()
    if "email" in lookups:
        exact_q |= Q(email=lookups["email"])
    if "phone" in lookups:
        # The whole number is its own ending.
        exact_q |= Q(phone_reversed__startswith=lookups["phone"][::-1])
    if "name" not in lookups:
        return exact_q, exact_q
    # Names are matched on customers (far fewer rows than orders), never by
    # scanning the orders table.
    name = lookups["name"]
    part_ids = list(
        CustomerNamePart.objects.filter(part=part_key(name))
        .order_by()
        .values_list("customer_id", flat=True)[:SEARCH_MATCH_LIMIT]
    )
    name_ids = list(part_ids)
    # A piece of a name (the trigram index), unless the whole parts found enough.
    if len(name_ids) < SEARCH_MATCH_LIMIT and _SUBSTRING_RUN.search(name):
        name_ids += Customer.objects.filter(name__icontains=name).order_by().values_list("pk", flat=True)[
            :SEARCH_MATCH_LIMIT
        ]
    name_ids = list(dict.fromkeys(name_ids))[:SEARCH_MATCH_LIMIT]
    any_q = exact_q | Q(pk__in_ids=name_ids) if name_ids else exact_q
    return exact_q, any_q


def order_search_filter(term):
    """A Q over Order matching the search box entry (see classify_search).

    Each identifier is resolved first with its own indexed query, and the result is
    a Q on primary keys and customer ids. (One WHERE with OR-ed subqueries would
    make PostgreSQL scan the whole orders table.)
    """
    from django.db.models import Q

    Shipment = shipment_model()

    from .models import Customer

    lookups = classify_search(term)
    if not lookups:
        return Q(pk__in=[])
    order_ids = set(Order.objects.filter(number__in=lookups["numbers"]).values_list("pk", flat=True))
    order_ids.update(
        Shipment.objects.filter(tracking_number=lookups["tracking"]).values_list("order_id", flat=True)[
            :SEARCH_MATCH_LIMIT
        ]
    )
    _exact_q, customer_q = customer_match_q(lookups)
    # No ORDER BY: any SEARCH_MATCH_LIMIT of the matches. Ordered by name, PostgreSQL
    # may walk the customers' (name, id) index testing every name instead of asking
    # the trigram index (a rare name would read every customer).
    customer_ids = (
        list(Customer.objects.filter(customer_q).order_by().values_list("pk", flat=True)[:SEARCH_MATCH_LIMIT])
        if customer_q
        else []
    )
    # __in_ids (common/lookups.py): up to 500 ids as one parameter, not 500.
    return Q(pk__in_ids=sorted(order_ids)) | Q(customer_id__in_ids=customer_ids)


# --- customer-service lookup ------------------------------------------------------

LOOKUP_CUSTOMER_LIMIT = 20
LOOKUP_ORDER_LIMIT = 50
# When the search finds several customers (part of a name, mostly) each shows its
# newest orders up to this many, and any the search found; the customer's section
# says how many there are and links to all of them. The person is still telling the
# customers apart by their contact details and latest orders: 20 customers with 50
# orders each would be a page of 1,000 orders, each with its items (a quarter of a
# second to build, and a long scroll). One customer shows up to LOOKUP_ORDER_LIMIT.
LOOKUP_ORDERS_EACH_OF_SEVERAL = 5
LOOKUP_SHIPMENT_FIELDS = (
    "order_id", "carrier_id", "tracking_number", "status", "created_at",
    "carrier__code", "carrier__name", "carrier__tracking_url_template",
)


# The lines shown on each order's card (SKU, product, quantity); the card says how
# many more there are.
LOOKUP_ITEMS_SHOWN = 5


@dataclass(frozen=True)
class LookupItem:
    sku: str
    product_name: str
    quantity: int


class CustomerLookup:
    """What customer_lookup() found: customers, each with `lookup_orders` (newest
    first, each with `latest_events`, `shipments`, `lookup_items` (its first
    LOOKUP_ITEMS_SHOWN lines) and `item_count` (all its lines)), `order_count` and
    `more_orders`; `more_customers` when the search matched more than are shown;
    `matched_order_ids` the orders found by order or tracking number."""

    def __init__(self, customers=(), more_customers=False, matched_order_ids=()):
        self.customers = list(customers)
        self.more_customers = more_customers
        self.matched_order_ids = set(matched_order_ids)


def customer_lookup(
    term,
    *,
    customer_limit=LOOKUP_CUSTOMER_LIMIT,
    order_limit=LOOKUP_ORDER_LIMIT,
    several_order_limit=LOOKUP_ORDERS_EACH_OF_SEVERAL,
):
    """The customers a search box entry (see classify_search) points at, each with
    their orders, in a fixed number of queries whatever the number of customers,
    orders, events and shipments.

    Customers of orders found by order or tracking number come first, then exact
    e-mail or phone matches, then name matches by name. Each customer shows at most
    `order_limit` orders (`several_order_limit` when several customers are shown):
    those the search found, then the newest. An empty entry
    finds nothing without a query; raises SearchTooLong for an overlong one.
    """
    from django.db.models import Case, Count, F, IntegerField, OuterRef, Subquery, Sum, Value, When, Window
    from django.db.models.functions import RowNumber, Upper

    Shipment = shipment_model()

    from .models import Customer

    lookups = classify_search(term)
    if not lookups:
        return CustomerLookup()

    # Each identifier with its own indexed query (see order_search_filter).
    found = list(
        Order.objects.filter(number__in=lookups["numbers"]).order_by().values_list(
            "pk", "customer_id"
        )
    )
    found += list(
        Shipment.objects.filter(tracking_number=lookups["tracking"])
        .order_by()
        .values_list("order_id", "order__customer_id")[:SEARCH_MATCH_LIMIT]
    )
    matched_order_ids = {order_id for order_id, _customer_id in found}
    customer_ids = list(dict.fromkeys(customer_id for _order_id, customer_id in found))

    exact_q, customer_q = customer_match_q(lookups)
    if customer_q and len(customer_ids) <= customer_limit:
        matches = Customer.objects.filter(customer_q).exclude(pk__in=customer_ids)
        if exact_q:
            exact_first = Case(When(exact_q, then=Value(0)), default=Value(1), output_field=IntegerField())
            matches = matches.annotate(lookup_exact=exact_first).order_by("lookup_exact", Upper("name"), "pk")
            customer_ids += matches.values_list("pk", flat=True)[: customer_limit + 1 - len(customer_ids)]
        else:
            # Part of a name: up to SEARCH_MATCH_LIMIT matches, unordered, found through
            # the trigram index, then sorted by name here. Sorting in the database read
            # every match's row first (2,300 customers for "Smith" on the bench, 4-6 ms);
            # beyond SEARCH_MATCH_LIMIT matches those shown are the first by name of some
            # 500 of them, and the page asks for a longer search anyway (more_customers).
            # (Ordered by name, PostgreSQL may instead walk the (name, id) index testing
            # every customer's name: see order_search_filter.)
            found_names = matches.order_by().values_list("pk", "name")[:SEARCH_MATCH_LIMIT]
            ranked = sorted(found_names, key=lambda row: (row[1].upper(), row[0]))
            customer_ids += [pk for pk, _name in ranked[: customer_limit + 1 - len(customer_ids)]]
    more_customers = len(customer_ids) > customer_limit
    customer_ids = customer_ids[:customer_limit]
    if not customer_ids:
        return CustomerLookup(matched_order_ids=matched_order_ids)

    # The orders the search found first, then the newest, at most order_limit each.
    if len(customer_ids) > 1:
        order_limit = min(order_limit, several_order_limit)
    ranking = [F("placed_at").desc(), F("pk").desc()]
    if matched_order_ids:
        found_first = Case(
            When(pk__in=sorted(matched_order_ids), then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        ranking.insert(0, found_first.asc())
    # What is owed back on each order (refunds due), for the "Refund due" badge: a
    # subquery of each order's refunds (refund_order_created), not a query per order.
    refunds_due = (
        Refund.objects.filter(order=OuterRef("pk"), status=Refund.Status.DUE)
        .order_by()
        .values("order")
        .annotate(due=Sum("amount"))
        .values("due")[:1]
    )
    orders = (
        Order.objects.annotate(
            lookup_rank=Window(RowNumber(), partition_by=[F("customer_id")], order_by=ranking),
            lookup_refund_due=Subquery(refunds_due),
        )
        .filter(lookup_rank__lte=order_limit)
        .order_by("-placed_at", "-pk")
    )
    customers = {
        customer.pk: customer
        for customer in Customer.objects.filter(pk__in=customer_ids)
        .annotate(order_count=Count("orders"))
        .prefetch_related(Prefetch("orders", queryset=orders, to_attr="lookup_orders"))
    }
    shown = [customers[pk] for pk in customer_ids if pk in customers]
    for customer in shown:
        customer.more_orders = customer.order_count > len(customer.lookup_orders)
    shown_orders = [order for customer in shown for order in customer.lookup_orders]
    if shown_orders:
        ids = [order.pk for order in shown_orders]
        # Only the columns shown (and the carrier's that the tracking link needs): whole
        # rows took 5.3 ms for 200 shipments, these 3.3 ms.
        shipments = (
            Shipment.objects.filter(order_id__in_ids=ids)
            .select_related("carrier")
            .only(*LOOKUP_SHIPMENT_FIELDS)
            .order_by("created_at", "pk")
        )
        _attach_rows(shown_orders, "shipments", shipments)
        # Each order's open returns (the shipping app's, through the related name) with
        # their lines: one query, and one more for the lines when there are any.
        Return = Order._meta.get_field("returns").related_model
        open_returns = {order.pk: [] for order in shown_orders}
        for record in (
            Return.objects.filter(order_id__in_ids=ids, status="open")
            .only("order_id", "status", "opened_at")
            .prefetch_related(
                Prefetch(
                    "lines",
                    queryset=Return._meta.get_field("lines").related_model.objects.select_related("order_line")
                    .only("return_record_id", "quantity", "order_line__sku")
                    .order_by("pk"),
                )
            )
            .order_by("opened_at", "pk")
        ):
            open_returns[record.order_id].append(record)
        for order in shown_orders:
            order.open_returns = open_returns[order.pk]
        # Each order's latest event, in one query (as a prefetch of events[:1] would,
        # with the ids as one parameter), with its actor's name only: not each user's
        # whole row (password hash, dates) for every order shown.
        newest_first = [F("created_at").desc(), F("pk").desc()]
        latest = {
            event.order_id: [event]
            for event in OrderEvent.objects.filter(order_id__in_ids=ids)
            .select_related("actor")
            .only("order_id", "kind", "data", "message", "created_at", "actor__username", "actor__first_name", "actor__last_name")
            .annotate(latest_rank=Window(RowNumber(), partition_by=[F("order_id")], order_by=newest_first))
            .filter(latest_rank=1)
        }
        for order in shown_orders:
            order.latest_events = latest.get(order.pk, [])
        # A backorder names the order it was split from (order_split): their numbers in
        # one query by primary key, and only when some order shown is a backorder.
        split_from_ids = sorted({order.split_from_id for order in shown_orders if order.split_from_id})
        split_from = (
            dict(Order.objects.filter(pk__in=split_from_ids).order_by().values_list("pk", "number"))
            if split_from_ids
            else {}
        )
        for order in shown_orders:
            order.split_from_number = split_from.get(order.split_from_id, "")
        # What was ordered, for every order shown in one query: each order's first
        # LOOKUP_ITEMS_SHOWN lines, with how many it has in all (a window count), so
        # the page carries at most five lines of an order however long it is.
        items = {order.pk: [] for order in shown_orders}
        lines = (
            OrderLine.objects.filter(order_id__in_ids=ids)
            .annotate(
                item_rank=Window(RowNumber(), partition_by=[F("order_id")], order_by=[F("pk").asc()]),
                item_count=Window(Count("pk"), partition_by=[F("order_id")]),
            )
            .filter(item_rank__lte=LOOKUP_ITEMS_SHOWN)
            .order_by("order_id", "item_rank")
            .values_list("order_id", "sku", "product_name", "quantity", "item_count")
        )
        counts = {}
        for order_id, sku, product_name, quantity, item_count in lines:
            items[order_id].append(LookupItem(sku, product_name, quantity))
            counts[order_id] = item_count
        for order in shown_orders:
            order.lookup_items = items[order.pk]
            order.item_count = counts.get(order.pk, 0)
    return CustomerLookup(customers=shown, more_customers=more_customers, matched_order_ids=matched_order_ids)


# --- printables (pick lists and packing slips) ----------------------------------

# A pick list is for orders about to be picked; others still print, flagged.
PICKABLE = {OrderStatus.NEW, OrderStatus.PROCESSING}
# A packing slip for one of these orders must not go into a parcel.
DO_NOT_SHIP = {OrderStatus.ON_HOLD, OrderStatus.CANCELLED, OrderStatus.RETURNED}


@dataclass
class PickRow:
    """One product to pick in one warehouse: its bin location there, the total over the
    batch and which orders need it."""

    product: object
    location: str = ""
    quantity: int = 0
    orders: list = field(default_factory=list)  # [(order number, quantity)]

    @property
    def sku(self):
        return self.product.sku


@dataclass
class PickOrder:
    """An order's lines that are picked from one warehouse (each with `location`)."""

    order: object
    lines: list


@dataclass
class PickSheet:
    """The pick list of one warehouse: its products in walking order (by location,
    products without one last, then by SKU) and its orders with their lines there.
    `warehouse` is None for lines with no stock reserved anywhere yet."""

    warehouse: object
    rows: list
    orders: list  # [PickOrder], by order number

    @property
    def total_units(self):
        return sum(row.quantity for row in self.rows)

    @property
    def flagged(self):
        return [pick.order for pick in self.orders if not pick.order.pickable]


@dataclass
class PickList:
    orders: list
    sheets: list  # [PickSheet], by warehouse priority and code, "no stock reserved" last
    missing_ids: list

    @property
    def rows(self):
        return [row for sheet in self.sheets for row in sheet.rows]

    @property
    def total_units(self):
        return sum(row.quantity for row in self.rows)

    @property
    def flagged(self):
        return [order for order in self.orders if order.status not in PICKABLE]

    @property
    def warehouses(self):
        return [sheet.warehouse.code for sheet in self.sheets if sheet.warehouse is not None]


def _lines():
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("sku", "id"))


_DIGITS = re.compile(r"(\d+)")


def location_key(location):
    """Walking order of bin locations: numbers compared as numbers (A-2 before A-10),
    letters without case; an empty location after every other."""
    parts = tuple((0, int(part), "") if part.isdigit() else (1, 0, part.casefold()) for part in _DIGITS.split(location) if part)
    return (not location, parts)


def _pick_warehouses(orders):
    """{(order id, product id): warehouse id} for each line: where its stock is reserved
    (the latest reserve movement of the order for the product), else the order's own
    warehouse, else None. One query however many orders."""
    reserved = {
        (order_id, product_id): warehouse_id
        for order_id, product_id, warehouse_id in StockMovement.objects.filter(
            order_id__in=[order.pk for order in orders], kind=StockMovement.Kind.RESERVE
        )
        .order_by("created_at", "id")
        .values_list("order_id", "product_id", "warehouse_id")
    }
    return {
        (order.pk, line.product_id): reserved.get((order.pk, line.product_id), order.warehouse_id)
        for order in orders
        for line in order.lines.all()
    }


def pick_list(order_ids):
    """The orders with the given ids (sorted by number), split into one PickSheet per
    warehouse their lines are picked from (see _pick_warehouses): per product, its
    location there, the total quantity and the orders that need it. Five queries
    (orders, lines, reservations, warehouses, locations), whatever the batch."""
    order_ids = list(order_ids)
    orders = list(
        Order.objects.filter(pk__in=order_ids).select_related("warehouse").prefetch_related(_lines()).order_by("number")
    )
    for order in orders:
        order.pickable = order.status in PICKABLE
    picked_from = _pick_warehouses(orders) if orders else {}
    warehouse_ids = {pk for pk in picked_from.values() if pk is not None}
    warehouses = {warehouse.pk: warehouse for warehouse in Warehouse.objects.filter(pk__in=warehouse_ids)} if warehouse_ids else {}
    locations = (
        {
            (product_id, warehouse_id): location
            for product_id, warehouse_id, location in StockLevel.objects.filter(
                product_id__in={product_id for _order_id, product_id in picked_from},
                warehouse_id__in=warehouse_ids,
            )
            .exclude(location="")
            .values_list("product_id", "warehouse_id", "location")
        }
        if warehouse_ids
        else {}
    )
    # {warehouse id or None: ({product id: PickRow}, {order id: PickOrder})}
    by_warehouse = {}
    for order in orders:
        for line in order.lines.all():
            warehouse_id = picked_from[order.pk, line.product_id]
            line.location = locations.get((line.product_id, warehouse_id), "")
            rows, picks = by_warehouse.setdefault(warehouse_id, ({}, {}))
            row = rows.setdefault(line.product_id, PickRow(product=line.product, location=line.location))
            row.quantity += line.quantity
            row.orders.append((order.number, line.quantity))
            picks.setdefault(order.pk, PickOrder(order=order, lines=[])).lines.append(line)

    def walking_order(location, sku, pk):
        return (location_key(location), sku, pk)

    sheets = []
    for warehouse_id, (rows, picks) in by_warehouse.items():
        for pick in picks.values():
            pick.lines.sort(key=lambda line: walking_order(line.location, line.product.sku, line.pk))
        sheets.append(
            PickSheet(
                warehouse=warehouses.get(warehouse_id),
                rows=sorted(rows.values(), key=lambda row: walking_order(row.location, row.sku, row.product.pk)),
                orders=list(picks.values()),  # the orders were read by number
            )
        )
    sheets.sort(key=lambda sheet: (1, 0, "") if sheet.warehouse is None else (0, sheet.warehouse.priority, sheet.warehouse.code))
    found = {order.pk for order in orders}
    return PickList(orders=orders, sheets=sheets, missing_ids=[pk for pk in order_ids if pk not in found])


def packing_slips(order_ids):
    """The orders with the given ids, sorted by number, each with `lines` (product
    joined, for the barcode), `shipment` (the latest one not cancelled, carrier joined,
    or None), `packer_notes` (its notes, oldest first) and `do_not_ship`. Four queries."""
    orders = list(
        Order.objects.filter(pk__in=list(order_ids))
        .select_related("warehouse")
        .prefetch_related(
            _lines(),
            Prefetch(
                "shipments",
                queryset=shipment_model().objects.exclude(status="cancelled").select_related("carrier"),
                to_attr="active_shipments",
            ),
            Prefetch(
                "events",
                queryset=OrderEvent.objects.filter(kind=OrderEvent.Kind.NOTE)
                .select_related("actor")
                .order_by("created_at", "id"),
                to_attr="packer_notes",
            ),
        )
        .order_by("number")
    )
    for order in orders:
        order.shipment = order.active_shipments[0] if order.active_shipments else None
        order.do_not_ship = order.status in DO_NOT_SHIP
        order.total_units = sum(line.quantity for line in order.lines.all())
    return orders
