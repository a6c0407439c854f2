"""Reads; every function takes the tenant."""
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from contacts.visibility import contact_scope
from scendcore import paging

from .models import (
    ATTENTION_STATES, InboundQuarantine, Mailbox, MailboxPool, MessageState, OutboundMessage, QuarantineStatus,
    SendRecord, Task, TaskStatus,
)
from .services.limits import daily_cap


def mailbox_list(*, tenant, at=None):
    """Mailboxes with today's usage for the settings page."""
    at = at or timezone.now()
    mailboxes = list(Mailbox.objects.filter(tenant=tenant))
    usage = dict(
        SendRecord.objects.filter(tenant=tenant, sent_at__gt=at - timedelta(hours=24))
        .values("mailbox_id").annotate(n=Count("id")).values_list("mailbox_id", "n")
    )
    for mailbox in mailboxes:
        mailbox.sent_24h = usage.get(mailbox.pk, 0)
        mailbox.cap_today = daily_cap(mailbox, at=at)
    return mailboxes


def pool_list(*, tenant):
    return MailboxPool.objects.filter(tenant=tenant).prefetch_related("poolmember_set__mailbox")


FINISHED = (TaskStatus.COMPLETED, TaskStatus.SKIPPED)


def task_list(*, tenant, membership, team=False, done=False):
    """The member's open tasks and unassigned ones (the whole team's with `team`), of
    contacts the member may see; with `done`, the finished ones: completed or skipped
    (a skip is a decision the rep made, and the enrollment moved on because of it)."""
    status = {"status__in": FINISHED} if done else {"status": TaskStatus.OPEN}
    tasks = Task.objects.filter(contact_scope(membership, path="contact__"), tenant=tenant, **status) \
        .select_related("contact", "owner", "enrollment__sequence", "step")
    if not team:
        tasks = tasks.filter(Q(owner_id=membership.user_id) | Q(owner__isnull=True))
    return tasks.order_by("-completed_at", "-id") if done else tasks.order_by("due_at", "id")


def message_list(*, tenant, membership, state=""):
    messages = OutboundMessage.objects.filter(contact_scope(membership, path="contact__"), tenant=tenant) \
        .select_related("contact", "mailbox")
    if state:
        messages = messages.filter(state=state)
    return messages.order_by("-created_at", "-id")


def message_state_counts(*, tenant, membership, cap=None):
    """{state: n} of the states that have messages the member may see, each counted up to
    `cap` (the table's count bound) and reported as cap + 1 beyond it.

    A GROUP BY over every message is a full scan per request; a bounded count per state is
    an index-only scan of at most cap + 1 entries of (tenant, state, created_at, id). The
    per-state counts run as scalar subqueries of one statement, which PostgreSQL and SQLite
    both accept, so the toolbar costs one query however many states there are."""
    cap = paging.COUNT_CAP if cap is None else cap
    visible = OutboundMessage.objects.filter(contact_scope(membership, path="contact__"), tenant=tenant).order_by()
    parts, params = [], []
    for state in MessageState.values:
        sql, args = visible.filter(state=state).values("pk")[: cap + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS bounded_{len(parts)})")
        params.extend(args)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return {state: n for state, n in zip(MessageState.values, row) if n}


def attention_count(*, tenant):
    return OutboundMessage.objects.filter(
        tenant=tenant, state__in=ATTENTION_STATES
    ).count()


def quarantine_list(*, tenant, status=QuarantineStatus.HELD):
    """Held (or released, discarded) inbound messages, newest first; the bytes stay behind."""
    return (
        InboundQuarantine.objects.filter(tenant=tenant, status=status)
        .select_related("mailbox", "inbound", "decided_by").defer("raw")
        .order_by("-received_at", "-id")
    )


def quarantine_held_count(*, tenant):
    return InboundQuarantine.objects.filter(tenant=tenant, status=QuarantineStatus.HELD).count()
