"""Gates: rules that hold a step or a message back until a later moment (a send window,
a frequency cap, a mailbox's limits). A gate defers; it never drops anything.

Each gate is registered once, by the app that owns its rule (in its AppConfig.ready).
The processor holds steps with every registered gate, the enrollment page explains
holds with every gate, and delivery re-checks at send time the gates that ask for it:
all three iterate this one registry, so a gate added later is checked, explained and
re-checked without editing any of them, and they cannot drift apart. The registry lives
here, below every app, so that delivery can use it without importing the processor.
"""
from dataclasses import dataclass
from typing import Protocol

from .registry import Registry

PROCESS = "process"  # the processor deciding whether a due step runs now
SEND = "send"  # delivery deciding whether a queued message leaves now


@dataclass
class Attempt:
    """Something about to run or be sent, as the gates see it. `key` is the step's
    idempotency key (a repeated execution's own messages do not count against it);
    `message_id` the outbound message delivery is about to send."""

    tenant: object
    contact: object
    step: object
    channel: str
    sequence: object = None
    key: str = ""
    message_id: int | None = None
    # A test-mode send goes to the rep's own address: rules about contacting the
    # contact (the frequency cap) do not apply to it.
    test_mode: bool = False


@dataclass(frozen=True)
class Held:
    """Not now: not before `until`, because `why` (worded for people)."""

    until: object
    why: str


@dataclass
class Hold:
    """One line of the answer to "what could hold this step?". `active` when it holds it
    at the moment asked about; `until` when the gate knows the release time."""

    kind: str
    text: str
    active: bool = False
    until: object = None


class Gate(Protocol):
    name: str
    order: int  # gates are asked in this order; the first that holds wins
    recheck_at_send: bool  # delivery asks it again for each message it is about to send

    def applies(self, attempt: Attempt) -> bool: ...

    def prepare(self, attempts: list, *, now, phase: str) -> object:
        """What the gate needs for all of `attempts`, read at once (one query per batch)."""

    def hold(self, prepared, attempt: Attempt, *, now) -> Held | None: ...

    def consume(self, prepared, attempt: Attempt, *, now) -> None:
        """`attempt` goes ahead: count it, so later attempts of the batch see it."""

    def explain(self, attempt: Attempt, *, now, release) -> Hold | None:
        """The line for the enrollment page. `release(held)` is the moment the processor
        would make the step due again for that verdict: say that one."""


class UnknownGate(LookupError):
    def __init__(self, name):
        super().__init__(f"no gate named {name!r} is registered")


_REGISTRY = Registry("gate", key="name", missing=UnknownGate)
register = _REGISTRY.register
get = _REGISTRY.get


def registered():
    """Every gate, in the order they are asked."""
    return sorted(_REGISTRY.values(), key=lambda gate: gate.order)


def at_send():
    return [gate for gate in registered() if gate.recheck_at_send]


def first_hold(gates, prepared, attempt, *, now):
    """(gate, Held) of the first gate in `gates` that holds `attempt`, else (None, None).
    `prepared` maps a gate's name to what its prepare() returned."""
    for gate in gates:
        if gate.applies(attempt):
            held = gate.hold(prepared[gate.name], attempt, now=now)
            if held is not None:
                return gate, held
    return None, None
