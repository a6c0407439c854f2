"""Mailbox and pool configuration, audited."""
from django.db import transaction
from django.utils import timezone

from scendcore.models import AuditEntry

from ..models import MailboxPool, MailboxStatus, PoolMember
from . import crypto

SECRET_FIELDS = {"smtp_password_encrypted", "imap_password_encrypted"}


def _audit(*, tenant, actor, obj, action, changes):
    AuditEntry.objects.create(
        tenant=tenant, actor=actor, object_type=obj._meta.model_name, object_id=str(obj.pk),
        action=action, changes=changes,
    )


def mailbox_save(*, tenant, mailbox, actor, changed=(), smtp_password="", imap_password=""):
    """Create or update a mailbox from a validated (unsaved) instance. An empty password
    keeps the stored one; secrets never appear in the audit trail."""
    creating = mailbox.pk is None
    with transaction.atomic():
        mailbox.tenant = tenant
        if not creating and "status" in changed and mailbox.status == MailboxStatus.ACTIVE:
            # Set active again by hand: the same as resuming it (messaging.services.reputation).
            mailbox.pause_reason, mailbox.paused_at, mailbox.reputation_since = "", None, timezone.now()
        if smtp_password:
            mailbox.smtp_password_encrypted = crypto.encrypt(smtp_password)
        if imap_password:
            mailbox.imap_password_encrypted = crypto.encrypt(imap_password)
        mailbox.save()
        changed = sorted(set(changed) - SECRET_FIELDS - {"smtp_password", "imap_password"})
        if smtp_password:
            changed.append("smtp_password")
        if imap_password:
            changed.append("imap_password")
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
