"""Mailbox and pool configuration, audited."""
from django.db import transaction
from django.utils import timezone

from scendcore.models import AuditEntry

from ..models import MailboxPool, MailboxStatus, PoolMember
from . import crypto

# The mailbox's secrets by the name forms use, and the column holding each, encrypted.
SECRET_COLUMNS = {"smtp_password": "smtp_password_encrypted", "imap_password": "imap_password_encrypted"}


def _audit(*, tenant, actor, obj, action, changes):
    AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type=obj._meta.model_name, object_id=str(obj.pk),
        action=action, changes=changes,
    )


def mailbox_save(*, tenant, mailbox, actor, changed=(), secret_changes=None):
    """Create or update a mailbox from a validated (unsaved) instance. `secret_changes`
    maps "smtp_password"/"imap_password" to a new plaintext, or "" to remove the stored
    one; a secret not named stays. Only the names of changed secrets reach the audit trail."""
    creating = mailbox.pk is None
    secret_changes = secret_changes or {}
    with transaction.atomic():
        mailbox.tenant = tenant
        if not creating and "status" in changed and mailbox.status == MailboxStatus.ACTIVE:
            # Set active again by hand: the same as resuming it (messaging.services.reputation).
            mailbox.pause_reason, mailbox.paused_at, mailbox.reputation_since = "", None, timezone.now()
        for name, plaintext in secret_changes.items():
            setattr(mailbox, SECRET_COLUMNS[name], crypto.encrypt(plaintext))
        mailbox.save()
        changed = sorted(set(changed) - set(SECRET_COLUMNS) - set(SECRET_COLUMNS.values())) + sorted(secret_changes)
        _audit(tenant=tenant, actor=actor, obj=mailbox, action="create" if creating else "update",
               changes={"fields": changed})
    return mailbox


def pool_save(*, tenant, pool, weights, actor):
    """Create or update a pool; `weights` maps mailbox ids (of this tenant, checked by
    the form) to weights, 0 meaning "not a member"."""
    creating = pool.pk is None
    with transaction.atomic():
        pool.tenant = tenant
        pool.save()
        PoolMember.objects.filter(pool=pool).exclude(mailbox_id__in=[m for m, w in weights.items() if w]).delete()
        for mailbox_id, weight in weights.items():
            if weight:
                PoolMember.objects.update_or_create(pool=pool, mailbox_id=mailbox_id, defaults={"weight": weight})
        _audit(tenant=tenant, actor=actor, obj=pool, action="create" if creating else "update",
               changes={"weights": {str(k): v for k, v in weights.items() if v}})
    return pool


def pool_members(pool):
    return {m.mailbox_id: m.weight for m in PoolMember.objects.filter(pool=pool)}


def pools_for_tenant(tenant):
    return MailboxPool.objects.filter(tenant=tenant)
