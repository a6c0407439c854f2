"""An action node: it changes something (a tag, a contact field, a list, the lead
status, the enrollment's context), moves the contact to another sequence, or ends the
flow, then goes on by its "next" path.

The enrollments of a batch at one action node are handled together: one write per node
through the contacts services, whatever their number. A node refers to its tenant's
tags, lists and sequences only: its settings refuse another tenant's, and a run looks
the object up within the node's tenant again (a reference never crosses tenants, even
in a hand-made graph). A reference that no longer exists fails the enrollment visibly.

The contact changes (and a move's enrollment elsewhere) run through their services once
the batch's rows are written, in the same transaction: a fact they record (a status
change, a tag added) may react on these very enrollments, and must see their new state.
What can be refused is checked before, so the enrollment fails instead of moving on."""
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction

from contacts.models import ContactList, LeadStatus, Tag
from scendcore.registry import Registry

from ...flow import context as flow_context
from ...flow import transitions
from ...models import Sequence, StepKind

ENDED_LEADS = (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED)


def _config(node):
    return node.config if isinstance(node.config, dict) else {}


def _id(value):
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _name(node):
    return node.title or node.key


class _Reference:
    """An action on one of the tenant's objects named by id in the node's config."""

    field = ""
    model = None
    missing = ""  # the settings problem
    gone = ""  # why a run cannot do it

    def target(self, node, tenant_id):
        pk = _id(_config(node).get(self.field))
        if pk is None:
            return None
        return self.model.objects.filter(pk=pk, tenant_id=tenant_id).first()

    def problems(self, node, *, tenant):
        if self.target(node, tenant.pk) is None:
            return {self.field: [self.missing]}
        return {}

    def run(self, batch, node, group):
        target = self.target(node, node.tenant_id)
        if target is None:
            for e in group:
                batch.fail(e, f"action “{_name(node)}”: {self.gone}")
            return
        self.apply(batch, node, group, target)


class TagAction(_Reference):
    field, model, missing = "tag", Tag, "Choose one of this workspace's tags."
    gone = "its tag does not exist (any more)"

    def __init__(self, name, *, add):
        self.name, self.add = name, add

    def apply(self, batch, node, group, tag):
        from contacts.services.tags import contact_tags_add, contact_tags_remove

        _after(batch, contact_tags_add if self.add else contact_tags_remove, tenant=group[0].sequence.tenant, tag=tag,
               contact_ids=[e.contact_id for e in group], actor=None)
        detail = f"{'Added' if self.add else 'Removed'} tag “{tag.name}”"
        _done(batch, group, detail, {"action": self.name, "tag": tag.pk})


class ListAction(_Reference):
    field, model, missing = "list", ContactList, "Choose one of this workspace's lists."
    gone = "its list does not exist (any more)"

    def __init__(self, name, *, add):
        self.name, self.add = name, add

    def apply(self, batch, node, group, contact_list):
        from contacts.services.lists import list_add_contacts, list_remove_contacts

        _after(batch, list_add_contacts if self.add else list_remove_contacts, tenant=group[0].sequence.tenant,
               contact_list=contact_list, contact_ids=[e.contact_id for e in group], actor=None)
        detail = f"{'Added to' if self.add else 'Removed from'} list “{contact_list.name}”"
        _done(batch, group, detail, {"action": self.name, "list": contact_list.pk})


class FieldAction:
    name = "set_field"

    def problems(self, node, *, tenant):
        from contacts.services.flow_actions import field_value_problem

        config = _config(node)
        if not isinstance(config.get("field"), str) or not config["field"]:
            return {"field": ["Choose the field to set."]}
        problem = field_value_problem(config["field"], config.get("value", ""))
        return {"value": [problem]} if problem else {}

    def run(self, batch, node, group):
        from contacts.services.flow_actions import contacts_field_set, field_value_problem

        config = _config(node)
        field, value = config.get("field"), config.get("value", "")
        problem = field_value_problem(field, value) if isinstance(field, str) and field else "no field is chosen"
        if problem:
            for e in group:
                batch.fail(e, f"action “{_name(node)}”: {problem}")
            return
        _after(batch, contacts_field_set, tenant=group[0].sequence.tenant, field=field, value=value,
               contact_ids=[e.contact_id for e in group], at=batch.now)
        _done(batch, group, f"Set {field} to “{value}”", {"action": self.name, "field": field, "value": value})


class LeadStatusAction:
    name = "set_lead_status"

    def problems(self, node, *, tenant):
        if _config(node).get("status") not in LeadStatus.values:
            return {"status": [f"Choose a lead status: {', '.join(LeadStatus.values)}."]}
        return {}

    def run(self, batch, node, group):
        from contacts.services.flow_actions import contacts_lead_status_set

        status = _config(node).get("status")
        if status not in LeadStatus.values:
            for e in group:
                batch.fail(e, f"action “{_name(node)}”: {status!r} is not a lead status")
            return
        tenant, contact_ids = group[0].sequence.tenant, [e.contact_id for e in group]
        label = LeadStatus(status).label.lower()
        for e in group:
            batch.activities += transitions.acted(e, f"Lead status set to {label}", at=batch.now,
                                                  data={"action": self.name, "status": status})
            if status in ENDED_LEADS:
                batch.leave(e, status)  # what the status change would do to it anyway
            else:
                batch.advance(e, executed=f"Lead status set to {label}")
        _after(batch, contacts_lead_status_set, tenant=tenant, status=status, contact_ids=contact_ids, at=batch.now)


class MoveAction(_Reference):
    """Leave this sequence and enroll in another through the one enrollment service, with
    every rule it applies; a refusal is recorded on the enrollment that left."""

    name, field, model = "move_to_sequence", "sequence", Sequence
    missing = "Choose another sequence of this workspace."
    gone = "the sequence it moves to does not exist (any more)"

    def problems(self, node, *, tenant):
        if _id(_config(node).get("sequence")) == node.sequence_id:
            return {self.field: ["Choose another sequence than this one."]}
        return super().problems(node, tenant=tenant)

    def target(self, node, tenant_id):
        pk = _id(_config(node).get(self.field))
        if pk is None or pk == node.sequence_id:
            return None
        return Sequence.objects.select_related("tenant").filter(pk=pk, tenant_id=tenant_id).first()

    def apply(self, batch, node, group, target):
        reason = f"moved to {target.name}"
        for e in group:
            batch.leave(e, reason, data={"action": self.name, "sequence": target.pk})
        batch.after_save.append(lambda: self.enroll(batch, group, target))

    def enroll(self, batch, group, target):
        from ...services.enrollments import enrollment_create

        rows = []
        for e in group:
            try:
                with transaction.atomic():
                    enrollment_create(tenant=target.tenant, sequence=target, contact=e.contact, actor=None,
                                      via="moved", at=batch.now)
            except ValidationError as exc:
                refusal = " ".join(exc.messages)
                rows += transitions.acted(e, f"Not enrolled in {target.name}: {refusal}", at=batch.now,
                                          data={"action": self.name, "sequence": target.pk, "refused": refusal})
            else:
                rows += transitions.acted(e, f"Enrolled in {target.name}", at=batch.now,
                                          data={"action": self.name, "sequence": target.pk})
        return rows


class ContextAction:
    name = "set_context"

    def problems(self, node, *, tenant):
        config = _config(node)
        problem = flow_context.value_problem(config.get("key"), config.get("value", ""))
        return {"key": [problem]} if problem else {}

    def run(self, batch, node, group):
        config = _config(node)
        key, value = config.get("key"), config.get("value", "")
        for e in group:
            try:
                e.context = flow_context.merged(e.context, {key: value})
            except flow_context.ContextRefused as exc:
                batch.fail(e, f"action “{_name(node)}”: {exc}")
                continue
            batch.advance(e, executed=f"Context {key} set to “{value}”"[:300])


class NotifyOwnerAction:
    """Tell the contact's owner (else the sequence's) in the app, with a link to the
    contact: "Ann Lee (Acme) reached “Hot lead” in Q3 outbound"."""

    name = "notify_owner"
    MAX_MESSAGE = 200

    def problems(self, node, *, tenant):
        message = _config(node).get("message", "")
        if not isinstance(message, str) or len(message) > self.MAX_MESSAGE:
            return {"message": [f"The message is text of at most {self.MAX_MESSAGE} characters."]}
        return {}

    def run(self, batch, node, group):
        from django.urls import reverse

        from scendcore.notifications import notifications_send

        message = str(_config(node).get("message") or "").strip()
        notes, tenant = [], group[0].sequence.tenant
        for e in group:
            contact, sequence = e.contact, e.sequence
            owner = contact.owner_id or sequence.owner_id
            who = f"{contact} ({contact.company})" if contact.company else str(contact)
            text = f"{who}: {message}" if message else f"{who} reached “{_name(node)}” in {sequence.name}"
            if owner:
                notes.append((owner, text, reverse("contacts:detail", args=[contact.pk])))
            detail = "Notified the owner" if owner else "Nobody to notify: the contact and the sequence have no owner"
            batch.activities += transitions.acted(e, detail, at=batch.now, data={"action": self.name, "user": owner})
            batch.advance(e, executed=detail)
        _after(batch, notifications_send, tenant=tenant, notes=notes, at=batch.now)


class ExitAction:
    name = "exit"

    def problems(self, node, *, tenant):
        reason = _config(node).get("reason", "")
        if not isinstance(reason, str) or len(reason) > 200:
            return {"reason": ["The reason is text of at most 200 characters."]}
        return {}

    def run(self, batch, node, group):
        reason = str(_config(node).get("reason") or "").strip() or f"action “{_name(node)}”"
        for e in group:
            batch.leave(e, reason)


def _after(batch, write, **arguments):
    """Call the service `write` once the batch's rows are written (see the module's
    docstring): a fact it records may react on these enrollments."""
    def effect():
        write(**arguments)
        return []

    batch.after_save.append(effect)


def _done(batch, group, detail, data):
    for e in group:
        batch.activities += transitions.acted(e, detail, at=batch.now, data=data)
        batch.advance(e, executed=detail)


class UnknownAction(LookupError):
    def __init__(self, name):
        super().__init__(f"there is no action {name!r}")


ACTIONS = Registry("action", key="name", missing=UnknownAction)
for _action in (
    TagAction("add_tag", add=True), TagAction("remove_tag", add=False), FieldAction(),
    ListAction("add_to_list", add=True), ListAction("remove_from_list", add=False), LeadStatusAction(),
    MoveAction(), ContextAction(), NotifyOwnerAction(), ExitAction(),
):
    ACTIONS.register(_action)


class ActionStep:
    kind = StepKind.ACTION
    instant = True

    def settings_problems(self, node, *, tenant):
        try:
            action = ACTIONS.get(_config(node).get("action"))
        except UnknownAction:
            return {"action": [f"Choose an action: {', '.join(ACTIONS.names())}."]}
        return action.problems(node, tenant=tenant)

    def run(self, work_, enrollments):
        batch = work_.batch
        by_node = defaultdict(list)
        for e in enrollments:
            by_node[e.current_step.id].append(e)
        for group in by_node.values():
            node = group[0].current_step
            try:
                action = ACTIONS.get(_config(node).get("action"))
            except UnknownAction as exc:
                for e in group:
                    batch.fail(e, f"action “{_name(node)}”: {exc}")
                continue
            action.run(batch, node, group)
