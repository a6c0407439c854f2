"""Reads for contacts, lists and imports. Every function takes the tenant, and those
that list contacts the viewer's membership (visibility.py decides what it may see)."""
from datetime import timedelta

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Concat, Lower

from scendcore.paging import TablePaginator

from .models import Contact, ContactEvent, ContactList, ListMembership, Tag
from .search import apply_search
from .visibility import contact_scope

OPEN = ("active", "paused")
SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "email": (Lower("email"),),
    "-email": (Lower("email").desc(),),
    "company": ("company", "id"),
    "-company": ("-company", "-id"),
    "created": ("created_at", "id"),
    "-created": ("-created_at", "-id"),
}


def _unindexed(order):
    """`order` with its leading key wrapped in a no-op (`|| ''`, `+ interval '0'`) that no
    index matches. A search that matches few contacts is then found through the trigram
    index and its matches sorted; left to itself the planner walks the sort index instead,
    filtering row by row, and "smith" sorted by name read 70,000 rows before the first Smith."""
    lead, *rest = order
    if isinstance(lead, str):
        descending, expression = lead.startswith("-"), F(lead.lstrip("-"))
        is_time = Contact._meta.get_field(lead.lstrip("-")).get_internal_type() == "DateTimeField"
    else:
        descending = isinstance(lead, OrderBy) and lead.descending
        expression, is_time = (lead.expression if isinstance(lead, OrderBy) else lead), False
    wrapped = (ExpressionWrapper(expression + Value(timedelta(0)), output_field=DateTimeField()) if is_time
               else Concat(expression, Value("")))
    return (wrapped.desc() if descending else wrapped.asc(), *rest)


SORTS_FOR_FEW = {key: _unindexed(order) for key, order in SORTS.items()}

SORT_LABELS = {
    "name": "Name A–Z", "-name": "Name Z–A", "email": "Email A–Z", "-email": "Email Z–A",
    "company": "Company A–Z", "-company": "Company Z–A", "-created": "Newest first", "created": "Oldest first",
}


def visible_contacts(*, tenant, membership):
    """The tenant's contacts the member may see and act on."""
    return Contact.objects.filter(contact_scope(membership), tenant=tenant)


def contact_filter(*, tenant, membership, filters):
    """The contacts the member may see matching `filters` (cleaned data of
    ContactFilterForm). The same function serves the page and "select all matching", so
    both see one set."""
    from sequences.models import Enrollment

    qs = visible_contacts(tenant=tenant, membership=membership)
    qs = apply_search(qs, filters.get("q"))
    if filters.get("status"):
        qs = qs.filter(lead_status=filters["status"])
    if filters.get("score"):
        qs = qs.filter(score_band=filters["score"])
    if filters.get("owner"):
        qs = qs.filter(owner_id=filters["owner"])
    if filters.get("list"):
        qs = qs.filter(Exists(ListMembership.objects.filter(contact=OuterRef("pk"), contact_list_id=filters["list"])))
    if filters.get("tag"):
        qs = qs.filter(Exists(Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag_id=filters["tag"])))
    in_sequence = filters.get("in_sequence")
    if in_sequence in ("yes", "no"):
        open_enrollment = Exists(Enrollment.objects.filter(tenant=tenant, contact=OuterRef("pk"), status__in=OPEN))
        qs = qs.filter(open_enrollment if in_sequence == "yes" else ~open_enrollment)
    return qs.order_by(*SORTS[_sort_key(filters)])


def _sort_key(filters):
    sort = filters.get("sort") or "name"
    return sort if sort in SORTS else "name"


class ContactPaginator(TablePaginator):
    """The contact table's pages. When a search matched no more than the count cap, the
    page is cut from its matches sorted (SORTS_FOR_FEW); more matches than that are common
    enough that walking the sort index finds a page's worth quickly."""

    def __init__(self, object_list, per_page, *, filters, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.filters = filters

    def page(self, number):
        if self.filters.get("q") and self.count <= self.count_cap:
            self.object_list = self.object_list.order_by(*SORTS_FOR_FEW[_sort_key(self.filters)])
        return super().page(number)


def contact_table(*, tenant, membership, filters, per_page, count_cap=None):
    """The paginator of the contact table: the filtered contacts with the table's joins,
    counted up to the cap (scendcore.paging)."""
    rows = contact_page_rows(contact_filter(tenant=tenant, membership=membership, filters=filters))
    return ContactPaginator(rows, per_page, filters=filters, count_cap=count_cap)


def contact_match_count(*, tenant, membership, filters):
    """Every contact matching `filters`, counted to the end: the number "select all" acts on."""
    return contact_filter(tenant=tenant, membership=membership, filters=filters).order_by().count()


def contact_page_rows(queryset):
    """Rows for the table: owner joined, tags prefetched, open enrollment count annotated."""
    from sequences.models import Enrollment

    open_count = (
        Enrollment.objects.filter(contact=OuterRef("pk"), status__in=OPEN)
        .values("contact").annotate(n=Count("pk")).values("n")
    )

    return (
        queryset.select_related("owner")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .annotate(open_enrollments=Coalesce(Subquery(open_count, output_field=IntegerField()), 0))
    )


def filter_choices(*, tenant):
    from scendcore.models import Membership

    return {
        "lists": list(ContactList.objects.filter(tenant=tenant).values_list("pk", "name")),
        "tags": list(Tag.objects.filter(tenant=tenant).values_list("pk", "name")),
        "owners": [
            (m.user_id, m.user.get_full_name() or m.user.username)
            for m in Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")
        ],
    }


def enrollable_sequences(*, tenant):
    from sequences.models import Sequence, SequenceStatus

    return Sequence.objects.filter(tenant=tenant, status__in=[SequenceStatus.ACTIVE, SequenceStatus.PAUSED]).order_by(
        "-is_default", "name"
    )


def contact_timeline(*, tenant, contact, limit=100):
    """Enrollment activity, contact events and messages, newest first, as dicts."""
    from messaging.models import OutboundMessage
    from sequences.models import Activity

    items = []
    for a in Activity.objects.filter(tenant=tenant, contact=contact).select_related("sequence")[:limit]:
        items.append({"at": a.created_at, "kind": a.kind, "label": a.get_kind_display(), "text": a.detail,
                      "where": a.sequence.name, "source": "activity"})
    for e in ContactEvent.objects.filter(tenant=tenant, contact=contact)[:limit]:
        text = ""
        if e.kind == "status_changed":
            text = f"{e.data.get('from', '')} → {e.data.get('to', '')}"
        items.append({"at": e.occurred_at, "kind": e.kind, "label": e.get_kind_display(), "text": text,
                      "where": "", "source": "event"})
    for m in OutboundMessage.objects.filter(tenant=tenant, contact=contact).only(
        "created_at", "sent_at", "channel", "state", "subject", "to_address"
    )[:limit]:
        items.append({"at": m.sent_at or m.created_at, "kind": m.state, "label": f"{m.channel.title()} message",
                      "text": m.subject, "where": m.get_state_display(), "source": "message"})
    items.sort(key=lambda item: item["at"], reverse=True)
    return items[:limit]


def contact_enrollments(*, tenant, contact):
    from sequences.models import Enrollment

    return (
        Enrollment.objects.filter(tenant=tenant, contact=contact)
        .select_related("sequence", "current_step")
        .order_by("-enrolled_at", "-id")
    )


def list_index(*, tenant, membership):
    """The tenant's lists, each with the number of its members the viewer may see."""
    counted = Q(listmembership__isnull=False) & contact_scope(membership, path="listmembership__contact__")
    return ContactList.objects.filter(tenant=tenant).annotate(member_count=Count("listmembership", filter=counted)) \
        .order_by("name")


def list_members(*, tenant, membership, contact_list):
    return (
        visible_contacts(tenant=tenant, membership=membership).filter(listmembership__contact_list=contact_list)
        .select_related("owner")
        .order_by("last_name", "first_name", "id")
    )


def suppression_list(*, tenant, query=""):
    """The tenant's suppression list, newest first. An address finds its entry by hash,
    erased ones included; other text searches the addresses still kept."""
    from .models import Suppression
    from .suppression import address_hash

    entries = Suppression.objects.filter(tenant=tenant).select_related("created_by")
    query = (query or "").strip()
    if "@" in query:
        entries = entries.filter(address_hash=address_hash(query))
    elif query:
        entries = entries.filter(address__icontains=query)
    return entries.order_by("-created_at", "-id")


def custom_field_keys(*, tenant):
    """The custom fields the tenant's contacts have (a key any of them holds)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT jsonb_object_keys(custom_fields) FROM contacts_contact "
                "WHERE tenant_id = %s AND jsonb_typeof(custom_fields) = 'object'", [tenant.pk])
            return {key for (key,) in cursor.fetchall()}
    keys = set()
    for fields in Contact.objects.filter(tenant=tenant).values_list("custom_fields", flat=True).iterator():
        if isinstance(fields, dict):
            keys.update(fields)
    return keys
