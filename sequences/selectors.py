"""Reads for the sequence pages. Every function takes the tenant."""
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Case, Count, IntegerField, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce

from .models import (
    Channel, DelayUnit, Enrollment, EnrollmentStatus, JobType, Sequence, SequenceStatus, SequenceTally,
    SequenceVersion, Step, VersionState,
)

STATUS_ORDER = Case(
    When(status=SequenceStatus.ACTIVE, then=Value(0)),
    When(status=SequenceStatus.PAUSED, then=Value(1)),
    When(status=SequenceStatus.DRAFT, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)
STAT_KEYS = ("active", "completed", "paused", "exited", "unenrolled")
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def sequence_list(*, tenant, status="", q=""):
    """The tenant's sequences with their step count, active ones first."""
    step_count = (
        Step.objects.filter(version=OuterRef("current_version")).order_by().values("version")
        .annotate(n=Count("pk")).values("n")
    )
    sequences = (
        Sequence.objects.filter(tenant=tenant)
        .annotate(step_count=Coalesce(Subquery(step_count, output_field=IntegerField()), 0),
                  status_rank=STATUS_ORDER)
        .order_by("status_rank", "name", "id")
    )
    if status:
        sequences = sequences.filter(status=status)
    if q:
        sequences = sequences.filter(name__icontains=q.strip())
    return sequences


def enrollment_stats(*, tenant, sequence_ids):
    """{sequence_id: {active, completed, paused, exited, unenrolled}}, from the per-sequence
    tallies the triggers keep (models.SequenceTally): index rows, not enrollments."""
    sequence_ids = list(sequence_ids)
    rows = (
        SequenceTally.objects.filter(tenant=tenant, sequence_id__in=sequence_ids, status__in=STAT_KEYS)
        .values_list("sequence_id", "status").annotate(n=Sum("delta")).order_by()
    )
    stats = {sid: dict.fromkeys(STAT_KEYS, 0) for sid in sequence_ids}
    for sequence_id, status, n in rows:
        stats[sequence_id][status] = n
    return stats


@dataclass
class GoalLine:
    key: str
    name: str
    condition: str
    action: str
    reached: int


def sequence_goals(*, tenant, sequence):
    """The goals of the sequence's current version, worded, with how many reached each."""
    from .models import GoalReached

    version = sequence.current_version  # the sequence is the tenant's: its version is too
    goals = (version.goals if version else None) or []
    if not goals:
        return []
    targets = dict(Sequence.objects.filter(tenant=tenant, pk__in=[g.get("sequence") for g in goals if g.get("sequence")])
                   .values_list("pk", "name"))
    reached = dict(GoalReached.objects.filter(tenant=tenant, sequence=sequence).values_list("goal_key")
                   .annotate(n=Count("id")).order_by())
    lines = []
    for goal in goals:
        condition = goal.get("condition") or {}
        kind = condition.get("kind")
        worded = {
            "meeting_booked": "a meeting is booked",
            "lead_status": "the lead status becomes " + " or ".join(condition.get("in") or ()),
            "clicked": f"the contact clicks a link containing “{condition.get('link_contains', '')}”"
                       if condition.get("link_contains") else "the contact clicks a link",
            "custom_event": f"the event “{condition.get('name', '')}” is recorded",
        }.get(kind, kind or "")
        action = "exit" if goal.get("action") != "move" else \
            f"move to “{targets.get(goal.get('sequence'), 'a sequence that no longer exists')}”"
        lines.append(GoalLine(key=goal.get("key", ""), name=goal.get("name", ""), condition=worded, action=action,
                              reached=reached.get(goal.get("key"), 0)))
    return lines


def goal_stats(*, tenant, sequence_ids):
    """{sequence_id: {"enrolled", "reached", "conversion_rate", "by_goal": [{"key", "name",
    "reached", "conversion_rate"}]}}: goals reached over enrollments (every enrollment the
    sequence ever had, from the tallies), overall (enrollments that reached any goal) and
    per goal. The rate is None before anyone enrolled."""
    from .models import GoalReached

    sequence_ids = list(sequence_ids)
    enrolled = dict(
        SequenceTally.objects.filter(tenant=tenant, sequence_id__in=sequence_ids).values_list("sequence_id")
        .annotate(n=Sum("delta")).order_by()
    )
    reached = GoalReached.objects.filter(tenant=tenant, sequence_id__in=sequence_ids)
    overall = dict(reached.values_list("sequence_id").annotate(n=Count("enrollment_id", distinct=True)).order_by())
    per_goal = reached.values_list("sequence_id", "goal_key", "goal_name").annotate(n=Count("id")) \
        .order_by("sequence_id", "goal_key", "goal_name")

    def rate(n, total):
        return round(n / total, 4) if total else None

    stats = {}
    for sid in sequence_ids:
        total = enrolled.get(sid) or 0
        stats[sid] = {"enrolled": total, "reached": overall.get(sid, 0),
                      "conversion_rate": rate(overall.get(sid, 0), total), "by_goal": []}
    for sid, key, name, n in per_goal:
        by_goal = stats[sid]["by_goal"]
        if by_goal and by_goal[-1]["key"] == key:  # renamed goal: one entry, the latest name
            by_goal[-1]["reached"] += n
            by_goal[-1]["conversion_rate"] = rate(by_goal[-1]["reached"], stats[sid]["enrolled"])
        else:
            by_goal.append({"key": key, "name": name, "reached": n, "conversion_rate": rate(n, stats[sid]["enrolled"])})
    return stats


# ---------------------------------------------------------------- the timeline

@dataclass
class TimelineEntry:
    step: Step
    day_label: str
    when: str
    title: str
    waiting: int = 0
    problems: list = field(default_factory=list)


def _plural(n, word):
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def delay_words(step):
    unit = {DelayUnit.MINUTES: "minute", DelayUnit.HOURS: "hour", DelayUnit.DAYS: "day"}[step.delay_unit]
    return _plural(step.delay_value, unit)


def days_words(days):
    days = sorted(set(days))
    if days == [0, 1, 2, 3, 4]:
        return "weekdays"
    if days == list(range(7)):
        return "every day"
    if days == [5, 6]:
        return "weekends"
    return ", ".join(DAY_NAMES[d] for d in days)


def _clock(t):
    return f"{t.hour}:{t.minute:02d}"


def window_words(step, tenant):
    """The step's send window in words, or '' when it may fire any time."""
    if step.window_days is not None or step.window_start is not None:
        days = step.window_days if step.window_days is not None else tenant.default_window_days
        start = step.window_start or tenant.default_window_start
        end = step.window_end or tenant.default_window_end
        prefix = ""
    elif tenant.send_window_enabled:
        days, start, end = tenant.default_window_days, tenant.default_window_start, tenant.default_window_end
        prefix = "workspace window: "
    else:
        return ""
    day_part = days_words(days)
    if step.business_days_only and day_part in ("weekdays", "every day"):
        day_part = ""
    clock = f"{_clock(start)}–{_clock(end)} recipient time"
    return prefix + (f"{day_part}, {clock}" if day_part else clock)


def step_title(step):
    job, channel = step.job_type, step.channel
    if channel == Channel.TASK:
        return "Task for the rep"
    if channel == Channel.CALL_REMINDER:
        return "Call reminder for the rep"
    if job == JobType.FOLLOW_UP:
        return "Follow-up email" if channel == Channel.EMAIL else "Follow-up by SMS"
    by = "email" if channel == Channel.EMAIL else "SMS"
    return f"{step.get_job_type_display()} by {by}"


def step_when(step, tenant, *, is_first):
    parts = []
    if is_first:
        parts.append("at enrollment" if step.delay_value == 0 else f"{delay_words(step)} after enrollment")
    else:
        parts.append(f"+{delay_words(step)}")
    if step.business_days_only:
        parts.append("weekdays only")
    window = window_words(step, tenant)
    if window:
        parts.append(window)
    if step.jitter_minutes:
        parts.append(f"± {step.jitter_minutes} min")
    return ", ".join(parts)


def _delta(step):
    seconds = {DelayUnit.MINUTES: 60, DelayUnit.HOURS: 3600, DelayUnit.DAYS: 86400}[step.delay_unit]
    return timedelta(seconds=step.delay_value * seconds)


def day_label(total):
    if total < timedelta(days=1) and total.seconds:
        hours, minutes = divmod(total.seconds // 60, 60)
        return f"Day 0 · {hours}h {minutes:02d}m" if hours else f"Day 0 · {minutes} min"
    return f"Day {total.days}"


def waiting_counts(*, tenant, sequence):
    """{step_id: open enrollments whose current step it is}, from the per-sequence
    tallies (models.SequenceTally): one row per step, whatever the enrollment count."""
    rows = (
        SequenceTally.objects.filter(
            tenant=tenant, sequence=sequence, step__isnull=False,
            status__in=(EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED),
        )
        .values_list("step_id").annotate(n=Sum("delta")).order_by()
    )
    return {step_id: n for step_id, n in rows if n}


def shown_version_id(sequence):
    """The version the builder shows and edits: the draft if there is one, else the
    published version."""
    from .models import SequenceVersion, VersionState

    draft = SequenceVersion.objects.filter(sequence=sequence, state=VersionState.DRAFT).values_list("pk", flat=True)
    return draft.first() or sequence.current_version_id


def sequence_steps(*, tenant, sequence):
    """The nodes of the version being edited: its draft where there is one, else the
    published version (one query either way)."""
    draft = SequenceVersion.objects.filter(sequence_id=sequence.pk, state=VersionState.DRAFT).values("pk")[:1]
    version = Coalesce(Subquery(draft), Value(sequence.current_version_id))
    return list(Step.objects.filter(tenant=tenant, version_id=version).order_by("order", "pk"))


def describe_steps(steps, tenant, waiting=None, *, check=True):
    """Timeline entries for `steps` (saved or not): no queries."""
    from .services.steps import step_errors, step_values

    waiting = waiting or {}
    total = timedelta(0)
    entries = []
    for index, step in enumerate(steps):
        total += _delta(step)
        problems = []
        if check:
            errors = step_errors(step_values(step), is_first=index == 0)
            problems = [m for messages in errors.values() for m in messages]
        entries.append(TimelineEntry(
            step=step, day_label=day_label(total), when=step_when(step, tenant, is_first=index == 0),
            title=step_title(step), waiting=waiting.get(step.pk, 0), problems=problems,
        ))
    return entries


def timeline(*, tenant, sequence, steps=None):
    """The steps as a schedule in plain words, counted from enrollment (two queries,
    whatever the number of steps). Business days count as calendar days in the
    cumulative day number; the step line says "weekdays only"."""
    steps = steps if steps is not None else sequence_steps(tenant=tenant, sequence=sequence)
    waiting = waiting_counts(tenant=tenant, sequence=sequence)
    if waiting and any(step.pk not in waiting for step in steps):
        # A draft's nodes have no enrollments of their own: show those waiting at the
        # same node (by key) in the versions they are pinned to.
        by_key = {}
        for step_id, key in Step.objects.filter(pk__in=list(waiting)).values_list("pk", "key"):
            by_key[key] = by_key.get(key, 0) + waiting[step_id]
        waiting = {step.pk: by_key.get(step.key, 0) for step in steps}
    return describe_steps(steps, tenant, waiting)


def _span_words(span):
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0 and minutes:
        return _plural(minutes // 1440, "day")
    if minutes % 60 == 0 and minutes:
        return _plural(minutes // 60, "hour")
    return _plural(minutes, "minute")


def cap_stretch_note(*, tenant, steps):
    """'' unless the tenant's frequency cap (sequences.engine.gates.frequency_cap) must
    hold one of these message steps past its planned time, even with no other sequence
    writing to the contact: then a sentence naming the first such step. The cap is a
    sliding window, so a message step can go only once the message `cap` places before
    it has been out for the window."""
    cap, hours = tenant.frequency_cap_messages, tenant.frequency_cap_hours
    if not cap or not hours:
        return ""
    planned, total = [], timedelta(0)
    for step in steps:
        total += _delta(step)
        if step.channel in (Channel.EMAIL, Channel.SMS):
            planned.append((total, step))
    window = timedelta(hours=hours)
    for (earlier_at, earlier), (at, step) in zip(planned, planned[cap:]):
        if at - earlier_at < window:
            return (f"The frequency cap ({_plural(cap, 'message')} per {hours} h to a contact, across all "
                    f"sequences) may stretch this timeline: step {step.order} is planned "
                    f"{_span_words(at - earlier_at)} after step {earlier.order} and cannot go until {hours} h "
                    "after it.")
    return ""


@dataclass(frozen=True)
class FlowEntry:
    """A node of a flow template as the gallery lists it: its kind and title."""

    day_label: str
    title: str


def template_gallery(*, tenant):
    """[(template, entries)] for the gallery: flows as their outline of nodes, linear
    templates described like a real timeline."""
    from . import templates_catalog
    from .models import StepKind

    cards = []
    for template in templates_catalog.FLOWS:
        cards.append((template, [FlowEntry(StepKind(node["type"]).label, node["title"]) for node in template.nodes]))
    for template in templates_catalog.CATALOG:
        steps = [
            Step(order=order, job_type=t.job_type, channel=t.channel, delay_value=t.delay_value,
                 delay_unit=t.delay_unit, business_days_only=t.business_days_only)
            for order, t in enumerate(template.steps, start=1)
        ]
        cards.append((template, describe_steps(steps, tenant, check=False)))
    return cards


def enrollments_paused_at(*, tenant, contact_id, at):
    """How many of the contact's enrollments were paused at the moment `at` (the time a
    fact about the contact was recorded with: its reactions stamp their rows with it)."""
    from .models import Activity, ActivityKind

    return Activity.objects.filter(tenant=tenant, contact_id=contact_id, kind=ActivityKind.PAUSED, created_at=at).count()


def enrollment_tallies(*, tenant, user):
    """{status: count} of the user's enrollments (contacts they own or that they
    enrolled), from the tallies the triggers keep: a few index rows, whatever the size."""
    from django.db.models import Sum

    from .models import EnrollmentTally

    rows = EnrollmentTally.objects.filter(tenant=tenant, user=user).values_list("status").annotate(n=Sum("delta"))
    return {status: n for status, n in rows.order_by() if n}


def recount_enrollments(*, tenant, user):
    """The same figures counted from the enrollments themselves: what the tallies must
    always equal (a full scan of the tenant's enrollments; for checks, not for pages)."""
    mine = Enrollment.objects.filter(tenant=tenant).filter(Q(contact__owner=user) | Q(enrolled_by=user))
    return dict(mine.values_list("status").annotate(n=Count("id")).order_by())


def sequence_tallies(*, tenant):
    """{(sequence_id, step_id, status): count} of the tenant's enrollments, from the
    per-sequence tallies; keys that sum to zero left out."""
    rows = SequenceTally.objects.filter(tenant=tenant).values_list("sequence_id", "step_id", "status")
    return {(s, step, status): n for s, step, status, n in rows.annotate(n=Sum("delta")).order_by() if n}


def recount_sequence_tallies(*, tenant):
    """The same figures counted from the enrollments themselves (a full scan of the
    tenant's enrollments; for checks, not for pages)."""
    rows = Enrollment.objects.filter(tenant=tenant).values_list("sequence_id", "current_step_id", "status")
    return {(s, step, status): n for s, step, status, n in rows.annotate(n=Count("id")).order_by()}


def version_definition(*, tenant, sequence, number=None):
    """The definition document of the sequence's version `number` (its published one
    when None), or None when it has no such version."""
    from .flow.definition import version_document
    from .models import SequenceVersion

    versions = SequenceVersion.objects.filter(tenant=tenant, sequence=sequence)
    version = versions.filter(pk=sequence.current_version_id).first() if number is None else \
        versions.filter(number=number).first()
    if version is None:
        return None
    return version_document(version, Step.objects.filter(version=version).order_by("order", "pk"))


def open_enrollments_elsewhere(*, tenant, sequence, version):
    """How many open enrollments of `sequence` are on a version other than `version`."""
    return Enrollment.objects.filter(tenant=tenant, sequence=sequence, status__in=(
        EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)).exclude(version=version).count()


def versions_list(*, tenant, sequence):
    """The sequence's versions, newest first, with their node and open enrollment counts
    (two grouped queries, whatever the number of versions)."""
    from .models import SequenceVersion

    versions = list(SequenceVersion.objects.filter(tenant=tenant, sequence=sequence).order_by("-number"))
    ids = [v.pk for v in versions]
    nodes = dict(Step.objects.filter(version_id__in=ids).order_by().values("version_id")
                 .annotate(n=Count("pk")).values_list("version_id", "n"))
    open_rows = dict(
        Enrollment.objects.filter(tenant=tenant, sequence=sequence, version_id__in=ids,
                                  status__in=(EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED))
        .order_by().values("version_id").annotate(n=Count("pk")).values_list("version_id", "n"))
    return [{
        "number": v.number, "state": v.state, "current": v.pk == sequence.current_version_id,
        "created_at": v.created_at.isoformat(),
        "published_at": v.published_at.isoformat() if v.published_at else None,
        "note": v.note, "nodes": nodes.get(v.pk, 0), "open_enrollments": open_rows.get(v.pk, 0),
    } for v in versions]


def pacing_warnings(nodes):
    """Where the flow of `nodes` goes beyond seed 002's pacing defaults (advice only)."""
    from .flow.pacing import pacing_warnings as warnings

    return warnings(nodes)


# ---------------------------------------------------------------- versions

def version_list(*, tenant, sequence):
    """The sequence's versions, newest first, each with `pinned`: its open enrollments
    (one query for the counts)."""
    from .models import SequenceVersion

    versions = list(SequenceVersion.objects.filter(tenant=tenant, sequence=sequence)
                    .select_related("published_by").order_by("-number"))
    rows = (Enrollment.objects.filter(tenant=tenant, sequence=sequence,
                                      status__in=(EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED))
            .values_list("version_id").annotate(n=Count("id")).order_by())
    pinned = dict(rows)
    for version in versions:
        version.pinned = pinned.get(version.pk, 0)
    return versions


def version_get(*, tenant, sequence, number):
    from django.http import Http404

    from .models import SequenceVersion

    version = SequenceVersion.objects.filter(tenant=tenant, sequence=sequence, number=number).first()
    if version is None:
        raise Http404("No such version.")
    return version


def version_nodes(*, tenant, version):
    return list(Step.objects.filter(tenant=tenant, version=version).order_by("order", "pk"))


@dataclass
class VersionDiff:
    added: list = field(default_factory=list)  # nodes of the newer version only
    removed: list = field(default_factory=list)  # nodes of the older version only
    changed: list = field(default_factory=list)  # [(old node, new node, [changed fields])]
    goals: bool = False
    exit_rules: bool = False

    def __bool__(self):
        return bool(self.added or self.removed or self.changed or self.goals or self.exit_rules)


def version_diff(*, tenant, old, new):
    """What changed from version `old` to version `new`, node by node (matched by key)."""
    from .flow.definition import node_changes

    before = {node.key: node for node in version_nodes(tenant=tenant, version=old)}
    after = version_nodes(tenant=tenant, version=new)
    after_keys = {node.key for node in after}
    diff = VersionDiff(removed=[node for key, node in before.items() if key not in after_keys],
                       goals=(old.goals or []) != (new.goals or []),
                       exit_rules=(old.exit_rules or {}) != (new.exit_rules or {}))
    # A kept node that moved among the other kept nodes changes the path through the outline.
    kept_before = [key for key in before if key in after_keys]
    kept_after = [node.key for node in after if node.key in before]
    for node in after:
        if node.key not in before:
            diff.added.append(node)
            continue
        changes = node_changes(before[node.key], node)
        if kept_before.index(node.key) != kept_after.index(node.key):
            changes.append("position")
        if changes:
            diff.changed.append((before[node.key], node, changes))
    return diff
