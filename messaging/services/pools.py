"""Which mailbox sends a message: the thread's, the sequence's pool (weighted
round-robin skipping paused or full members), or its single sender profile."""
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..models import MailboxPool, MailboxStatus, PoolMember
from .limits import mailbox_next_slot, recipient_domain


def _rotation(pool):
    """Members expanded by weight, in a stable order: weights 2 and 1 give A, A, B."""
    members = PoolMember.objects.filter(pool=pool, weight__gt=0).select_related("mailbox").order_by("id")
    return [m.mailbox for m in members for _ in range(m.weight)]


def pool_pick(*, pool_id, tenant_id, domain, at=None):
    """The next mailbox of the pool with room for `domain`, advancing the cursor past
    it atomically (the pool row is locked). None when every member is paused or full."""
    at = at or timezone.now()
    with transaction.atomic():
        pool = MailboxPool.objects.select_for_update().get(pk=pool_id, tenant_id=tenant_id)
        rotation = _rotation(pool)
        verdicts = {}
        for offset in range(len(rotation)):
            position = (pool.cursor + offset) % len(rotation)
            mailbox = rotation[position]
            if mailbox.pk not in verdicts:
                verdicts[mailbox.pk] = (
                    mailbox.status == MailboxStatus.ACTIVE
                    and mailbox_next_slot(mailbox=mailbox, recipient_domain=domain, at=at) is None
                )
            if verdicts[mailbox.pk]:
                pool.cursor = position + 1
                pool.save(update_fields=["cursor"])
                return mailbox
    return None


def pool_earliest_slot(*, pool_id, tenant_id, domain, at=None) -> datetime | None:
    """When the first active member of a full pool has room again (None: no active member)."""
    at = at or timezone.now()
    pool = MailboxPool.objects.get(pk=pool_id, tenant_id=tenant_id)
    slots = [
        mailbox_next_slot(mailbox=m, recipient_domain=domain, at=at) or at
        for m in {mb.pk: mb for mb in _rotation(pool)}.values()
        if m.status == MailboxStatus.ACTIVE
    ]
    return min(slots, default=None)


def mailbox_for(*, sequence, contact, thread_root=None, at=None):
    """The mailbox for the next message to `contact` in `sequence`, or None when its
    pool is exhausted (the caller defers to pool_earliest_slot; nothing is dropped).
    Follow-ups stay on the mailbox that started the thread."""
    if thread_root is not None and thread_root.mailbox_id:
        return thread_root.mailbox
    if sequence.mailbox_pool_id:
        return pool_pick(
            pool_id=sequence.mailbox_pool_id, tenant_id=sequence.tenant_id,
            domain=recipient_domain(contact.email), at=at,
        )
    return sequence.sender_profile
