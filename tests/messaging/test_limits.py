"""Sliding-window limits, warmup and pools."""
import threading
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.utils import timezone

from messaging.models import MailboxPool, MessageState, OutboundMessage, PoolMember, SendRecord
from messaging.services.delivery import deliver_due, message_enqueue
from messaging.services.limits import daily_cap, mailbox_next_slot, mailbox_reserve
from messaging.services.pools import mailbox_for, pool_earliest_slot
from tests.factories import ContactFactory, MailboxFactory, SequenceFactory

from .conftest import make_message

NOON = datetime(2030, 3, 12, 12, 0, tzinfo=dt_timezone.utc)


def _records(mailbox, times, domain="acme.example"):
    SendRecord.objects.bulk_create(
        SendRecord(tenant_id=mailbox.tenant_id, mailbox=mailbox, recipient_domain=domain, sent_at=t) for t in times
    )


@pytest.mark.django_db
def test_the_daily_window_slides_instead_of_resetting_at_midnight(tenant):
    mailbox = MailboxFactory(tenant=tenant, daily_cap=3, hourly_cap=3)
    _records(mailbox, [NOON - timedelta(hours=h) for h in (23, 20, 2)])

    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="x.example", at=NOON) == NOON + timedelta(hours=1)
    # Midnight passes: a fixed bucket would reset, the window does not.
    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="x.example", at=NOON + timedelta(minutes=59)) is not None
    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="x.example", at=NOON + timedelta(hours=1)) is None


@pytest.mark.django_db
def test_the_hourly_cap_opens_when_the_oldest_send_of_the_hour_expires(tenant):
    mailbox = MailboxFactory(tenant=tenant, daily_cap=100, hourly_cap=2)
    _records(mailbox, [NOON - timedelta(minutes=50), NOON - timedelta(minutes=10)])

    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="a.example", at=NOON) == NOON + timedelta(minutes=10)


@pytest.mark.django_db
def test_the_per_domain_daily_maximum_only_blocks_that_domain(tenant):
    mailbox = MailboxFactory(tenant=tenant, domain_daily_max=2)
    _records(mailbox, [NOON - timedelta(hours=5), NOON - timedelta(hours=1)], domain="acme.example")

    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="ACME.example", at=NOON) == NOON + timedelta(hours=19)
    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="other.example", at=NOON) is None
    assert not mailbox_reserve(mailbox_id=mailbox.pk, tenant_id=tenant.pk, recipient_domain="acme.example", at=NOON).ok
    assert mailbox_reserve(mailbox_id=mailbox.pk, tenant_id=tenant.pk, recipient_domain="other.example", at=NOON).ok


@pytest.mark.django_db
def test_the_minimum_gap_adds_a_stable_random_jitter(tenant):
    mailbox = MailboxFactory(tenant=tenant, min_gap_seconds=60, gap_jitter_seconds=30)
    _records(mailbox, [NOON])

    slot = mailbox_next_slot(mailbox=mailbox, recipient_domain="a.example", at=NOON + timedelta(seconds=1))
    assert NOON + timedelta(seconds=60) <= slot <= NOON + timedelta(seconds=90)
    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="a.example", at=NOON + timedelta(seconds=2)) == slot
    assert not mailbox_reserve(mailbox_id=mailbox.pk, tenant_id=tenant.pk, recipient_domain="a.example",
                               at=slot - timedelta(seconds=1)).ok
    assert mailbox_reserve(mailbox_id=mailbox.pk, tenant_id=tenant.pk, recipient_domain="a.example", at=slot).ok


@pytest.mark.django_db
def test_a_paused_mailbox_has_no_slot_now(tenant):
    mailbox = MailboxFactory(tenant=tenant, status="paused")
    assert mailbox_next_slot(mailbox=mailbox, recipient_domain="a.example", at=NOON) > NOON


@pytest.mark.django_db
@pytest.mark.parametrize("day, cap", [(-3, 5), (0, 5), (1, 10), (2, 15), (3, 20), (30, 20)])
def test_warmup_raises_the_daily_cap_day_by_day_up_to_the_target(tenant, day, cap):
    mailbox = MailboxFactory(
        tenant=tenant, daily_cap=200, warmup_enabled=True, warmup_start_cap=5, warmup_daily_increase=5,
        warmup_target_cap=20, warmup_start_date=date(2030, 3, 12),
    )
    assert daily_cap(mailbox, at=NOON + timedelta(days=day)) == cap


@pytest.mark.django_db
def test_warmup_cap_is_enforced_by_the_reservation(tenant):
    mailbox = MailboxFactory(
        tenant=tenant, hourly_cap=100, warmup_enabled=True, warmup_start_cap=2, warmup_daily_increase=3,
        warmup_target_cap=50, warmup_start_date=date(2030, 3, 11),
    )  # day 1: cap 5
    results = [
        mailbox_reserve(mailbox_id=mailbox.pk, tenant_id=tenant.pk, recipient_domain="a.example", at=NOON).ok
        for _ in range(7)
    ]
    assert results == [True] * 5 + [False] * 2


# ------------------------------------------------------------------ concurrency


def _in_threads(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def run():
        try:
            barrier.wait()
            target()
        except Exception as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_never_exceed_the_cap(tenant):
    mailbox = MailboxFactory(tenant=tenant, daily_cap=10, hourly_cap=10)

    def reserve_many():
        for _ in range(20):
            mailbox_reserve(mailbox_id=mailbox.pk, tenant_id=tenant.pk, recipient_domain="a.example")

    _in_threads(2, reserve_many)

    assert SendRecord.objects.filter(mailbox=mailbox).count() == 10


@pytest.mark.django_db(transaction=True)
def test_two_delivery_workers_send_exactly_the_cap_and_defer_the_rest(tenant, smtp_server, no_frequency_cap):
    mailbox = MailboxFactory(tenant=tenant, smtp_port=smtp_server.port, daily_cap=10, hourly_cap=10)
    sequence = SequenceFactory(tenant=tenant, sender_profile=mailbox)
    for _ in range(30):
        message_enqueue(message=make_message(tenant=tenant, sequence=sequence, state=MessageState.APPROVED))

    _in_threads(2, lambda: deliver_due(batch_size=4))

    assert OutboundMessage.objects.filter(state=MessageState.SENT).count() == 10
    deferred = OutboundMessage.objects.filter(state=MessageState.QUEUED, next_attempt_at__gt=timezone.now())
    assert deferred.count() == 20
    assert len(smtp_server.messages) == 10
    assert SendRecord.objects.filter(mailbox=mailbox).count() == 10


# ------------------------------------------------------------------ pools


def _pool(tenant, *members):
    pool = MailboxPool.objects.create(tenant=tenant, name="Rotation")
    for mailbox, weight in members:
        PoolMember.objects.create(pool=pool, mailbox=mailbox, weight=weight)
    return pool


@pytest.mark.django_db
def test_a_pool_rotates_by_weight(tenant):
    a, b = MailboxFactory(tenant=tenant, name="A"), MailboxFactory(tenant=tenant, name="B")
    sequence = SequenceFactory(tenant=tenant, sender_profile=None, mailbox_pool=_pool(tenant, (a, 2), (b, 1)))
    contact = ContactFactory(tenant=tenant)

    picks = [mailbox_for(sequence=sequence, contact=contact, thread_root=None).name for _ in range(6)]

    assert picks == ["A", "A", "B", "A", "A", "B"]


@pytest.mark.django_db
def test_a_pool_skips_paused_and_full_mailboxes(tenant):
    paused = MailboxFactory(tenant=tenant, name="Paused", status="paused")
    full = MailboxFactory(tenant=tenant, name="Full", hourly_cap=1)
    free = MailboxFactory(tenant=tenant, name="Free")
    _records(full, [timezone.now() - timedelta(minutes=5)])
    sequence = SequenceFactory(tenant=tenant, sender_profile=None,
                               mailbox_pool=_pool(tenant, (paused, 1), (full, 1), (free, 1)))
    contact = ContactFactory(tenant=tenant)

    assert {mailbox_for(sequence=sequence, contact=contact).name for _ in range(4)} == {"Free"}


@pytest.mark.django_db
def test_an_exhausted_pool_gives_none_and_the_earliest_slot(tenant):
    now = timezone.now()
    first = MailboxFactory(tenant=tenant, hourly_cap=1)
    second = MailboxFactory(tenant=tenant, hourly_cap=1)
    _records(first, [now - timedelta(minutes=10)])
    _records(second, [now - timedelta(minutes=40)])
    pool = _pool(tenant, (first, 1), (second, 1))
    sequence = SequenceFactory(tenant=tenant, sender_profile=None, mailbox_pool=pool)

    assert mailbox_for(sequence=sequence, contact=ContactFactory(tenant=tenant), at=now) is None
    assert pool_earliest_slot(pool_id=pool.pk, tenant_id=tenant.pk, domain="acme.example", at=now) == (
        now - timedelta(minutes=40) + timedelta(hours=1)
    )


@pytest.mark.django_db
def test_follow_ups_stay_on_the_threads_mailbox_and_a_single_sender_is_used(tenant):
    a, b = MailboxFactory(tenant=tenant), MailboxFactory(tenant=tenant)
    pooled = SequenceFactory(tenant=tenant, sender_profile=None, mailbox_pool=_pool(tenant, (a, 1), (b, 1)))
    root = make_message(tenant=tenant, sequence=pooled, state=MessageState.SENT, mailbox=b)
    contact = root.contact

    assert [mailbox_for(sequence=pooled, contact=contact, thread_root=root) for _ in range(3)] == [b, b, b]
    single = SequenceFactory(tenant=tenant, sender_profile=a)
    assert mailbox_for(sequence=single, contact=contact) == a
