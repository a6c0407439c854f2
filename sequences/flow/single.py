"""The state machine for one locked enrollment at a time: what services call (a user's
pause, an approval, a completed task). Each applies a transition, writes it with
`store.save`, and asks for a sweep when the change made a step due."""
from django.utils import timezone

from scendcore import jobs

from . import navigator, store, transitions


def apply(e, rows, *, at):
    """Write what a transition did to `e` (locked) and kick the processor if a step is
    now due, so it does not wait for the next beat."""
    store.save(e, rows, at=at)
    if e.status == "active" and e.next_run_at is not None and e.next_run_at <= timezone.now():
        jobs.start("sequences.sweep")
    return e


def step_done(e, *, at, actor=None, executed="", skipped="", label=navigator.NEXT):
    """The current step's work is finished (or skipped): move on by the path `label` (a
    task's outcome; "next" otherwise), and ask for a sweep either way (a person's action:
    the next step may be due at once)."""
    following = navigator.graph_of(e.current_step.version_id).follow(e.current_step, label)
    store.save(e, transitions.advance(e, following, at=at, executed=executed, skipped=skipped, actor=actor), at=at)
    jobs.start("sequences.sweep")
    return e


def wait(e, on, *, at, detail=""):
    return apply(e, transitions.wait(e, on, at=at, detail=detail), at=at)
