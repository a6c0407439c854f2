"""Contact facts: what a contact did, or what happened to them (replied, booked a
meeting, unsubscribed, bounced, complained, was marked do-not-contact, changed lead
status, opened, clicked …), recorded in one place for every app.

`facts_record` runs the reactions other apps registered for the kind (sequences stops
or pauses outreach; later kinds wake enrollments waiting for the event), then sets the
contact's column for the fact and writes the ContactEvent, in the caller's transaction.
Reactions run first: they lock enrollments and cancel unsent messages, and delivery
locks a message before its contact, so taking the contact rows last keeps one lock order
everywhere. Messaging and contacts record facts here and never call up into the apps
that react to them.
"""
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from .models import Contact, ContactEvent, EventKind

NOW = object()


@dataclass(frozen=True)
class Fact:
    """How a kind of fact marks the contact: the field it sets (to the fact's time, or
    to `value`), and with `once`, only where it is not set yet (a second unsubscribe
    changes nothing and records nothing)."""

    column: str = ""
    value: object = NOW
    once: bool = False


FACTS = {
    EventKind.REPLIED: Fact("last_replied_at"),
    EventKind.MEETING_BOOKED: Fact("last_meeting_at"),
    EventKind.UNSUBSCRIBED: Fact("unsubscribed_at", once=True),
    EventKind.BOUNCED: Fact("bounced_at", once=True),
    EventKind.COMPLAINED: Fact(),
    EventKind.DO_NOT_CONTACT: Fact("do_not_contact", True, once=True),
    EventKind.SUPPRESSED: Fact(),
    EventKind.SMS_OPT_OUT: Fact("sms_opted_out_at", once=True),
    EventKind.STATUS_CHANGED: Fact(),
    EventKind.AUTO_REPLY: Fact(),
    EventKind.SOFT_BOUNCED: Fact(),
    EventKind.OPENED: Fact(),
    EventKind.CLICKED: Fact(),
    EventKind.FIELD_CHANGED: Fact(),
    EventKind.TAG_ADDED: Fact(),
    EventKind.CUSTOM: Fact(),
}

_REACTIONS = defaultdict(list)


def reaction(*kinds):
    """Register `fn(*, tenant, contact_ids, kind, at, actor, data)` to run whenever a
    fact of one of `kinds` is recorded (apps register theirs in AppConfig.ready)."""
    unknown = [kind for kind in kinds if kind not in FACTS]
    if unknown:
        raise LookupError(f"no such contact fact: {unknown}")

    def register(fn):
        for kind in kinds:
            if fn not in _REACTIONS[kind]:
                _REACTIONS[kind].append(fn)
        return fn

    return register


def reactions_for(kind):
    return list(_REACTIONS[kind])


def facts_record(*, tenant, kind, contact_ids, at=None, actor=None, data=None, message=None, events="changed"):
    """Record a fact of `kind` for the tenant's contacts `contact_ids`. Returns the ids it
    changed (for a `once` fact, those not marked before; otherwise all of them). The
    timeline gets an event for each changed contact, or with events="all" for each one
    (a second bounce report about another message is news, its contact bounced already)."""
    try:
        fact = FACTS[kind]
    except KeyError:
        raise LookupError(f"no such contact fact: {kind!r}") from None
    at = at or timezone.now()
    contact_ids = list(dict.fromkeys(contact_ids))
    if not contact_ids:
        return []
    data = data or {}
    for react in _REACTIONS[kind]:
        react(tenant=tenant, contact_ids=contact_ids, kind=kind, at=at, actor=actor, data=data)
    changed = contact_ids
    if fact.column:
        rows = Contact.objects.filter(tenant=tenant, pk__in=contact_ids)
        if fact.once:
            unset = {f"{fact.column}__isnull": True} if fact.value is NOW else {fact.column: not fact.value}
            rows = rows.filter(**unset)
            changed = list(rows.values_list("pk", flat=True))
            rows = Contact.objects.filter(pk__in=changed)
        rows.update(**{fact.column: at if fact.value is NOW else fact.value, "updated_at": at})
    recorded = changed if events == "changed" else list(
        Contact.objects.filter(tenant=tenant, pk__in=contact_ids).values_list("pk", flat=True))
    ContactEvent.objects.bulk_create(
        [ContactEvent(tenant=tenant, contact_id=pk, kind=kind, message=message, data=data, occurred_at=at)
         for pk in recorded],
        batch_size=2000,
    )
    return changed


def fact_record(*, tenant, kind, contact, at=None, actor=None, data=None, message=None, events="changed"):
    """One contact's fact; True when it changed anything (see facts_record). The given
    instance is kept in step with the row."""
    at = at or timezone.now()
    changed = bool(facts_record(tenant=tenant, kind=kind, contact_ids=[contact.pk], at=at, actor=actor, data=data,
                                message=message, events=events))
    fact = FACTS[kind]
    if changed and fact.column:
        setattr(contact, fact.column, at if fact.value is NOW else fact.value)
    return changed
