"""In-app notifications: writes and reads. Kernel-level, so any app (a flow's action
node, a task, an approval) can tell a user something without importing another app."""
from django.db import transaction
from django.utils import timezone

from .models import Membership, Notification

MAX_TEXT = Notification._meta.get_field("text").max_length
MAX_LINK = Notification._meta.get_field("link").max_length


def notifications_send(*, tenant, notes, at=None):
    """Write one notification per (user_id, text, link) of `notes`, in one statement.
    Only members of `tenant` are notified; a link is a path inside the app. Returns how
    many were written."""
    at = at or timezone.now()
    notes = list(notes)
    members = set(Membership.objects.filter(tenant=tenant, user_id__in={user_id for user_id, _, _ in notes})
                  .values_list("user_id", flat=True))
    rows = [
        Notification(tenant=tenant, user_id=user_id, text=text[:MAX_TEXT],
                     link=link if isinstance(link, str) and link.startswith("/") and len(link) <= MAX_LINK else "",
                     created_at=at)
        for user_id, text, link in notes if user_id in members and text
    ]
    Notification.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


@transaction.atomic
def notifications_mark_read(*, tenant, user, at=None):
    """Mark every unread notification of `user` in `tenant` read. Returns how many."""
    return Notification.objects.filter(tenant=tenant, user=user, read_at__isnull=True).update(
        read_at=at or timezone.now())


def notification_list(*, tenant, user):
    return Notification.objects.filter(tenant=tenant, user=user).order_by("-created_at", "-id")


def unread_count(*, tenant, user):
    return Notification.objects.filter(tenant=tenant, user=user, read_at__isnull=True).count()
