"""Builders for flow tests: a running sequence whose version holds the given nodes, and
what a contact did with one of its messages, recorded through the contact facts."""
from contacts.facts import facts_record
from tests.factories import AgentFactory, OutboundMessageFactory, SequenceFactory, StepFactory, manager_of


def flow(tenant, nodes, **fields):
    """An active sequence whose current version has `nodes` in outline order; each node a
    dict with "key", "kind" (default message), and any Step field. Returns (sequence,
    {key: step})."""
    agent = AgentFactory(tenant=tenant, autonomy="auto_send")
    sequence = SequenceFactory(tenant=tenant, agent=agent, status="active", owner=manager_of(tenant), **fields)
    made = {}
    for spec in nodes:
        spec = dict(spec)
        key = spec.pop("key")
        made[key] = StepFactory(sequence=sequence, key=key, kind=spec.pop("kind", "message"),
                                title=spec.pop("title", key), **spec)
    return sequence, made


def sent(enrollment, node, *, at):
    """The enrollment's message for `node`, sent at `at`."""
    return OutboundMessageFactory(
        tenant=enrollment.tenant, enrollment=enrollment, contact=enrollment.contact, step=node, step_pass=1,
        state="sent", sent_at=at, idempotency_key=f"{enrollment.pk}:{node.pk}:1",
    )


def contact_did(message, kind, *, at, **data):
    """A fact about `message` (opened, clicked, replied) recorded as the apps record it."""
    facts_record(tenant=message.tenant, kind=kind, contact_ids=[message.contact_id], message=message, at=at,
                 data=data)
