"""Where an enrollment goes next. Today a sequence is a list of steps ordered 1..N; the
versioned graph replaces these two functions, and every caller goes through them."""
from collections import defaultdict

from ..models import Step


def steps_of(sequence_id):
    """The sequence's steps in their order (the navigator's view of one sequence)."""
    return list(Step.objects.filter(sequence_id=sequence_id).order_by("order", "id"))


def steps_by_sequence(sequence_ids):
    """sequence id -> its steps in order, for many sequences in one query (a batch's)."""
    steps = defaultdict(list)
    for step in Step.objects.filter(sequence_id__any=list(sequence_ids)).order_by("sequence_id", "order", "id"):
        steps[step.sequence_id].append(step)
    return steps


def first_node(steps):
    """The step a new enrollment starts on, or None for a sequence without steps."""
    return steps[0] if steps else None


def next_node(steps, current):
    """The step after `current` in `steps` (one sequence's, in order), or None at the end."""
    for step in steps:
        if step.order > current.order:
            return step
    return None
