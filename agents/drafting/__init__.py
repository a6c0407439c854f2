"""Drafting: `draft(DraftRequest) -> Draft`, dispatching on the agent's provider.

Every provider's output goes through the same finishing pass (safety.py): header-like
lines stripped, links checked against the tenant's allowed domains, HTML built from
the plain text and sanitized, SMS bounded. The template provider does no database
queries and no network, so the processor can call it inline for every due step.
"""
from . import safety, signoff
from .types import (
    EMAIL_BODY_MAX_CHARS, SMS_MAX_CHARS, Draft, DraftError, DraftRequest, InvalidDraftOutput,
    PermanentDraftError, TransientDraftError,
)

__all__ = [
    "Draft", "DraftError", "DraftRequest", "InvalidDraftOutput", "PermanentDraftError",
    "TransientDraftError", "draft", "finish",
]


def draft(request: DraftRequest) -> Draft:
    provider = getattr(request.agent, "provider", "template") or "template"
    if provider == "template":
        from .template_provider import write
    elif provider == "openai_compatible":
        from .openai_compatible import write
    else:
        raise PermanentDraftError(f"Unknown drafting provider: {provider}")
    return finish(write(request), request)


def finish(result: Draft, request: DraftRequest) -> Draft:
    channel = request.effective_channel
    flags = list(result.flags)
    body, removed = safety.strip_header_lines(result.body_text or "")
    if removed:
        flags.append("removed header-like lines from the draft")
    body = body.strip()
    subject = safety.clean_subject(result.subject)
    if channel == "sms":
        subject = ""
        body, shortened = safety.clamp_sms(body)
        if shortened:
            flags.append(f"SMS shortened to {SMS_MAX_CHARS} characters")
    elif len(body) > EMAIL_BODY_MAX_CHARS:
        body = body[:EMAIL_BODY_MAX_CHARS]
        flags.append("body shortened")
    checked = f"{subject}\n{body}"
    own_address = getattr(request.contact, "email", "") or ""
    if own_address:  # the recipient's own address (a merge field) is not a foreign link
        checked = checked.replace(own_address, "")
    flags.extend(f for f in safety.link_flags(checked, request.tenant) if f not in flags)
    flags.extend(_avoided_terms(request.agent, f"{subject}\n{body}"))
    result.subject = subject
    result.body_text = body
    result.body_html = safety.html_from_text(body) if channel == "email" else ""
    flags.extend(f for f in safety.html_link_flags(result.body_html, request.tenant) if f not in flags)
    result.flags = flags
    result.signed_by = signoff.signer(request.agent, body) if channel == "email" else ""
    return result


def _avoided_terms(agent, text):
    """Short, comma- or line-separated terms in the persona's 'avoid' list that the
    draft uses anyway (longer guidance is for the model, not a word filter)."""
    avoid = getattr(agent, "avoid", "") or ""
    if not avoid:
        return []
    lowered = text.lower()
    terms = [t.strip().strip(".").lower() for t in avoid.replace("\n", ",").split(",")]
    return [f"uses a term the persona avoids: {t}" for t in terms if 0 < len(t) <= 40 and t in lowered]
