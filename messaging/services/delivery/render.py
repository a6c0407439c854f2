"""A message as it is sent: the bodies (the draft sanitized, the mailbox signature unless
the persona signed the draft, the compliance footer, tracked links and the open pixel),
the thread it continues, and the email with its headers."""
from email.utils import formataddr

import nh3
from django.core.mail import EmailMultiAlternatives
from django.utils.html import linebreaks, urlize

from ...models import MessageState, OutboundMessage
from .. import compliance, tracking


def thread_root_of(message):
    """The first message of the thread a follow-up belongs to (None: a new thread)."""
    if message.thread_root_id:
        return message.thread_root
    if message.channel != "email" or not message.enrollment_id or message.step is None:
        return None
    if message.step.job_type != "follow_up":
        return None
    return (
        OutboundMessage.objects.filter(
            tenant_id=message.tenant_id, enrollment_id=message.enrollment_id, channel="email",
            state=MessageState.SENT,
        )
        .exclude(pk=message.pk)
        .order_by("sent_at", "id")
        .first()
    )


def from_header(message, mailbox):
    """The From of the message: the display name is whoever signs it (the agent's
    persona when it signed the draft, else the mailbox, whose signature then signs)."""
    return formataddr((message.signed_by or mailbox.from_name, mailbox.from_email))


def signature_of(message, mailbox):
    """The mailbox's signature, unless the persona signed the draft: one sign-off per email."""
    return "" if message.signed_by or mailbox is None else mailbox.signature


def clean_subject(subject):
    return " ".join((subject or "").split())[:500]


def render_bodies(message, *, unsubscribe_url=None, with_tracking=None):
    """(text, html) exactly as sent: the draft (HTML sanitized: what an AI wrote is
    never markup we trust), the mailbox signature (unless the persona signed the draft),
    the footer, and with tracking on, rewritten links and the open pixel."""
    tenant = message.tenant
    mailbox = message.mailbox
    url = unsubscribe_url or compliance.unsubscribe_url(
        tenant_id=tenant.pk, contact_id=message.contact_id, address=message.to_address)
    signature = signature_of(message, mailbox)
    text = message.body_text or ""
    if signature:
        text = f"{text}\n\n{signature}"
    # A test email goes to the rep: the contact's unsubscribe link would let the rep
    # unsubscribe the contact, so it carries a notice instead.
    notice = compliance.test_notice() if message.test_intended_to else ""
    text += f"\n\n--\n{notice}" if notice else "\n" + compliance.footer_text(tenant=tenant, url=url)
    if message.body_html:
        body_html = nh3.clean(message.body_html)
    else:
        body_html = linebreaks(urlize(message.body_text or "", nofollow=False, autoescape=True))
    body_html += compliance.signature_html(signature) + (
        compliance.test_notice_html(notice) if notice else compliance.footer_html(tenant=tenant, url=url))
    use_tracking = tenant.tracking_enabled if with_tracking is None else with_tracking
    if use_tracking and message.pk:
        body_html = tracking.rewrite_links(body_html, tracking.tracking_token(message), keep={url})
    return text, f"<!doctype html><html><body>{body_html}</body></html>"


# What is kept of a sent email: enough to show it as delivered, never unbounded.
DELIVERED_TEXT_MAX = 20000
DELIVERED_HEADER_MAX = 2000


def delivered_copy(email):
    """The headers and plain-text body an EmailMessage was sent with (the HTML part is
    the same text with links rewritten, and is rebuilt on demand for engagement)."""
    headers = [("From", email.from_email), ("To", ", ".join(email.to))]
    if email.reply_to:
        headers.append(("Reply-To", ", ".join(email.reply_to)))
    headers.append(("Subject", email.subject))
    headers.extend(email.extra_headers.items())
    return {
        "headers": [[name, str(value)[:DELIVERED_HEADER_MAX]] for name, value in headers],
        "text": email.body[:DELIVERED_TEXT_MAX],
    }


def build_email(message):
    mailbox = message.mailbox
    url = compliance.unsubscribe_url(tenant_id=message.tenant_id, contact_id=message.contact_id,
                                     address=message.to_address)
    # A test-mode email is opened and clicked by the rep: tracking it would record the
    # rep's opens and clicks as the contact's engagement.
    text, html_body = render_bodies(message, unsubscribe_url=url,
                                    with_tracking=False if message.test_intended_to else None)
    headers = {"Message-ID": message.message_id}
    if not message.test_intended_to:
        headers.update(compliance.unsubscribe_headers(url=url, mailbox=mailbox))
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
        headers["References"] = message.references or message.in_reply_to
    email = EmailMultiAlternatives(
        subject=clean_subject(message.subject),
        body=text,
        from_email=from_header(message, mailbox),
        to=[message.to_address],
        reply_to=[mailbox.reply_to] if mailbox.reply_to else None,
        headers=headers,
    )
    email.attach_alternative(html_body, "text/html")
    return email
