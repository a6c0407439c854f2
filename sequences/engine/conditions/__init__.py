"""Conditions: the rules a branch node evaluates (and what a node's settings are checked
against). A condition is a tree: {"all": [...]}, {"any": [...]}, or a leaf {"kind": …}.

Each leaf kind belongs to one registered family (engagement with an earlier message,
contact fields, tags, lists …). Evaluation is set-based: every leaf of every tree asked
about in one call is grouped by family, and each family answers for all of its leaves
with at most one query, whatever the number of enrollments or rules. A leaf whose
reference no longer exists (a deleted tag, list, field or message node) never matches;
its outcome says why, so the caller can record it."""
from dataclasses import dataclass
from typing import Protocol

COMBINATORS = ("all", "any")


@dataclass(frozen=True)
class Outcome:
    matched: bool
    # The fact that made a leaf match, in words ("the contact clicked …/book-demo at …").
    because: str = ""
    # Why the leaf could not be evaluated (its reference is gone); it then never matches.
    missing: str = ""


NO = Outcome(False)


@dataclass
class Context:
    """What families may read besides the enrollments: the batch's moment and the graph
    each enrollment walks (to tell which nodes exist)."""

    now: object
    graph_for: object  # enrollment -> navigator.Graph


class ConditionFamily(Protocol):
    # The leaf kinds it evaluates.
    kinds: tuple

    def problems(self, leaf, *, tenant, earlier_message_keys) -> list:
        """Messages for a leaf of one of `kinds` that cannot work: an unknown field, a tag
        or list that does not exist in `tenant`, a node that is not an earlier message."""

    def evaluate(self, pairs, *, context) -> dict:
        """{(enrollment id, id(leaf)): Outcome} for `pairs` of (enrollment, leaf), with
        at most one query for all of them. Pairs left out do not match."""


class UnknownCondition(LookupError):
    def __init__(self, kind):
        super().__init__(f"no such condition kind: {kind!r}")
        self.kind = kind


_FAMILIES = {}


def register(family):
    for kind in family.kinds:
        if kind in _FAMILIES and _FAMILIES[kind] is not family:
            raise ValueError(f"a condition kind named {kind!r} is already registered")
        _FAMILIES[kind] = family
    return family


def family_of(kind):
    try:
        return _FAMILIES[kind]
    except (KeyError, TypeError):
        raise UnknownCondition(kind) from None


def kinds():
    return sorted(_FAMILIES)


def leaves(condition):
    """The leaves of a condition tree, depth first."""
    if not isinstance(condition, dict):
        return []
    for word in COMBINATORS:
        if word in condition:
            parts = condition[word]
            return [leaf for part in (parts if isinstance(parts, list) else []) for leaf in leaves(part)]
    return [condition]


# ------------------------------------------------------------------ checking

def problems(condition, *, tenant, earlier_message_keys):
    """Every message about `condition` (empty when it can be evaluated).
    `earlier_message_keys`: the message nodes that can run before the node asking, or
    None when that is checked elsewhere (against a whole definition)."""
    if not isinstance(condition, dict) or not condition:
        return ["A condition must be a JSON object."]
    for word in COMBINATORS:
        if word in condition:
            parts = condition[word]
            if len(condition) != 1:
                return [f"“{word}” takes nothing beside its list of conditions."]
            if not isinstance(parts, list) or not parts:
                return [f"“{word}” needs a non-empty list of conditions."]
            found = []
            for part in parts:
                found += [m for m in problems(part, tenant=tenant, earlier_message_keys=earlier_message_keys)
                          if m not in found]
            return found
    try:
        family = family_of(condition.get("kind"))
    except UnknownCondition as exc:
        return [str(exc).capitalize() + "."]
    earlier = None if earlier_message_keys is None else set(earlier_message_keys)
    return family.problems(condition, tenant=tenant, earlier_message_keys=earlier)


# ------------------------------------------------------------------ evaluating

def outcomes_for(pairs, *, context):
    """Evaluate many (enrollment, condition tree) pairs at once: a list of Outcome in the
    order of `pairs`. One call per family for all the leaves of all the trees."""
    grouped, answers = {}, {}
    for e, condition in pairs:
        for leaf in leaves(condition):
            try:
                family = family_of(leaf.get("kind"))
            except UnknownCondition as exc:
                answers[e.id, id(leaf)] = Outcome(False, missing=str(exc))
                continue
            grouped.setdefault(id(family), (family, []))[1].append((e, leaf))
    for family, family_pairs in grouped.values():
        answers.update(family.evaluate(family_pairs, context=context))
    return [_tree(condition, e, answers) for e, condition in pairs]


def matching(enrollments, condition, *, context):
    """The ids of `enrollments` that `condition` matches."""
    outcomes = outcomes_for([(e, condition) for e in enrollments], context=context)
    return {e.id for e, outcome in zip(enrollments, outcomes) if outcome.matched}


def _tree(condition, e, answers):
    if not isinstance(condition, dict) or not condition:
        return Outcome(False, missing="a condition that is not valid")
    if "all" in condition or "any" in condition:
        word = "all" if "all" in condition else "any"
        parts = [_tree(part, e, answers) for part in condition[word]] if isinstance(condition[word], list) else []
        if not parts:
            return Outcome(False, missing="a condition that is not valid")
        missing = next((p.missing for p in parts if p.missing), "")
        if word == "all":
            if missing or not all(p.matched for p in parts):
                return Outcome(False, missing=missing)
            return Outcome(True, because=" and ".join(p.because for p in parts if p.because))
        matched = next((p for p in parts if p.matched), None)
        return matched if matched is not None else Outcome(False, missing=missing)
    return answers.get((e.id, id(condition)), NO)


def _register_builtin():
    from .engagement import Engagement
    from .fields import ContextValues, Fields, LeadStatus, ScoreBand
    from .membership import Lists, Tags

    for family in (Engagement(), Fields(), LeadStatus(), ScoreBand(), Tags(), Lists(), ContextValues()):
        register(family)


_register_builtin()
