"""Messaging services: the names other apps build against."""
from .delivery import deliver_due, message_enqueue, message_resend  # noqa: F401
from .limits import daily_cap, mailbox_next_slot, mailbox_reserve  # noqa: F401
from .pools import mailbox_for  # noqa: F401
from .tasks import task_create  # noqa: F401
