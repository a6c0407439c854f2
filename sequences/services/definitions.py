"""Whole definitions: a sequence created from a definition document (the API's, a flow
template's), a document saved over the version being edited, and the problems of
either keyed like the API's errors ({"nodes.<key>.<field>": [...]}).

A new sequence's version 1 is published from the start, so a document with any problem
creates nothing. A later save goes into a draft once contacts are on the published
version (then its problems are reported and a publish refuses them); while nobody is on
it yet the save changes the published version itself, so it is refused like a publish.
"""
import copy

from django.core.exceptions import ValidationError
from django.db import transaction

from ..flow.definition import node_field, read_document
from ..models import Sequence, Step, VersionState
from .sequences import sequence_create, sequence_update_settings
from .versions import definition_save

TAG_FIELD = "tag"
OWN_FIELDS = ("name", "description")  # a definition's own fields; the others are its "settings"


def keyed(problems):
    """flow_problems' {node key: {field: [message]}} as {"nodes.<key>.<field>": [message]};
    a problem of the whole flow keeps its field name."""
    from ..engine.validation import FLOW

    return {field if key == FLOW else node_field(key, field): list(messages)
            for key, fields in problems.items() for field, messages in fields.items()}


def _goal_problems(goals, *, tenant):
    """A goal that moves contacts names one of this workspace's sequences."""
    problems = {}
    for index, goal in enumerate(goals, start=1):
        target = goal.get("sequence")
        if goal.get("action") != "move" and target is None:
            continue
        where = f"goals.{goal.get('key') or index}.sequence"
        if not isinstance(target, int) or isinstance(target, bool) or not 1 <= target < 2**63:
            problems[where] = ["Choose the sequence this goal moves contacts to."]
        elif not Sequence.objects.filter(tenant=tenant, pk=target).exists():
            problems[where] = ["Choose one of this workspace's sequences."]
    return problems


def nodes_problems(nodes, goals, *, tenant):
    """Every problem of a flow made of `nodes` with `goals`, keyed like the API's errors."""
    from ..engine.validation import flow_problems

    return {**keyed(flow_problems(nodes, tenant=tenant)), **_goal_problems(goals, tenant=tenant)}


def document_problems(document, *, tenant):
    """The problems of a definition document: its shape first, then its sense."""
    nodes, goals, _, shape = read_document(document)
    if shape:
        return dict(shape)
    return nodes_problems(nodes, goals, tenant=tenant)


def version_problems(version, *, tenant):
    return nodes_problems(list(Step.objects.filter(version=version)), list(version.goals or ()), tenant=tenant)


def _settings_apply(*, tenant, sequence, actor, settings):
    try:
        return sequence_update_settings(tenant=tenant, sequence=sequence, actor=actor, values=settings)
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            raise ValidationError({name if name in OWN_FIELDS else f"settings.{name}": messages
                                   for name, messages in error.message_dict.items()}) from None
        raise ValidationError({"settings": error.messages}) from None


@transaction.atomic
def definition_create(*, tenant, actor, name, document, description="", settings=None):
    """A sequence (a draft to activate) with `settings` (Sequence fields, related objects
    already this tenant's) whose version 1 is `document`; refused whole, keyed like the
    API's errors, when the document or the settings have a problem."""
    problems = document_problems(document, tenant=tenant)
    if problems:
        raise ValidationError(problems)
    sequence = sequence_create(tenant=tenant, actor=actor, name=name, description=description)
    if settings:
        sequence = _settings_apply(tenant=tenant, sequence=sequence, actor=actor, settings=settings)
    definition_save(tenant=tenant, sequence=sequence, actor=actor, document=document)
    sequence.refresh_from_db()
    return sequence


@transaction.atomic
def definition_update(*, tenant, sequence, actor, document, settings=None):
    """Save `document` (and `settings`) into the version being edited: (version, its
    problems). Refused, with nothing saved, when that version is the published one and
    the flow has problems."""
    if settings:
        sequence = _settings_apply(tenant=tenant, sequence=sequence, actor=actor, settings=settings)
    version = definition_save(tenant=tenant, sequence=sequence, actor=actor, document=document)
    problems = version_problems(version, tenant=tenant)
    if problems and version.state == VersionState.PUBLISHED:
        raise ValidationError(problems)
    return version, problems


def tag_names(document):
    """Every tag a document names rather than gives by id ({"tag": "High Intent"})."""
    found, stack = set(), [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for name, inner in value.items():
                if name == TAG_FIELD and isinstance(inner, str):
                    found.add(inner)
                else:
                    stack.append(inner)
        elif isinstance(value, list):
            stack.extend(value)
    return found


def with_tag_ids(document, tags):
    """A copy of `document` with each tag name replaced by the id of `tags[name]`."""
    document = copy.deepcopy(document)
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for name, inner in value.items():
                if name == TAG_FIELD and isinstance(inner, str):
                    value[name] = tags[inner].pk
                else:
                    stack.append(inner)
        elif isinstance(value, list):
            stack.extend(value)
    return document


def template_document(*, tenant, template, actor=None):
    """A flow template's document for `tenant`: the tags it names are the tenant's (made
    when new)."""
    from contacts.services.tags import tags_by_name

    names = tag_names(template.document)
    tags = tags_by_name(tenant=tenant, names=names, actor=actor) if names else {}
    return with_tag_ids(template.document, tags)
