"""What goes into a drafting call and what comes out. Plain dataclasses: the processor
builds thousands of these per second, so nothing here touches the database."""
from dataclasses import dataclass, field
from typing import Any, Sequence

SMS_MAX_CHARS = 320
SUBJECT_MAX_CHARS = 200
EMAIL_BODY_MAX_CHARS = 8000


@dataclass(frozen=True)
class DraftRequest:
    """`thread`: earlier sent messages of the same enrollment, oldest first (anything
    with `subject` and `body_text`). `channel` defaults to the step's channel."""

    agent: Any
    tenant: Any
    contact: Any
    step: Any
    channel: str = ""
    thread: Sequence[Any] = ()

    @property
    def effective_channel(self):
        return self.channel or getattr(self.step, "channel", "") or "email"


@dataclass
class Draft:
    """A drafted message. It deliberately has no recipient, sender or header fields:
    those are set by code from the contact and the mailbox, never by a model."""

    subject: str
    body_text: str
    body_html: str = ""
    flags: list[str] = field(default_factory=list)
    # The persona's name when the persona signs this email itself; "" when the mailbox's
    # signature signs it (signoff.py). Set by the finishing pass, never by a model.
    signed_by: str = ""
    provider: str = "template"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class DraftError(Exception):
    """Drafting failed. `transient` failures are retried with backoff; others are not."""

    transient = False

    def __init__(self, message, *, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class TransientDraftError(DraftError):
    transient = True


class InvalidDraftOutput(TransientDraftError):
    """The model answered, but not with a valid draft. A new sample may be valid."""


class PermanentDraftError(DraftError):
    transient = False
