"""Merge fields that step templates (subject and body) may use.

The builder validates templates against this list when a step is saved, and the
agents' renderer reads the same list, so a template that saves is one that renders.
"""
import re

# {{custom.<key>}} is allowed on top of these: any key of the contact's custom fields.
MERGE_FIELDS = (
    "first_name", "last_name", "full_name", "company", "title", "email",
    "sender_name", "sender_title", "sender_company",
)
CUSTOM_PREFIX = "custom."

FIELD_RE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
CUSTOM_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def known_fields_text():
    """The list as shown to a user in help texts."""
    return ", ".join("{{%s}}" % name for name in MERGE_FIELDS) + ", {{custom.<key>}}"


def is_known(name):
    if name in MERGE_FIELDS:
        return True
    if name.startswith(CUSTOM_PREFIX):
        return bool(CUSTOM_KEY_RE.match(name[len(CUSTOM_PREFIX):]))
    return False


def fields_in(text):
    """The field names used in `text`, in order of appearance (spaces inside the
    braces are allowed: {{ first_name }})."""
    return [match.group(1).strip() for match in FIELD_RE.finditer(text or "")]


def validate_template(text):
    """Problems with the merge fields of `text`, as sentences for the user; [] when fine."""
    text = text or ""
    problems = []
    unknown = []
    for name in fields_in(text):
        if not is_known(name) and name not in unknown:
            unknown.append(name)
    if unknown:
        listed = ", ".join("{{%s}}" % name for name in unknown)
        noun = "field" if len(unknown) == 1 else "fields"
        problems.append(f"Unknown merge {noun} {listed}. You can use {known_fields_text()}.")
    leftover = FIELD_RE.sub("", text)
    if "{{" in leftover or "}}" in leftover:
        problems.append("A merge field is not closed: write it as {{first_name}}.")
    return problems
