"""Conditions on what is known of the contact and the enrollment: a contact field (a
column or a custom field), the lead status, the score band, an enrollment context value.
All of it is on the rows the batch already holds; the only query asks, for custom fields
some contacts lack, whether the field still exists in their workspace at all."""
from datetime import date, datetime, timezone as dt_timezone
from decimal import Decimal, InvalidOperation

from django.db import connection

from contacts.models import Contact, LeadStatus as LeadStatuses, ScoreBand as ScoreBands
from contacts.selectors import custom_field_keys

from . import Outcome

# Contact columns a condition may read.
BUILTIN_FIELDS = (
    "email", "phone", "first_name", "last_name", "company", "title", "timezone", "lead_status", "score_band",
    "source", "created_at", "last_replied_at", "last_meeting_at", "last_contacted_at",
)
OPS = ("equals", "one_of", "contains", "empty", "not_empty", "gt", "lt")
VALUE_OPS = ("equals", "contains", "gt", "lt")

CUSTOM_FIELDS_EXISTING_SQL = """
SELECT k.tenant_id, k.key
FROM unnest(%s::bigint[], %s::text[]) AS k(tenant_id, key)
WHERE EXISTS (
    SELECT 1 FROM contacts_contact c WHERE c.tenant_id = k.tenant_id AND jsonb_exists(c.custom_fields, k.key)
)
"""


# ------------------------------------------------------------------ comparing values

def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
    return None


def _moment(value):
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt_timezone.utc)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=dt_timezone.utc)
    if isinstance(value, str) and len(value.strip()) >= 10:
        try:
            return _moment(datetime.fromisoformat(value.strip()))
        except ValueError:
            return None
    return None


def _text(value):
    return "" if value is None else str(value).strip().lower()


def _empty(value):
    return value is None or (isinstance(value, (str, list, dict)) and not (value.strip() if isinstance(value, str)
                                                                            else value))


def _equal(value, expected):
    a, b = _number(value), _number(expected)
    if a is not None and b is not None:
        return a == b
    return _text(value) == _text(expected)


def compare(value, op, expected):
    """Whether `value` satisfies `op` against `expected`: numbers compare as numbers and
    dates as dates for gt/lt (and numbers for equals); text without regard to case."""
    if op == "empty":
        return _empty(value)
    if op == "not_empty":
        return not _empty(value)
    if _empty(value):
        return False
    if op == "equals":
        return _equal(value, expected)
    if op == "one_of":
        return isinstance(expected, list) and any(_equal(value, each) for each in expected)
    if op == "contains":
        return bool(_text(expected)) and _text(expected) in _text(value)
    if op in ("gt", "lt"):
        for parse in (_number, _moment):
            a, b = parse(value), parse(expected)
            if a is not None and b is not None:
                return a > b if op == "gt" else a < b
        return False
    raise ValueError(f"no such comparison: {op!r}")


def op_problems(leaf):
    op, value = leaf.get("op"), leaf.get("value")
    if op not in OPS:
        return [f"Choose a comparison: {', '.join(OPS)}."]
    if op == "one_of" and (not isinstance(value, list) or not value):
        return ["“one_of” needs a non-empty list of values."]
    if op in VALUE_OPS and (value is None or value == "" or isinstance(value, (list, dict))):
        return [f"“{op}” needs a value."]
    if op in ("gt", "lt") and _number(value) is None and _moment(value) is None:
        return [f"“{op}” compares numbers or dates (YYYY-MM-DD): “{value}” is neither."]
    return []


def _shown(value):
    if isinstance(value, datetime):
        return value.date().isoformat()
    return f"“{str(value)[:80]}”"


# ------------------------------------------------------------------ families

class Fields:
    kinds = ("field",)

    def problems(self, leaf, *, tenant, earlier_message_keys):
        name = leaf.get("field")
        if not isinstance(name, str) or not name:
            return ["Choose a contact field."]
        found = []
        if name not in BUILTIN_FIELDS and name not in custom_field_keys(tenant=tenant):
            found.append(f"Unknown field “{name}”: it is neither a contact field nor a custom field of this workspace.")
        return found + op_problems(leaf)

    def evaluate(self, pairs, *, context):
        wanted = {(e.tenant_id, leaf["field"]) for e, leaf in pairs
                  if leaf.get("field") not in BUILTIN_FIELDS and not self._has_key(e.contact, leaf.get("field"))}
        existing = self._existing(wanted)
        answers = {}
        for e, leaf in pairs:
            name = leaf.get("field")
            if name in BUILTIN_FIELDS:
                value = getattr(e.contact, name)
            elif self._has_key(e.contact, name):
                value = e.contact.custom_fields[name]
            elif (e.tenant_id, name) in existing:
                value = None
            else:
                answers[e.id, id(leaf)] = Outcome(False, missing=f"the field “{name}” no longer exists")
                continue
            try:
                matched = compare(value, leaf.get("op"), leaf.get("value"))
            except ValueError:
                matched = False
            because = f"the contact's {name.replace('_', ' ')} is {_shown(value)}" if matched and not \
                _empty(value) else (f"the contact's {name.replace('_', ' ')} is empty" if matched else "")
            answers[e.id, id(leaf)] = Outcome(matched, because=because)
        return answers

    @staticmethod
    def _has_key(contact, name):
        return isinstance(contact.custom_fields, dict) and name in contact.custom_fields

    @staticmethod
    def _existing(wanted):
        """The (tenant id, custom field) pairs some contact of the tenant still has."""
        if not wanted:
            return set()
        wanted = sorted(wanted)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(CUSTOM_FIELDS_EXISTING_SQL, [[t for t, _ in wanted], [k for _, k in wanted]])
                return set(cursor.fetchall())
        return {(t, k) for t, k in wanted if Contact.objects.filter(tenant_id=t, custom_fields__has_key=k).exists()}


class _Choices:
    """A leaf {"kind": …, "in": [values]} on one contact column."""

    column = ""
    choices = None
    noun = ""

    def problems(self, leaf, *, tenant, earlier_message_keys):
        values = leaf.get("in")
        if not isinstance(values, list) or not values:
            return [f"Choose at least one {self.noun}."]
        unknown = [str(v) for v in values if v not in self.choices.values]
        return [f"Unknown {self.noun}: {', '.join(unknown)}."] if unknown else []

    def evaluate(self, pairs, *, context):
        answers = {}
        for e, leaf in pairs:
            value = getattr(e.contact, self.column)
            matched = isinstance(leaf.get("in"), list) and value in leaf["in"]
            label = self.choices(value).label if value in self.choices.values else value
            answers[e.id, id(leaf)] = Outcome(matched, because=f"the {self.noun} is {label}" if matched else "")
        return answers


class LeadStatus(_Choices):
    kinds = ("lead_status",)
    column, choices, noun = "lead_status", LeadStatuses, "lead status"


class ScoreBand(_Choices):
    kinds = ("score_band",)
    column, choices, noun = "score_band", ScoreBands, "score band"


class ContextValues:
    """A value the flow stored on the enrollment (actions and custom events write them)."""

    kinds = ("context",)

    def problems(self, leaf, *, tenant, earlier_message_keys):
        key = leaf.get("key")
        found = [] if isinstance(key, str) and key.strip() else ["Name the context value to compare."]
        return found + op_problems(leaf)

    def evaluate(self, pairs, *, context):
        answers = {}
        for e, leaf in pairs:
            values = e.context if isinstance(e.context, dict) else {}
            value = values.get(leaf.get("key"))
            try:
                matched = compare(value, leaf.get("op"), leaf.get("value"))
            except ValueError:
                matched = False
            because = f"the enrollment's {leaf.get('key')} is {_shown(value)}" if matched and not _empty(value) else ""
            answers[e.id, id(leaf)] = Outcome(matched, because=because)
        return answers
