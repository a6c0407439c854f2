"""Form shapes for the outline's nodes: one form per node type, each turning what the rep
chose into the shared formats (Step columns, `config`, `edges`) and back. Message and task
nodes keep the step forms (sequences.forms); `PathsForm` adds their name and paths.

Every picker lists only the tenant's objects (tags, lists, sequences) and this flow's
nodes, so a posted id of anything else is a choice error, shown inline."""
from django import forms

from contacts.models import ContactList, LeadStatus, ScoreBand, Tag

from .flow.navigator import NEXT
from .forms import DAY_CHOICES, StepForm, TaskStepForm
from .models import DelayUnit, Sequence, StepKind
from .outline import Names, node_name

END = "__end__"  # a path's target "end the flow" (keys start with a letter or digit)
RULES = 3
CONDITIONS = 2
ARMS = 4
OUTCOMES = 4
ENGAGEMENT = ("opened", "not_opened", "clicked", "replied")
CONDITION_KINDS = [
    ("", "—"), ("opened", "Opened"), ("not_opened", "Did not open"), ("clicked", "Clicked"),
    ("replied", "Replied"), ("field", "Contact field"), ("lead_status", "Lead status"),
    ("score_band", "Score band"), ("tag", "Tag"), ("list", "List membership"), ("context", "Enrollment context"),
]
OPS = [("equals", "equals"), ("one_of", "is one of (comma-separated)"), ("contains", "contains"),
       ("empty", "is empty"), ("not_empty", "is not empty"), ("gt", "greater than"), ("lt", "less than")]
VALUELESS_OPS = ("empty", "not_empty")
WAIT_EVENTS = [("opened", "Opened"), ("clicked", "Clicked"), ("replied", "Replied"),
               ("meeting_booked", "Meeting booked"), ("field_changed", "A contact field changed"),
               ("tag_added", "Tag added"), ("custom", "Custom event")]
ACTIONS = [("add_tag", "Add a tag"), ("remove_tag", "Remove a tag"), ("set_field", "Set a contact field"),
           ("add_to_list", "Add to a list"), ("remove_from_list", "Remove from a list"),
           ("set_lead_status", "Change the lead status"), ("notify_owner", "Notify the owner"),
           ("move_to_sequence", "Move to another sequence"), ("set_context", "Set a context value"),
           ("exit", "Exit the flow")]
# action -> (the form field it needs, the config key it is stored under)
ACTION_TARGETS = {
    "add_tag": ("tag", "tag"), "remove_tag": ("tag", "tag"), "set_field": ("field", "field"),
    "add_to_list": ("list", "list"), "remove_from_list": ("list", "list"), "set_lead_status": ("status", "status"),
    "notify_owner": ("message", "message"), "move_to_sequence": ("sequence", "sequence"),
    "set_context": ("key", "key"), "exit": ("reason", "reason"),
}
ACTION_VALUES = ("set_field", "set_context")
YES_NO = [("yes", "has"), ("no", "does not have")]
MEMBER = [("yes", "is in"), ("no", "is not in")]
TIMEOUT_UNITS = [(u.value, u.label) for u in DelayUnit]


def _to(choice):
    return None if choice == END else choice


def _choice(to):
    return END if to is None else to


class NodeForm(forms.Form):
    """A node's name and, in subclasses, its settings. `nodes`: the flow's nodes (targets
    and condition pickers come from them); `node`: the node edited (None when adding)."""

    node_name = forms.CharField(max_length=200, required=False, label="Name",
                                help_text="Shown in the outline, e.g. “Case study”.")
    kind = None

    def __init__(self, *args, tenant, nodes, node=None, sequence=None, **kwargs):
        self.tenant, self.nodes, self.node, self.sequence = tenant, nodes, node, sequence
        super().__init__(*args, **kwargs)
        own = node.key if node is not None else None
        names = Names.of(tenant=tenant, nodes=nodes)
        others = [(n.key, node_name(n, names)) for n in nodes if n.key != own]
        self.targets = [(END, "End the flow"), *others]
        self.message_nodes = [("", "—"), *((n.key, node_name(n, names)) for n in nodes
                                          if n.kind == StepKind.MESSAGE and n.key != own)]
        for name, field in self.fields.items():
            if getattr(field, "is_target", False):
                field.choices = [("", field.blank_label), *self.targets]
            if getattr(field, "is_message_picker", False):
                field.choices = self.message_nodes
            if isinstance(field, forms.ModelChoiceField):
                field.queryset = field.queryset.model.objects.filter(tenant=tenant)
        if "sequence" in self.fields and sequence is not None:
            self.fields["sequence"].queryset = self.fields["sequence"].queryset.exclude(pk=sequence.pk)

    @classmethod
    def initial_for(cls, node):
        data = {"node_name": node.title} if node is not None else {}
        if node is not None:
            data.update(cls.initial_settings(node))
        return data

    @classmethod
    def initial_settings(cls, node):
        return {}

    def node_values(self):
        """{"title", "values", "config", "edges"} for the services."""
        return {"title": self.cleaned_data.get("node_name") or "", "values": {}, "config": {}, "edges": []}


def target_field(label="Then", blank_label="Continue with the node below", required=False):
    field = forms.ChoiceField(label=label, required=required, choices=[])
    field.is_target, field.blank_label = True, blank_label
    return field


def message_picker(label):
    field = forms.ChoiceField(label=label, required=False, choices=[])
    field.is_message_picker = True
    return field


def _next_choice(node):
    edge = next((e for e in node.edges or () if e.get("label") == NEXT), None)
    return "" if edge is None else _choice(edge.get("to"))


def _next_edges(choice):
    return [] if not choice else [{"label": NEXT, "to": _to(choice)}]


# ---------------------------------------------------------------- message and task

class PathsForm(NodeForm):
    """Beside a message or task step form: its name in the outline, its "then" path,
    and for a task the outcomes the rep records, each with its own path."""

    next_to = target_field()

    def __init__(self, *args, outcomes=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_outcomes = outcomes
        if outcomes:
            self.fields["next_to"].label = "Any other outcome, or plain completion"
            for i in range(1, OUTCOMES + 1):
                self.fields[f"outcome_{i}"] = forms.CharField(max_length=60, required=False, label=f"Outcome {i}")
                field = self.fields[f"outcome_{i}_to"] = target_field(label="leads to")
                field.choices = [("", field.blank_label), *self.targets]

    @property
    def outcome_rows(self):
        return [(self[f"outcome_{i}"], self[f"outcome_{i}_to"]) for i in range(1, OUTCOMES + 1)] \
            if self.with_outcomes else []

    @classmethod
    def initial_settings(cls, node):
        data = {"next_to": _next_choice(node)}
        paths = {e.get("label"): e.get("to") for e in node.edges or ()}
        for i, outcome in enumerate((node.config or {}).get("outcomes", [])[:OUTCOMES], start=1):
            data[f"outcome_{i}"] = outcome
            data[f"outcome_{i}_to"] = _choice(paths[outcome]) if outcome in paths else ""
        return data

    def clean(self):
        data = super().clean()
        seen = set()
        for i in range(1, OUTCOMES + 1) if self.with_outcomes else ():
            outcome = (data.get(f"outcome_{i}") or "").strip()
            if outcome and (outcome in seen or outcome == NEXT):
                self.add_error(f"outcome_{i}", "Each outcome needs its own name.")
            seen.add(outcome)
        return data

    def node_values(self):
        result = super().node_values()
        data, edges, outcomes = self.cleaned_data, [], []
        for i in range(1, OUTCOMES + 1) if self.with_outcomes else ():
            outcome = (data.get(f"outcome_{i}") or "").strip()
            if outcome:
                outcomes.append(outcome)
                if data.get(f"outcome_{i}_to"):
                    edges.append({"label": outcome, "to": _to(data[f"outcome_{i}_to"])})
        result["edges"] = edges + _next_edges(data.get("next_to"))
        if self.with_outcomes:
            result["config"] = {"outcomes": outcomes}
        return result


# ---------------------------------------------------------------- wait

class WaitForm(NodeForm):
    kind = StepKind.WAIT
    mode = forms.ChoiceField(choices=[("duration", "For a while"), ("until", "Until a weekday and time"),
                                      ("event", "Until something happens")], label="Wait",
                             widget=forms.RadioSelect, initial="duration")
    delay_value = forms.IntegerField(min_value=0, max_value=365 * 24 * 60, required=False, label="How long")
    delay_unit = forms.ChoiceField(choices=DelayUnit.choices, required=False, label="Unit", initial="days")
    business_days_only = forms.BooleanField(required=False, label="Business days only")
    weekdays = forms.TypedMultipleChoiceField(choices=DAY_CHOICES, coerce=int, required=False,
                                              widget=forms.CheckboxSelectMultiple, label="Weekdays")
    time = forms.TimeField(required=False, label="At", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                           help_text="In the contact's time zone.")
    event_kind = forms.ChoiceField(choices=[("", "—"), *WAIT_EVENTS], required=False, label="Event")
    link_contains = forms.CharField(max_length=200, required=False, label="Link contains")
    field = forms.CharField(max_length=100, required=False, label="Field")
    value = forms.CharField(max_length=200, required=False, label="Changed to (optional)")
    tag = forms.ModelChoiceField(queryset=Tag.objects.none(), required=False, label="Tag", empty_label="—")
    name = forms.CharField(max_length=100, required=False, label="Custom event name")
    relative_to = message_picker("Relative to (optional: since entering the wait)")
    timeout_value = forms.IntegerField(min_value=1, max_value=365 * 24 * 60, required=False, label="Timeout after")
    timeout_unit = forms.ChoiceField(choices=TIMEOUT_UNITS, required=False, label="Unit", initial="days")
    event_to = target_field(label="When it happens", blank_label="Continue with the node below")
    timeout_to = target_field(label="On timeout", blank_label="Continue with the node below")
    next_to = target_field()

    @classmethod
    def initial_settings(cls, node):
        config, paths = node.config or {}, {e.get("label"): e.get("to") for e in node.edges or ()}
        event, timeout = config.get("event") or {}, config.get("timeout") or {}
        return {
            "mode": config.get("mode", "duration"), "delay_value": node.delay_value, "delay_unit": node.delay_unit,
            "business_days_only": node.business_days_only, "weekdays": config.get("weekdays", []),
            "time": config.get("time"), "event_kind": event.get("kind", ""),
            "link_contains": event.get("link_contains", ""), "field": event.get("field", ""),
            "value": event.get("value", ""), "tag": event.get("tag"), "name": event.get("name", ""),
            "relative_to": event.get("relative_to") or "", "timeout_value": timeout.get("value"),
            "timeout_unit": timeout.get("unit", "days"), "next_to": _next_choice(node),
            "event_to": _choice(paths["event"]) if "event" in paths else "",
            "timeout_to": _choice(paths["timeout"]) if "timeout" in paths else "",
        }

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        if mode == "duration":
            if data.get("delay_value") is None:
                self.add_error("delay_value", "Enter how long to wait.")
            if not data.get("delay_unit"):
                self.add_error("delay_unit", "Choose minutes, hours or days.")
        elif mode == "until":
            if not data.get("weekdays"):
                self.add_error("weekdays", "Pick at least one weekday.")
            if data.get("time") is None:
                self.add_error("time", "Enter the time of day.")
        elif mode == "event":
            kind = data.get("event_kind")
            needs = {"field_changed": "field", "tag_added": "tag", "custom": "name"}
            if not kind:
                self.add_error("event_kind", "Choose the event to wait for.")
            elif kind in needs and not data.get(needs[kind]):
                self.add_error(needs[kind], "This event needs it.")
            if not data.get("timeout_value"):
                self.add_error("timeout_value", "Enter how long to wait at most.")
        return data

    def node_values(self):
        result, data = super().node_values(), self.cleaned_data
        mode = data["mode"]
        result["values"] = {"delay_value": 0, "delay_unit": "days", "business_days_only": False}
        result["config"] = {"mode": mode}
        result["edges"] = _next_edges(data.get("next_to"))
        if mode == "duration":
            result["values"] = {"delay_value": data["delay_value"], "delay_unit": data["delay_unit"],
                                "business_days_only": data["business_days_only"]}
        elif mode == "until":
            result["config"].update(weekdays=sorted(data["weekdays"]), time=data["time"].strftime("%H:%M"))
        else:
            kind = data["event_kind"]
            event = {"kind": kind, "relative_to": data.get("relative_to") or None}
            if kind == "clicked" and data.get("link_contains"):
                event["link_contains"] = data["link_contains"]
            if kind == "field_changed":
                event["field"] = data["field"]
                if data.get("value"):
                    event["value"] = data["value"]
            if kind == "tag_added":
                event["tag"] = data["tag"].pk
            if kind == "custom":
                event["name"] = data["name"]
            result["config"].update(event=event, timeout={"value": data["timeout_value"],
                                                          "unit": data.get("timeout_unit") or "days"})
            for label in ("event", "timeout"):
                if data.get(f"{label}_to"):
                    result["edges"].insert(0, {"label": label, "to": _to(data[f"{label}_to"])})
        return result


# ---------------------------------------------------------------- branch

class BranchForm(NodeForm):
    """Ordered rules (first match wins), each up to CONDITIONS conditions joined by all /
    any, and a default path."""

    kind = StepKind.BRANCH
    default_to = target_field(label="Otherwise (default path)", blank_label="— choose —")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for r in range(1, RULES + 1):
            self.fields[f"r{r}_label"] = forms.CharField(max_length=60, required=False, label="Path name")
            self.fields[f"r{r}_join"] = forms.ChoiceField(choices=[("all", "all of"), ("any", "any of")],
                                                          required=False, label="Match")
            self.fields[f"r{r}_to"] = target_field(label="leads to", blank_label="— choose —")
            self.fields[f"r{r}_to"].choices = [("", "— choose —"), *self.targets]
            for c in range(1, CONDITIONS + 1):
                self._condition_fields(f"r{r}c{c}_")

    def _condition_fields(self, p):
        f = self.fields
        f[p + "kind"] = forms.ChoiceField(choices=CONDITION_KINDS, required=False, label="Condition")
        f[p + "node"] = forms.ChoiceField(choices=self.message_nodes, required=False, label="Message")
        f[p + "within_days"] = forms.IntegerField(min_value=1, max_value=365, required=False, label="Within days")
        f[p + "link_contains"] = forms.CharField(max_length=200, required=False, label="Link contains")
        f[p + "field"] = forms.CharField(max_length=100, required=False, label="Field")
        f[p + "key"] = forms.CharField(max_length=100, required=False, label="Context key")
        f[p + "op"] = forms.ChoiceField(choices=OPS, required=False, label="Test")
        f[p + "value"] = forms.CharField(max_length=200, required=False, label="Value")
        f[p + "statuses"] = forms.MultipleChoiceField(choices=LeadStatus.choices, required=False,
                                                      widget=forms.CheckboxSelectMultiple, label="Lead status in")
        f[p + "bands"] = forms.MultipleChoiceField(choices=ScoreBand.choices, required=False,
                                                   widget=forms.CheckboxSelectMultiple, label="Score band in")
        f[p + "tag"] = forms.ModelChoiceField(queryset=Tag.objects.filter(tenant=self.tenant), required=False,
                                              label="Tag", empty_label="—")
        f[p + "has"] = forms.ChoiceField(choices=YES_NO, required=False, label="The contact")
        f[p + "list"] = forms.ModelChoiceField(queryset=ContactList.objects.filter(tenant=self.tenant),
                                               required=False, label="List", empty_label="—")
        f[p + "member"] = forms.ChoiceField(choices=MEMBER, required=False, label="The contact")

    CONDITION_PARTS = ("kind", "node", "within_days", "link_contains", "field", "key", "op", "value", "statuses",
                       "bands", "tag", "has", "list", "member")

    @property
    def rules(self):
        return [{"label": self[f"r{r}_label"], "join": self[f"r{r}_join"], "to": self[f"r{r}_to"],
                 "conditions": [{part: self[f"r{r}c{c}_{part}"] for part in self.CONDITION_PARTS}
                                for c in range(1, CONDITIONS + 1)]}
                for r in range(1, RULES + 1)]

    @classmethod
    def initial_settings(cls, node):
        data, r = {}, 0
        for edge in node.edges or ():
            if edge.get("label") == "default":
                data["default_to"] = _choice(edge.get("to"))
                continue
            r += 1
            if r > RULES:
                break
            condition = edge.get("condition") or {}
            join = "all" if "all" in condition else "any" if "any" in condition else "all"
            leaves = condition.get(join) if join in condition else [condition]
            data.update({f"r{r}_label": edge.get("label", ""), f"r{r}_join": join,
                         f"r{r}_to": _choice(edge.get("to"))})
            for c, leaf in enumerate(leaves[:CONDITIONS], start=1):
                data.update(_leaf_initial(f"r{r}c{c}_", leaf))
        return data

    def clean(self):
        data = super().clean()
        labels = []
        for r in range(1, RULES + 1):
            leaves = [self._leaf(f"r{r}c{c}_", data) for c in range(1, CONDITIONS + 1)]
            leaves = [leaf for leaf in leaves if leaf]
            label = (data.get(f"r{r}_label") or "").strip()
            if not leaves and not label:
                continue
            if not leaves:
                self.add_error(f"r{r}c1_kind", "Give this path a condition.")
            if not data.get(f"r{r}_to"):
                self.add_error(f"r{r}_to", "Choose where this path leads.")
            label = label or f"Rule {r}"
            if label in labels or label == "default":
                self.add_error(f"r{r}_label", "Each path needs its own name.")
            labels.append(label)
        return data

    def _leaf(self, p, data):
        kind = data.get(p + "kind")
        if not kind:
            return None

        def need(part, message):
            if data.get(p + part) in (None, "", []):
                self.add_error(p + part, message)

        if kind in ENGAGEMENT:
            need("node", "Choose the message.")
            leaf = {"kind": kind, "node": data.get(p + "node")}
            if data.get(p + "within_days"):
                leaf["within_days"] = data[p + "within_days"]
            if kind == "clicked" and data.get(p + "link_contains"):
                leaf["link_contains"] = data[p + "link_contains"]
            return leaf
        if kind in ("field", "context"):
            name = "field" if kind == "field" else "key"
            need(name, "Name the field." if kind == "field" else "Name the context key.")
            op = data.get(p + "op") or "equals"
            leaf = {"kind": kind, name: data.get(p + name), "op": op}
            if op not in VALUELESS_OPS:
                value = data.get(p + "value") or ""
                leaf["value"] = [v.strip() for v in value.split(",") if v.strip()] if op == "one_of" else value
            return leaf
        if kind in ("lead_status", "score_band"):
            part = "statuses" if kind == "lead_status" else "bands"
            need(part, "Pick at least one.")
            return {"kind": kind, "in": list(data.get(p + part) or [])}
        if kind == "tag":
            need("tag", "Choose the tag.")
            tag = data.get(p + "tag")
            return {"kind": "tag", "tag": tag.pk if tag else None, "has": data.get(p + "has") != "no"}
        need("list", "Choose the list.")
        contact_list = data.get(p + "list")
        return {"kind": "list", "list": contact_list.pk if contact_list else None,
                "member": data.get(p + "member") != "no"}

    def node_values(self):
        result, data, edges = super().node_values(), self.cleaned_data, []
        for r in range(1, RULES + 1):
            leaves = [leaf for leaf in (self._leaf(f"r{r}c{c}_", data) for c in range(1, CONDITIONS + 1)) if leaf]
            if not leaves:
                continue
            condition = leaves[0] if len(leaves) == 1 else {data.get(f"r{r}_join") or "all": leaves}
            edges.append({"label": (data.get(f"r{r}_label") or "").strip() or f"Rule {r}",
                          "condition": condition, "to": _to(data[f"r{r}_to"])})
        if data.get("default_to"):
            edges.append({"label": "default", "to": _to(data["default_to"])})
        result["edges"] = edges
        return result


def _leaf_initial(p, leaf):
    kind = leaf.get("kind", "")
    data = {p + "kind": kind}
    if kind in ENGAGEMENT:
        data.update({p + "node": leaf.get("node", ""), p + "within_days": leaf.get("within_days"),
                     p + "link_contains": leaf.get("link_contains", "")})
    elif kind in ("field", "context"):
        value = leaf.get("value", "")
        data.update({p + ("field" if kind == "field" else "key"): leaf.get("field" if kind == "field" else "key", ""),
                     p + "op": leaf.get("op", "equals"),
                     p + "value": ", ".join(value) if isinstance(value, list) else value})
    elif kind in ("lead_status", "score_band"):
        data[p + ("statuses" if kind == "lead_status" else "bands")] = leaf.get("in", [])
    elif kind == "tag":
        data.update({p + "tag": leaf.get("tag"), p + "has": "yes" if leaf.get("has", True) else "no"})
    elif kind == "list":
        data.update({p + "list": leaf.get("list"), p + "member": "yes" if leaf.get("member", True) else "no"})
    return data


# ---------------------------------------------------------------- split

class SplitForm(NodeForm):
    kind = StepKind.SPLIT
    holdout = forms.BooleanField(required=False, label="Hold out some contacts",
                                 help_text="They exit as “holdout” and receive nothing more.")
    holdout_weight = forms.IntegerField(min_value=1, max_value=100, required=False, label="Holdout weight")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for a in range(1, ARMS + 1):
            self.fields[f"a{a}_label"] = forms.CharField(max_length=60, required=False, label="Arm")
            self.fields[f"a{a}_weight"] = forms.IntegerField(min_value=1, max_value=100, required=False,
                                                             label="Weight")
            self.fields[f"a{a}_to"] = target_field(label="leads to", blank_label="— choose —")
            self.fields[f"a{a}_to"].choices = [("", "— choose —"), *self.targets]

    @property
    def arms(self):
        return [(self[f"a{a}_label"], self[f"a{a}_weight"], self[f"a{a}_to"]) for a in range(1, ARMS + 1)]

    @classmethod
    def initial_settings(cls, node):
        data, a = {}, 0
        for edge in node.edges or ():
            if edge.get("holdout"):
                data.update(holdout=True, holdout_weight=edge.get("weight"))
                continue
            a += 1
            if a <= ARMS:
                data.update({f"a{a}_label": edge.get("label"), f"a{a}_weight": edge.get("weight"),
                             f"a{a}_to": _choice(edge.get("to"))})
        return data

    def clean(self):
        data = super().clean()
        labels = []
        for a in range(1, ARMS + 1):
            label = (data.get(f"a{a}_label") or "").strip()
            if not label and not data.get(f"a{a}_weight") and not data.get(f"a{a}_to"):
                continue
            if not label:
                self.add_error(f"a{a}_label", "Name the arm.")
            elif label in labels or label == "holdout":
                self.add_error(f"a{a}_label", "Each arm needs its own name.")
            labels.append(label)
            if not data.get(f"a{a}_weight"):
                self.add_error(f"a{a}_weight", "Give the arm a weight.")
            if not data.get(f"a{a}_to"):
                self.add_error(f"a{a}_to", "Choose where this arm leads.")
        if not labels:
            self.add_error("a1_label", "Add at least one arm.")
        if data.get("holdout") and not data.get("holdout_weight"):
            self.add_error("holdout_weight", "Give the holdout a weight.")
        return data

    def node_values(self):
        result, data, edges = super().node_values(), self.cleaned_data, []
        for a in range(1, ARMS + 1):
            label = (data.get(f"a{a}_label") or "").strip()
            if label:
                edges.append({"label": label, "weight": data[f"a{a}_weight"], "to": _to(data[f"a{a}_to"])})
        if data.get("holdout"):
            edges.append({"label": "holdout", "weight": data["holdout_weight"], "holdout": True})
        result["edges"] = edges
        return result


# ---------------------------------------------------------------- action and exit

class ActionForm(NodeForm):
    kind = StepKind.ACTION
    action = forms.ChoiceField(choices=ACTIONS, label="Action")
    tag = forms.ModelChoiceField(queryset=Tag.objects.none(), required=False, label="Tag", empty_label="—")
    list = forms.ModelChoiceField(queryset=ContactList.objects.none(), required=False, label="List",
                                  empty_label="—")
    field = forms.CharField(max_length=100, required=False, label="Contact field")
    key = forms.CharField(max_length=100, required=False, label="Context key")
    value = forms.CharField(max_length=200, required=False, label="Value")
    status = forms.ChoiceField(choices=[("", "—"), *LeadStatus.choices], required=False, label="Lead status")
    message = forms.CharField(max_length=500, required=False, label="Message to the owner")
    sequence = forms.ModelChoiceField(queryset=Sequence.objects.none(), required=False, label="Sequence",
                                      empty_label="—")
    reason = forms.CharField(max_length=200, required=False, label="Exit reason")
    next_to = target_field()

    @classmethod
    def initial_settings(cls, node):
        config = node.config or {}
        data = {"action": config.get("action"), "next_to": _next_choice(node)}
        for name, key in ACTION_TARGETS.values():
            if key in config:
                data[name] = config[key]
        if "value" in config:
            data["value"] = config["value"]
        return data

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in ACTION_TARGETS:
            name, _ = ACTION_TARGETS[action]
            if not data.get(name) and name not in self.errors:
                self.add_error(name, "This action needs it.")
        return data

    def node_values(self):
        result, data = super().node_values(), self.cleaned_data
        action = data["action"]
        name, key = ACTION_TARGETS[action]
        value = data[name]
        config = {"action": action, key: getattr(value, "pk", value)}
        if action in ACTION_VALUES:
            config["value"] = data.get("value") or ""
        result["config"] = config
        result["edges"] = _next_edges(data.get("next_to"))
        return result


class ExitForm(NodeForm):
    kind = StepKind.EXIT
    reason = forms.CharField(max_length=200, required=False, label="Exit reason",
                             help_text="Recorded on the enrollment, e.g. “Not a fit”.")

    @classmethod
    def initial_settings(cls, node):
        return {"reason": (node.config or {}).get("reason", "")}

    def node_values(self):
        result = super().node_values()
        result["config"] = {"reason": self.cleaned_data.get("reason") or ""}
        return result


SETTINGS_FORMS = {form.kind: form for form in (WaitForm, BranchForm, SplitForm, ActionForm, ExitForm)}
# What "add after" offers, in the order shown.
ADD_TYPES = [("message", "Message (email or SMS)"), ("task", "Task or call"), ("wait", "Wait"),
             ("branch", "Branch"), ("split", "A/B split"), ("action", "Action"), ("exit", "Exit")]


def step_form_class(kind, node=None):
    """The step form of a message or task node (today's forms)."""
    if node is not None:
        return StepForm.for_step(node)
    return TaskStepForm if kind == StepKind.TASK else StepForm
