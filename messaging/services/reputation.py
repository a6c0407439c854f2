"""The mailbox circuit breaker: when a mailbox's recent mail draws too many spam
complaints or hard bounces, it stops sending until an admin resumes it.

Rates are per period, the way mailbox providers measure them: the period is the span of
the mailbox's last N sends (the tenant's window, counted from the limiter's send
records), and the rate is the complaints (or hard bounces) recorded in that period over
those sends. It is checked when a complaint or bounce is recorded, never per send.
"""
import logging
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from scendcore import jobs
from scendcore.audit import audit_record, field_changes
from scendcore.models import Membership, Role, Tenant

from ..models import DeliveryFeedback, FeedbackKind, Mailbox, MailboxStatus, SendRecord

logger = logging.getLogger(__name__)

SETTINGS_FIELDS = ("reputation_window_sends", "reputation_min_sends", "complaint_rate_limit", "bounce_rate_limit")
CENT = Decimal("0.01")


def percent(count, sends):
    return (Decimal(count * 100) / sends).quantize(CENT, ROUND_HALF_UP) if sends else Decimal("0.00")


@dataclass
class Reputation:
    sends: int
    complaints: int
    bounces: int

    @property
    def complaint_rate(self):
        return percent(self.complaints, self.sends)

    @property
    def bounce_rate(self):
        return percent(self.bounces, self.sends)


def mailbox_reputation(*, mailbox, tenant):
    """Sends, complaints and hard bounces of the mailbox's current window."""
    records = SendRecord.objects.filter(mailbox_id=mailbox.pk)
    if mailbox.reputation_since:
        records = records.filter(sent_at__gte=mailbox.reputation_since)
    window = list(records.order_by("-sent_at").values_list("sent_at", flat=True)[:tenant.reputation_window_sends])
    if not window:
        return Reputation(sends=0, complaints=0, bounces=0)
    since = max(window[-1], mailbox.reputation_since) if mailbox.reputation_since else window[-1]
    counts = dict.fromkeys(FeedbackKind.values, 0)
    for kind in DeliveryFeedback.objects.filter(mailbox_id=mailbox.pk, occurred_at__gte=since).values_list(
            "kind", flat=True):
        counts[kind] += 1
    return Reputation(sends=len(window), complaints=counts[FeedbackKind.COMPLAINT],
                      bounces=counts[FeedbackKind.HARD_BOUNCE])


def breach(reputation, tenant):
    """Why the mailbox must pause, or ""."""
    if reputation.sends < max(1, tenant.reputation_min_sends):
        return ""
    over = f"over the last {reputation.sends} sends"
    if reputation.complaint_rate > tenant.complaint_rate_limit:
        return f"complaint rate {reputation.complaint_rate} % {over} (limit {tenant.complaint_rate_limit} %)"
    if reputation.bounce_rate > tenant.bounce_rate_limit:
        return f"hard-bounce rate {reputation.bounce_rate} % {over} (limit {tenant.bounce_rate_limit} %)"
    return ""


def breaker_check(*, tenant, mailbox_id, at=None):
    """Pause the mailbox if its window is over a limit. Returns True if it paused it.
    Called inside the transaction that recorded the complaint or bounce."""
    at = at or timezone.now()
    mailbox = Mailbox.objects.select_for_update().filter(pk=mailbox_id, tenant=tenant).first()
    if mailbox is None or mailbox.status != MailboxStatus.ACTIVE:
        return False
    why = breach(mailbox_reputation(mailbox=mailbox, tenant=tenant), tenant)
    if not why:
        return False
    Mailbox.objects.filter(pk=mailbox.pk).update(
        status=MailboxStatus.PAUSED, pause_reason=why[:300], paused_at=at, updated_at=at)
    audit_record(tenant=tenant, actor=None, object_type="mailbox", object_id=mailbox.pk, action="paused_by_breaker",
                 changes={"reason": why})
    logger.warning("mailbox %s of tenant %s paused: %s", mailbox.pk, tenant.pk, why)
    jobs.start("messaging.notify_mailbox_paused", tenant.pk, mailbox.pk)
    return True


def pause_notice_send(*, tenant_id, mailbox_id):
    """Mail the tenant's admins that the mailbox was paused, and why. Returns how many."""
    mailbox = Mailbox.objects.select_related("tenant").filter(pk=mailbox_id, tenant_id=tenant_id).first()
    if mailbox is None or mailbox.status != MailboxStatus.PAUSED or not mailbox.pause_reason:
        return 0  # resumed meanwhile: nothing to tell
    admins = Membership.objects.filter(tenant_id=tenant_id, role=Role.ADMIN).select_related("user")
    link = settings.SITE_URL + reverse("messaging:mailbox-edit", kwargs={"mailbox_id": mailbox.pk})
    subject = f"Sending paused: {mailbox.from_email} ({mailbox.tenant.name})"
    body = (
        f"The mailbox {mailbox.name} <{mailbox.from_email}> of {mailbox.tenant.name} stopped sending: "
        f"{mailbox.pause_reason}.\n\nMessages wait in the outbox. Look into what drew the complaints or "
        f"bounces, then resume the mailbox here:\n{link}\n"
    )
    mails = [(subject, body, settings.DEFAULT_FROM_EMAIL, [m.user.email]) for m in admins if m.user.email]
    return send_mass_mail(mails, fail_silently=False) if mails else 0


@transaction.atomic
def mailbox_resume(*, tenant, mailbox, actor, at=None):
    """An admin lets a paused mailbox send again; the breaker counts afresh from now."""
    at = at or timezone.now()
    row = Mailbox.objects.select_for_update().get(pk=mailbox.pk, tenant=tenant)
    before = {"status": row.status, "pause_reason": row.pause_reason}
    Mailbox.objects.filter(pk=row.pk).update(
        status=MailboxStatus.ACTIVE, pause_reason="", paused_at=None, reputation_since=at, updated_at=at)
    audit_record(tenant=tenant, actor=actor, object_type="mailbox", object_id=row.pk, action="resumed",
                 changes=field_changes(before, {"status": MailboxStatus.ACTIVE, "pause_reason": ""}))
    row.refresh_from_db()
    return row


@transaction.atomic
def reputation_settings_update(*, tenant, actor, values):
    """The tenant's breaker thresholds (from ReputationSettingsForm); audited."""
    locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = {name: getattr(locked, name) for name in SETTINGS_FIELDS}
    after = {name: values[name] for name in SETTINGS_FIELDS}
    changes = field_changes(before, after)
    if changes:
        for name in changes:
            setattr(locked, name, after[name])
        locked.save(update_fields=list(changes))
        audit_record(tenant=locked, actor=actor, object_type="tenant", object_id=locked.pk,
                     action="reputation_settings_updated", changes=changes)
    return locked, changes
