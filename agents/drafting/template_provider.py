"""The built-in writer: a natural, personalized message from the contact's profile,
the persona, the step's job type, channel and overrides, with no network and no
database. Phrasing variants are chosen by a hash of (contact, step), so the same
input always gives the same draft while a list of contacts does not all get the
same sentence."""
import re
import zlib
from functools import lru_cache

from . import signoff
from .merge import clean_value, field_values, render_body, render_line, resolve
from .types import Draft

TALKING_POINT_CHANNELS = ("task", "call_reminder")
QUESTION_WORDS = ("would", "could", "can", "are", "is", "do", "does", "how", "what", "when",
                  "shall", "should", "any", "open", "interested", "worth")
DETERMINERS = ("a", "an", "the", "some", "one", "your", "our", "quick", "short", "15", "20", "30")

SUBJECTS = {
    "initial_outreach": (
        ("Idea for {company}", "An idea for your team"),
        ("{sender_company} + {company}", "Quick intro from {sender_company}"),
        ("Question for {first_name}", "Quick question"),
    ),
    "re_engagement": (
        ("Still on your radar, {first_name}?", "Still on your radar?"),
        ("Checking back in with {company}", "Checking back in"),
        ("Worth reconnecting, {first_name}?", "Worth reconnecting?"),
    ),
    "follow_up": (
        ("Following up, {first_name}", "Following up"),
        ("Circling back", "Circling back"),
    ),
}
INTROS = (
    "I'm {sender_name}, {sender_title} at {sender_company}.",
    "My name is {sender_name} and I work at {sender_company}.",
    "{sender_name} here, from {sender_company}.",
)
OPENERS = {
    "follow_up": (
        "I wanted to follow up on my last note in case it got buried.",
        "Circling back on my previous email.",
        "Bumping my earlier note to the top of your inbox.",
    ),
    "re_engagement": (
        "It's been a while since we were last in touch, so I thought I'd check in.",
        "I realize it's been some time since we spoke, and I wanted to reconnect.",
        "It's been a little while, so I wanted to check back in.",
    ),
}
ANGLES = {
    "initial_outreach": (
        "I'm reaching out about {angle}.",
        "I wanted to reach out about {angle}.",
        "The reason for my note: {angle}.",
    ),
    "follow_up": (
        "One more thought on {angle}.",
        "I also wanted to mention {angle}.",
    ),
    "re_engagement": (
        "You came to mind because of {angle}.",
        "I thought of you because of {angle}.",
    ),
}
RELEVANCE = (
    ("Given your role as {title} at {company}, I thought this might be relevant.",
     "I thought this might be relevant for the team at {company}.",
     "I thought this might be relevant to you."),
    ("I thought this might be useful to you as {title} at {company}.",
     "I thought this might be useful for {company}.",
     "I thought this might be useful to you."),
)
CHANGED = "A lot may have changed at {company} since then."
VALUES = ("In short: {value}.", "The short version: {value}.", "{Value}.")
DEFAULT_CTAS = {
    "initial_outreach": "Would you be open to a short call next week?",
    "follow_up": "Is this worth a quick conversation?",
    "re_engagement": "Is this still a priority for you this quarter?",
    "task": "Is now a good time to talk about next steps?",
    "call_reminder": "Would a follow-up meeting with the team be useful?",
}
SIGNOFFS = ("Best,", "Thanks,", "All the best,")


def _pick(options, seed, slot):
    return options[(seed >> (slot * 3)) % len(options)] if options else ""


def _lower_first(text):
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _upper_first(text):
    return text[:1].upper() + text[1:]


def _phrase(text):
    return clean_value(text).rstrip(".!? ")


PRONOUNS = re.compile(r"\b(they're|theirs|their|them|they)\b", re.IGNORECASE)
YOURS = {"they're": "you're", "theirs": "yours", "their": "your", "them": "you", "they": "you"}


def _second_person(hint):
    """Overrides are written about the contact ("their team"); the message speaks to
    them ("your team")."""
    def swap(match):
        word = YOURS[match.group(0).lower()]
        return word.capitalize() if match.group(0)[0].isupper() else word

    return PRONOUNS.sub(swap, hint)


def cta_sentence(cta):
    """A CTA hint as a natural closing question."""
    cta = clean_value(cta)
    if not cta:
        return ""
    if cta.endswith("?"):
        return _upper_first(cta)
    bare = cta.rstrip(".! ")
    first = bare.split(" ", 1)[0].lower()
    if first in QUESTION_WORDS:
        return _upper_first(bare) + "?"
    if first in DETERMINERS:
        return f"Would you be open to {_lower_first(bare)}?"
    return f"Would it make sense to {_lower_first(bare)}?"


def _format(template, values):
    """str.format that yields '' when any field it needs is missing."""
    try:
        text = template.format_map(values)
    except KeyError:
        return ""
    return text


class _Values(dict):
    """Only non-empty values are present, so a template needing a missing one fails."""

    def __init__(self, base):
        super().__init__({k: v for k, v in base.items() if v})


def _first_of(templates, values):
    for template in templates:
        text = _format(template, values)
        if text:
            return text
    return ""


PROFILE_FIELDS = (
    "first_name", "full_name", "company", "title", "timezone", "sender_name", "sender_title", "sender_company",
)


def _profile_values(request):
    agent, contact = request.agent, request.contact
    fallbacks = getattr(agent, "fallbacks", None) or {}
    raw = field_values(contact=contact, agent=agent)
    # Each of these is a known field: the profile's own value stands, and only a missing
    # one is resolved (through the agent's fallbacks).
    values = _Values({name: raw[name] or resolve(name, raw, fallbacks) for name in PROFILE_FIELDS})
    if not signoff.persona_signs(agent):
        # The mailbox's signature signs: introducing the persona by name would make the
        # letter disagree with its signature and its From name.
        values.pop("sender_name", None)
        values.pop("sender_title", None)
    industry = raw.get("custom.industry") or clean_value(fallbacks.get("custom.industry", ""))
    if industry:
        values["industry"] = industry
    return raw, fallbacks, values


# The step's overrides read the same for every contact: phrased once per text, not once
# per draft (the processor drafts thousands of contacts of the same step per batch).
@lru_cache(maxsize=1024)
def _step_phrases(angle, value):
    phrases = {}
    angle, value = _phrase(angle), _phrase(value)
    if angle:
        phrases["angle"] = _second_person(_lower_first(angle))
    if value:
        value = _second_person(value)
        phrases["value"] = _lower_first(value)
        phrases["Value"] = _upper_first(value)
    return tuple(phrases.items())


@lru_cache(maxsize=1024)
def _description(text):
    return _lower_first(_phrase(text))


@lru_cache(maxsize=1024)
def _cta(cta, job_type):
    return _second_person(cta_sentence(cta)) or DEFAULT_CTAS.get(job_type, DEFAULT_CTAS["initial_outreach"])


def write(request):
    step, agent, contact = request.step, request.agent, request.contact
    channel = request.effective_channel
    job_type = getattr(step, "job_type", "") or "initial_outreach"
    seed = zlib.crc32(f"{getattr(contact, 'pk', '')}:{getattr(step, 'pk', '')}".encode())
    raw, fallbacks, values = _profile_values(request)

    values.update(_step_phrases(getattr(step, "angle", "") or "", getattr(step, "value_proposition", "") or ""))
    cta = _cta(getattr(step, "cta", "") or "", job_type)

    if channel in TALKING_POINT_CHANNELS or job_type in TALKING_POINT_CHANNELS:
        return _talking_points(request, values, cta, channel, job_type)

    subject_template = getattr(step, "subject_template", "") or ""
    body_template = getattr(step, "body_template", "") or ""
    body = render_body(body_template, raw, fallbacks) if body_template.strip() else ""
    if channel == "sms":
        return Draft(subject="", body_text=body or _sms(request, values, cta, job_type, seed), provider="template")

    subject = render_line(subject_template, raw, fallbacks) if subject_template.strip() else ""
    subject = subject or _subject(request, values, job_type, seed)
    body = body or _email_body(request, values, cta, job_type, seed)
    return Draft(subject=subject, body_text=body, provider="template")


def _subject(request, values, job_type, seed):
    if job_type == "follow_up" and request.thread:
        earlier = clean_value(getattr(request.thread[-1], "subject", ""))
        while earlier.lower().startswith("re:"):
            earlier = earlier[3:].strip()
        if earlier:
            return f"Re: {earlier}"
    options = SUBJECTS.get(job_type, SUBJECTS["initial_outreach"])
    return _first_of(_pick(options, seed, 0), values) or "Quick question"


def _email_body(request, values, cta, job_type, seed):
    greeting = _format("Hi {first_name},", values) or "Hi there,"
    opening = []
    if job_type in OPENERS:
        opening.append(_pick(OPENERS[job_type], seed, 1))
    else:
        intro = _format(_pick(INTROS, seed, 1), values) or _format("I work at {sender_company}.", values)
        if intro:
            opening.append(intro)
    if "angle" in values:
        angles = ANGLES.get(job_type, ANGLES["initial_outreach"])
        opening.append(_format(_pick(angles, seed, 2), values))
    if job_type == "re_engagement":
        opening.append(_format(CHANGED, values))
    elif job_type == "initial_outreach":
        opening.append(_first_of(_pick(RELEVANCE, seed, 3), values))

    middle = []
    if "value" in values:
        middle.append(_format(_pick(VALUES, seed, 4), values))
    else:
        description = _description(getattr(request.agent, "company_description", "") or "")
        if description and "sender_company" in values:
            middle.append(f"{values['sender_company']} is {description}.")
    if "industry" in values and job_type == "initial_outreach":
        middle.append(f"We work with a number of teams in {values['industry']}.")
    middle.append(cta)

    signoff = [_pick(SIGNOFFS, seed, 5)]
    if "sender_name" in values:
        signoff.append(values["sender_name"])
        role = ", ".join(v for v in (values.get("sender_title"), values.get("sender_company")) if v)
        if role:
            signoff.append(role)
    paragraphs = [greeting, " ".join(s for s in opening if s), " ".join(s for s in middle if s), "\n".join(signoff)]
    return "\n\n".join(p for p in paragraphs if p)


def _sms(request, values, cta, job_type, seed):
    greeting = _format("Hi {first_name},", values) or "Hi,"
    who = _format("it's {sender_name} from {sender_company}.", values) or _format(
        "it's {sender_company}.", values)
    if job_type == "follow_up":
        who = (who[:-1] + " again" + ".") if who else "following up."
    parts = [greeting, who]
    if "value" in values:
        parts.append(values["Value"] + ".")
    elif "angle" in values:
        parts.append(_upper_first(values["angle"]) + ".")
    parts.append(cta)
    return " ".join(p for p in parts if p)


def _talking_points(request, values, cta, channel, job_type):
    kind = "call" if "call_reminder" in (channel, job_type) else "task"
    who = values.get("full_name") or values.get("first_name") or "this contact"
    at = _format(" ({title} at {company})", values) or _format(" ({company})", values)
    raw, fallbacks, _ = _profile_values(request)
    # Every page shows a task's kind ("Call", "Task") next to its title, so the title
    # itself does not start with it. The step's own title, when set, is used as written.
    title_template = getattr(request.step, "subject_template", "") or ""
    subject = render_line(title_template, raw, fallbacks) if title_template.strip() else ""
    subject = subject or (f"{who}{_format(' at {company}', values)}" if kind == "call" else
                          f"Follow up with {who}{_format(' at {company}', values)}")
    # The rep's instructions from the step come first: they are what the rep was asked to do.
    instructions = getattr(request.step, "body_template", "") or ""
    instructions = render_body(instructions, raw, fallbacks).strip() if instructions.strip() else ""
    points = [f"Instructions: {instructions}", ""] if instructions else []
    points.append(f"Talking points for your {kind} with {who}{at}:")
    if "timezone" in values:
        points.append(f"- Their time zone: {values['timezone']}; call during their working hours.")
    if "industry" in values:
        points.append(f"- Industry: {values['industry']}.")
    if "angle" in values:
        points.append(f"- Open with {values['angle']}.")
    if "value" in values:
        points.append(f"- Key point: {values['value']}.")
    elif getattr(request.agent, "company_description", ""):
        points.append(f"- What we do: {_phrase(request.agent.company_description)}.")
    points.append(f"- Ask: {cta}")
    if request.thread:
        last = clean_value(getattr(request.thread[-1], "subject", "")) or "(no subject)"
        points.append(f"- Earlier messages in this sequence: {len(request.thread)}; the last was \"{last}\".")
    avoid = clean_value(getattr(request.agent, "avoid", ""))
    if avoid:
        points.append(f"- Avoid: {avoid}")
    return Draft(subject=subject, body_text="\n".join(points), provider="template")
