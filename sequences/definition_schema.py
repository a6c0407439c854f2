"""The definition document as the API describes it (OpenAPI) and checks its types:
nodes with a stable key, a type, their settings and their outgoing edges; edge
conditions; goals and exit rules (see sequences.flow.definition for the format).

The shapes are loose where node types differ: a node's settings take the Step columns
below plus whatever its type keeps in Step.config, and a condition takes the fields of
its kind. Whether the flow makes sense is checked after, on the node each problem
concerns (sequences.engine.validation)."""
from typing import Annotated, Any, List, Optional

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictInt

from scendcore.api.inputs import Body, Choice, ObjectId, Text

from .flow.definition import MAX_EDGES, MAX_NODES
from .models import Step

NodeKey = Text(64)
Whole = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


def _column(name):
    return Text(Step._meta.get_field(name).max_length or 20_000)


class Loose(Body):
    """Fields beyond the documented ones are kept (they depend on a kind or type)."""

    model_config = ConfigDict(extra="allow")


class Condition(Loose):
    """{"all": [condition…]} | {"any": [condition…]} | a leaf {"kind": …}: engagement with an
    earlier message node ("opened", "not_opened", "clicked", "replied" with "node",
    "within_days", "link_contains"), "field" ("field", "op", "value"), "lead_status" and
    "score_band" ("in"), "tag" ("tag", "has"), "list" ("list", "member"), "context"
    ("key", "op", "value")."""

    all: Optional[List["Condition"]] = None
    any: Optional[List["Condition"]] = None
    kind: Optional[Text(32)] = None
    node: Optional[NodeKey] = None
    within_days: Optional[Annotated[StrictInt, Field(ge=0, le=3650)]] = None
    link_contains: Optional[Text(500)] = None
    field: Optional[Text(100)] = None
    op: Optional[Text(16)] = None
    value: Any = None
    in_: Optional[List[Any]] = Field(None, alias="in")
    tag: Optional[ObjectId] = None
    has: Optional[StrictBool] = None
    list_: Optional[ObjectId] = Field(None, alias="list")
    member: Optional[StrictBool] = None
    key: Optional[Text(64)] = None


Condition.model_rebuild()


class Edge(Body):
    """A way out of a node: `label` ("next", a task outcome, "event"/"timeout" of a wait,
    a branch rule's name or "default", a split arm), the node it leads `to` (null ends the
    flow), a branch rule's `condition`, a split arm's `weight` and `holdout`."""

    label: Text(100)
    to: Optional[NodeKey] = None
    condition: Optional[Condition] = None
    weight: Optional[Annotated[StrictInt, Field(ge=0, le=10_000)]] = None
    holdout: Optional[StrictBool] = None


class NodeSettings(Loose):
    """Message and task nodes keep these in their Step columns (and every node may have a
    delay before it); other settings are the node type's (a wait's "mode", "event" and
    "timeout", an action's "action" and its target, a task's "outcomes", "max_visits")."""

    channel: Optional[Text(16)] = None
    job_type: Optional[Text(24)] = None
    delay_value: Optional[Whole] = None
    delay_unit: Optional[Text(8)] = None
    business_days_only: Optional[StrictBool] = None
    window_days: Optional[List[Annotated[StrictInt, Field(ge=0, le=6)]]] = None
    window_start: Optional[Text(5)] = None
    window_end: Optional[Text(5)] = None
    jitter_minutes: Optional[Whole] = None
    angle: Optional[_column("angle")] = None
    cta: Optional[_column("cta")] = None
    value_proposition: Optional[_column("value_proposition")] = None
    subject_template: Optional[_column("subject_template")] = None
    body_template: Optional[Text(20_000)] = None
    requires_human_approval: Optional[StrictBool] = None
    max_visits: Optional[Annotated[StrictInt, Field(ge=1, le=1000)]] = None
    mode: Optional[Text(16)] = None
    outcomes: Optional[List[Text(64)]] = None
    action: Optional[Text(32)] = None


class Node(Body):
    """One node; the array's order is the outline's. `type` is a node type (message,
    task, wait, branch, split, action, exit)."""

    key: NodeKey
    type: Text(16)
    title: Optional[Text(200)] = None
    settings: Optional[NodeSettings] = None
    edges: Optional[Annotated[List[Edge], Field(max_length=MAX_EDGES)]] = None


class Goal(Loose):
    """A sequence goal: `condition` {"kind": "meeting_booked" | "lead_status" (with "in") |
    "custom_event" (with "name") | "clicked" (with "link_contains")}; `action` "exit" or
    "move" (to `sequence`)."""

    key: NodeKey
    name: Text(200)
    condition: Loose
    action: Choice(("exit", "move"))
    sequence: Optional[ObjectId] = None


class ExitRules(Body):
    """Seed 002's exit rules; left out, today's behaviour (the sequence's stop-on-reply and
    stop-on-meeting pause; conversion and disqualification exit)."""

    reply: Choice(("pause", "exit", "exit_positive", "off")) = None
    meeting: Choice(("pause", "exit", "off")) = None
    conversion: StrictBool = None
    disqualification: StrictBool = None
    no_engagement_days: Optional[Annotated[StrictInt, Field(ge=1, le=3650)]] = None


class Flow(Body):
    """A version's flow: its nodes, goals and exit rules."""

    goals: Optional[Annotated[List[Goal], Field(max_length=50)]] = None
    exit_rules: Optional[ExitRules] = None
    nodes: Optional[Annotated[List[Node], Field(max_length=MAX_NODES)]] = None


# ------------------------------------------------------------------ answers

class NodeOut(Schema):
    key: str
    type: str
    title: str
    settings: dict[str, Any]
    edges: List[dict[str, Any]]


class DefinitionOut(Schema):
    version: int
    state: str
    published_at: Optional[str]
    goals: List[dict[str, Any]]
    exit_rules: dict[str, Any]
    nodes: List[NodeOut]
