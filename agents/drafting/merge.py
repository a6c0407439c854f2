"""Merge fields in step templates ({{first_name}}, {{custom.industry}} …).

Templates are compiled once (cached by their text) into lines of sentences of
literal/field segments, so rendering a draft is a few list walks and no regex.
A field that has no value and no configured fallback is never left in the output:
the greeting becomes "Hi there,", a subject loses the phrase that needed it, and any
other sentence that needed it is left out.
"""
import re
from functools import lru_cache

# The merge fields a step template may use besides custom.<key> come from the builder's
# list (sequences/merge_fields.py), so a template that saves is one that renders.
# "timezone" is context for the built-in writer's talking points, not a template field.
from sequences.merge_fields import CUSTOM_PREFIX, MERGE_FIELDS, is_known  # noqa: E402

KNOWN_FIELDS = (*MERGE_FIELDS, "timezone")

FIELD_RE = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
GREETING_RE = re.compile(
    r"^(\s*)(hi|hello|hey|dear|good morning|good afternoon)\s+\{\{\s*(first_name|full_name)\s*\}\}\s*([,!.:]?)\s*$",
    re.IGNORECASE,
)
DANGLING_BEFORE = re.compile(r"(?:\s+(?:for|at|with|to|in|from|about|of|on|and|&|x|\+|-|–|—|,|:))+\s*$", re.IGNORECASE)
DANGLING_AFTER = re.compile(r"^(?:'s|’s)?(?:\s*(?:-|–|—|,|:|\+|&))*", re.IGNORECASE)
MAX_VALUE_CHARS = 200


def is_known_field(name):
    """The builder's rule (sequences.merge_fields.is_known), plus the writer-only field."""
    return name == "timezone" or is_known(name)


def clean_value(value):
    """Contact data becomes one line of plain text: no newlines (so nothing a contact
    typed can start a header-like line), bounded length."""
    if type(value) is not str:  # a str is by far the usual value: no other checks for it
        if value is None or isinstance(value, (dict, list, tuple, set, bool)):
            return ""
        value = str(value)
    text = " ".join(value.split())
    return text[:MAX_VALUE_CHARS].strip() if len(text) > MAX_VALUE_CHARS else text


def field_values(*, contact, agent):
    """The whitelisted profile as merge values (empty string when missing)."""
    first = clean_value(getattr(contact, "first_name", ""))
    last = clean_value(getattr(contact, "last_name", ""))
    values = {
        "first_name": first,
        "last_name": last,
        "full_name": f"{first} {last}".strip(),
        "company": clean_value(getattr(contact, "company", "")),
        "title": clean_value(getattr(contact, "title", "")),
        "timezone": clean_value(getattr(contact, "timezone", "")),
        "email": clean_value(getattr(contact, "email", "")),
        **_sender_values(getattr(agent, "sender_name", ""), getattr(agent, "sender_title", ""),
                         getattr(agent, "company_name", "")),
    }
    custom = getattr(contact, "custom_fields", None) or {}
    if isinstance(custom, dict):
        for key, value in custom.items():
            cleaned = clean_value(value)
            if cleaned:
                values[CUSTOM_PREFIX + str(key)] = cleaned
    return values


@lru_cache(maxsize=1024)
def _sender_values(name, title, company):
    # The persona is the same for every draft of a batch: cleaned once per text.
    return {"sender_name": clean_value(name), "sender_title": clean_value(title),
            "sender_company": clean_value(company)}


def resolve(name, values, fallbacks):
    """The value for a field, else the agent's fallback for it, else ''."""
    value = values.get(name, "") if is_known_field(name) else ""
    if value:
        return value
    return clean_value((fallbacks or {}).get(name, ""))


# Compiled form: a tuple of segments; a segment is a str (literal) or a 1-tuple (field,).
@lru_cache(maxsize=4096)
def _compile_text(text):
    parts, position = [], 0
    for match in FIELD_RE.finditer(text):
        if match.start() > position:
            parts.append(text[position:match.start()])
        parts.append((match.group(1),))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


@lru_cache(maxsize=4096)
def _compile_body(text):
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        greeting = GREETING_RE.match(line)
        if greeting:
            lines.append(("greeting", greeting.groups()))
        elif "{{" in line:
            lines.append(("sentences", tuple(_compile_text(s) for s in SENTENCE_SPLIT.split(line))))
        else:
            lines.append(("literal", line))
    return tuple(lines)


def _fill(segments, lookup):
    """The text, or None when a field in it has no value."""
    out = []
    for segment in segments:
        if isinstance(segment, str):
            out.append(segment)
        else:
            value = lookup(segment[0])
            if not value:
                return None
            out.append(value)
    return "".join(out)


def render_body(text, values, fallbacks):
    lookup = lambda name: resolve(name, values, fallbacks)  # noqa: E731
    out = []
    for kind, payload in _compile_body(text):
        if kind == "literal":
            out.append(payload)
        elif kind == "greeting":
            indent, word, name, punct = payload
            value = lookup(name)
            if value:
                out.append(f"{indent}{word} {value}{punct}")
            elif word.lower() == "dear":
                out.append(f"{indent}Hello{punct or ','}")
            else:
                out.append(f"{indent}{word} there{punct}")
        else:
            kept = [s for s in (_fill(segs, lookup) for segs in payload) if s is not None]
            if kept:
                out.append(" ".join(kept))
    return _tidy_lines(out)


def render_line(text, values, fallbacks):
    """A one-line template (a subject). A missing field at either end drops the phrase
    around it ("Idea for {{company}}" → "Idea"); one in the middle would leave a broken
    line, so the result is '' and the caller writes its own subject."""
    lookup = lambda name: resolve(name, values, fallbacks)  # noqa: E731
    segments = _compile_text(text)
    out, pending_cut = "", False
    for index, segment in enumerate(segments):
        if isinstance(segment, str):
            if pending_cut:
                segment = DANGLING_AFTER.sub("", segment)
                pending_cut = False
            out += segment
            continue
        value = lookup(segment[0])
        if value:
            out += value
            continue
        if out.strip(" -–—,:;&+") and _has_words_after(segments, index):
            return ""
        out = DANGLING_BEFORE.sub("", out)
        pending_cut = True
    line = " ".join(out.split()).strip(" -–—,:;&+")
    return line[:1].upper() + line[1:]


def _has_words_after(segments, index):
    rest = segments[index + 1:]
    if not rest:
        return False
    first = rest[0]
    if isinstance(first, str):
        first = DANGLING_AFTER.sub("", first)
        return any(ch.isalnum() for ch in first) or len(rest) > 1
    return True


def _tidy_lines(lines):
    # Dropped lines can leave runs of blank lines; keep at most one, none at the ends.
    tidy, blank = [], False
    for line in lines:
        if line.strip():
            tidy.append(line.rstrip())
            blank = False
        elif not blank and tidy:
            tidy.append("")
            blank = True
    while tidy and not tidy[-1]:
        tidy.pop()
    return "\n".join(tidy)
