"""The sequences page, the template gallery and the builder (steps, settings, status).

One template per page; for HTMX requests the view renders only the changed region
("page.html#region"). Every form also works as a plain POST followed by a redirect."""
import functools

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from scendcore.tenancy import manager_required, role_of, tenant_required

from .. import selectors, templates_catalog
from ..access import get_sequence_for_user, get_step_for_user
from ..engine.validation import FLOW, flow_problems
from ..forms import GoalForm, SequenceCreateForm, SequenceFilterForm, SequenceSettingsForm, StepForm, TaskStepForm
from ..models import SequenceStatus, SequenceVersion, VersionState
from ..node_forms import ADD_TYPES
from ..outline import outline_words
from ..services import sequences as service
from ..services.exit_rules import exit_rules_set
from ..services.goals import goals_set
from ..services import steps as step_service

LIST = "sequences/list.html"
BUILDER = "sequences/builder.html"
PAGE_SIZE = 24


def _messages_of(error):
    return list(error.messages) if isinstance(error, ValidationError) else [str(error)]


def _detail_url(sequence, anchor=""):
    return reverse("sequences:sequence-detail", args=[sequence.pk]) + (f"#{anchor}" if anchor else "")


# ---------------------------------------------------------------- list and creation

@tenant_required
def sequence_list(request):
    filters = SequenceFilterForm(request.GET or None)
    status = q = ""
    if filters.is_valid():
        status, q = filters.cleaned_data["status"], filters.cleaned_data["q"]
    page = Paginator(selectors.sequence_list(tenant=request.tenant, status=status, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    cards = list(page.object_list)
    stats = selectors.enrollment_stats(tenant=request.tenant, sequence_ids=[s.pk for s in cards])
    goals = selectors.goal_stats(tenant=request.tenant, sequence_ids=[s.pk for s in cards])
    for card in cards:
        card.stats, card.goals = stats[card.pk], goals[card.pk]
    context = {
        "filters": filters, "page": page, "cards": cards, "filtered": bool(status or q),
        # get_page() falls back to the last page, so an empty unfiltered page means no sequences.
        "show_gallery": not cards and not (status or q),
        "gallery": selectors.template_gallery(tenant=request.tenant) if not cards else [],
    }
    return render(request, f"{LIST}#sequence-cards" if request.htmx else LIST, context)


@tenant_required
def sequence_create(request):
    form = SequenceCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sequence = service.sequence_create(tenant=request.tenant, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"“{sequence.name}” created. Add its first step.")
            return redirect(_detail_url(sequence))
    status = 422 if request.method == "POST" else 200
    return render(request, "sequences/create.html", {"form": form}, status=status)


@tenant_required
def sequence_templates(request):
    """The template gallery; POST creates a sequence from the chosen template."""
    if request.method == "POST":
        key = request.POST.get("key", "")
        if templates_catalog.get(key) is None:
            messages.error(request, "Choose one of the templates below.")
        else:
            sequence = service.sequence_create_from_template(
                tenant=request.tenant, key=key, actor=request.user, name=request.POST.get("name") or None
            )
            messages.success(request, f"“{sequence.name}” created from the template. Review the steps, "
                                      "pick an agent and sender, then activate.")
            return redirect(_detail_url(sequence))
    return render(request, "sequences/templates.html", {"gallery": selectors.template_gallery(tenant=request.tenant)},
                  status=422 if request.method == "POST" else 200)


# ---------------------------------------------------------------- the builder

def _builder(request, sequence, *, status=200, partial="sequence-timeline", **state):
    """Render the builder (or one of its regions for HTMX) in the given state: a step
    being edited, a delete/move waiting for confirmation, errors to show."""
    steps = selectors.sequence_steps(tenant=request.tenant, sequence=sequence)
    read_only = sequence.status == SequenceStatus.ARCHIVED
    context = {
        "sequence": sequence, "steps": steps, "read_only": read_only,
        "entries": selectors.timeline(tenant=request.tenant, sequence=sequence, steps=steps),
        "cap_note": selectors.cap_stretch_note(tenant=request.tenant, steps=steps),
        "add_form": state.pop("add_form", None) or StepForm(initial=StepForm.initial_for(is_first=not steps),
                                                            is_first=not steps, auto_id="new_%s"),
        "add_task_form": state.pop("add_task_form", None) or TaskStepForm(
            initial=TaskStepForm.initial_for(is_first=not steps), is_first=not steps, auto_id="newtask_%s"),
        "problems": service.activation_problems(sequence, steps, tenant=request.tenant),
        "pacing_warnings": selectors.pacing_warnings(steps),
        **_draft_state(sequence, steps),
        "can_archive": request.membership.is_manager,
        "enrollments_url": f"/sequences/{sequence.pk}/enrollments/",
        # Regions swapped by HTMX also refresh the header (status, version, checklist).
        "oob": bool(request.htmx) and partial in ("sequence-timeline", "sequence-settings"),
        **state,
    }
    _outline(request, sequence, steps, context)
    if "settings_form" not in context:
        context["settings_form"] = _settings_form(
            request, sequence, initial=SequenceSettingsForm.initial_for(sequence))
    if "goal_form" not in context:
        context["goal_form"] = GoalForm(tenant=request.tenant, sequence=sequence, auto_id="goal_%s")
    context["goals"] = selectors.sequence_goals(tenant=request.tenant, sequence=sequence)
    template = f"{BUILDER}#{partial}" if request.htmx else BUILDER
    return render(request, template, context, status=status)


def _outline(request, sequence, steps, context):
    """Give each timeline entry its outline words (name, settings, paths) and the
    problems a publish would refuse, on the node they concern."""
    problems = flow_problems(steps, tenant=request.tenant) if steps else {}
    words = outline_words(tenant=request.tenant, nodes=steps)
    for entry in context["entries"]:
        entry.name, entry.summary, entry.paths = words[entry.step.key]
        entry.problems = [m for messages in problems.get(entry.step.key, {}).values() for m in messages]
    context["flow_problems"] = [m for messages in problems.get(FLOW, {}).values() for m in messages]
    context["add_types"] = ADD_TYPES


def _draft_state(sequence, steps):
    """The draft being edited and the published version's number. The nodes shown are
    the draft's when there is one, so they tell without a query whether there is."""
    if steps and steps[0].version_id == sequence.current_version_id:
        return {"draft": None}
    found = {v.pk: v for v in SequenceVersion.objects.filter(
        Q(sequence=sequence, state=VersionState.DRAFT) | Q(pk=sequence.current_version_id))}
    published = found.pop(sequence.current_version_id, None)
    draft = next(iter(found.values()), None)
    if draft is None:
        return {"draft": None}
    return {"draft": draft, "published_number": getattr(published, "number", None)}


@tenant_required
def sequence_detail(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    return _builder(request, sequence, partial="sequence-builder")


@tenant_required
def sequence_settings(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    if request.method != "POST":
        return redirect(_detail_url(sequence, "sequence-settings"))
    form = _settings_form(request, sequence, data=request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():  # the sequence's settings and its version's exit rules, together
                sequence = service.sequence_update_settings(
                    tenant=request.tenant, sequence=sequence, actor=request.user, values=form.values
                )
                exit_rules_set(tenant=request.tenant, sequence=sequence, values=form.exit_rules, actor=request.user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, "Settings saved.")
                return redirect(_detail_url(sequence, "sequence-settings"))
            return _builder(request, sequence, partial="sequence-settings", settings_saved=True)
    return _builder(request, sequence, partial="sequence-settings", settings_form=form, status=422)


@require_POST
@tenant_required
def goal_add(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    form = GoalForm(request.POST, tenant=request.tenant, sequence=sequence, auto_id="goal_%s")
    if form.is_valid():
        current = sequence.current_version.goals if sequence.current_version else []
        try:
            goals_set(tenant=request.tenant, sequence=sequence, goals=[*current, form.goal], actor=request.user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, "Goal added.")
                return redirect(_detail_url(sequence, "sequence-goals"))
            return _builder(request, sequence, partial="sequence-goals", goal_notice="Goal added.")
    return _builder(request, sequence, partial="sequence-goals", goal_form=form, goal_open=True, status=422)


@require_POST
@tenant_required
def goal_delete(request, sequence_id, goal_key):
    sequence = get_sequence_for_user(request, sequence_id)
    current = sequence.current_version.goals if sequence.current_version else []
    goals_set(tenant=request.tenant, sequence=sequence, goals=[g for g in current if g.get("key") != goal_key],
              actor=request.user)
    if not request.htmx:
        messages.success(request, "Goal removed.")
        return redirect(_detail_url(sequence, "sequence-goals"))
    return _builder(request, sequence, partial="sequence-goals", goal_notice="Goal removed.")


def _settings_form(request, sequence, **kwargs):
    return SequenceSettingsForm(
        **kwargs, tenant=request.tenant, role=request.membership.role,
        owner_role=role_of(tenant=request.tenant, user_id=sequence.owner_id),
    )


def _add_errors(form, error):
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


# ---------------------------------------------------------------- steps

@require_POST
@tenant_required
def step_add(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    steps_exist = bool(selectors.sequence_steps(tenant=request.tenant, sequence=sequence))
    # One endpoint for both forms: the posted channel says which form it came from.
    form_class = StepForm.for_channel(request.POST.get("channel"))
    is_task = form_class is TaskStepForm
    form = form_class(request.POST, is_first=not steps_exist, auto_id="newtask_%s" if is_task else "new_%s")
    if form.is_valid():
        try:
            step = step_service.step_add(tenant=request.tenant, sequence=sequence, actor=request.user,
                                         values=form.values)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, f"Step {step.order} added.")
                return redirect(_detail_url(sequence, f"step-{step.pk}"))
            return _builder(request, sequence, flash=f"Step {step.order} added.", highlight=step.pk)
    if is_task:
        return _builder(request, sequence, add_task_form=form, status=422, add_task_open=True)
    return _builder(request, sequence, add_form=form, status=422, add_open=True)


@tenant_required
def step_edit(request, sequence_id, step_id):
    sequence, step = get_step_for_user(request, sequence_id, step_id)
    form_class = StepForm.for_step(step)
    if request.method != "POST":
        form = form_class(initial=form_class.initial_for(step), is_first=step.order == 1, auto_id=f"s{step.pk}_%s")
        return _builder(request, sequence, editing=step.pk, edit_form=form)
    form = form_class(request.POST, is_first=step.order == 1, auto_id=f"s{step.pk}_%s")
    if form.is_valid():
        try:
            step_service.step_update(tenant=request.tenant, step=step, actor=request.user, values=form.values)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            if not request.htmx:
                messages.success(request, f"Step {step.order} saved.")
                return redirect(_detail_url(sequence, f"step-{step.pk}"))
            return _builder(request, sequence, flash=f"Step {step.order} saved.", highlight=step.pk)
    return _builder(request, sequence, editing=step.pk, edit_form=form, status=422)


@tenant_required
def step_delete(request, sequence_id, step_id):
    sequence, step = get_step_for_user(request, sequence_id, step_id)
    if request.method == "POST":
        try:
            moved = step_service.step_delete(tenant=request.tenant, step=step, actor=request.user)
        except ValidationError as error:
            return _builder(request, sequence, errors=_messages_of(error), status=422)
        text = f"Step {step.order} deleted." + (f" {moved} enrollment{'s' if moved != 1 else ''} moved on." if moved else "")
        if not request.htmx:
            messages.success(request, text)
            return redirect(_detail_url(sequence, "sequence-timeline"))
        return _builder(request, sequence, flash=text)
    plan = step_service.delete_preview(tenant=request.tenant, sequence=sequence, step=step)
    return _builder(request, sequence, confirm={"kind": "delete", "step": step, "plan": plan})


@require_POST
@tenant_required
def step_move(request, sequence_id, step_id):
    sequence, step = get_step_for_user(request, sequence_id, step_id)
    position = _target_position(request.POST, step)
    if position is None:
        return _builder(request, sequence, errors=["Choose up or down."], status=422)
    plan = step_service.move_preview(tenant=request.tenant, sequence=sequence, step=step, position=position)
    if plan.affected and not request.POST.get("confirm"):
        return _builder(request, sequence, confirm={"kind": "move", "step": step, "plan": plan,
                                                    "position": position})
    try:
        moved = step_service.step_move(tenant=request.tenant, step=step, position=position, actor=request.user)
    except ValidationError as error:
        return _builder(request, sequence, errors=_messages_of(error), status=422)
    text = f"Step moved to position {position}." + (f" {moved} enrollment{'s' if moved != 1 else ''} moved on." if moved else "")
    if not request.htmx:
        messages.success(request, text)
        return redirect(_detail_url(sequence, f"step-{step.pk}"))
    return _builder(request, sequence, flash=text, highlight=step.pk, focus_move=request.POST.get("direction"))


def _target_position(data, step):
    direction = data.get("direction")
    if direction == "up":
        return step.order - 1 if step.order > 1 else None
    if direction == "down":
        return step.order + 1
    try:
        return int(data.get("position", ""))
    except ValueError:
        return None


# ---------------------------------------------------------------- status

def _status_action(request, sequence_id, action, done_text=None):
    """`done_text`: what the header's status banner does not already say (None: the
    banner alone tells the new status, so it is not said twice)."""
    sequence = get_sequence_for_user(request, sequence_id)
    try:
        action(tenant=request.tenant, sequence=sequence, actor=request.user)
    except ValidationError as error:
        if request.htmx:
            return _builder(request, sequence, partial="sequence-header", status_errors=_messages_of(error),
                            status=422)
        return _builder(request, sequence, partial="sequence-builder", status_errors=_messages_of(error),
                        status=422)
    sequence.refresh_from_db()
    if request.htmx:
        return _builder(request, sequence, partial="sequence-header", status_flash=done_text)
    if done_text:
        messages.success(request, done_text)
    return redirect(_detail_url(sequence))


@require_POST
@tenant_required
def sequence_activate(request, sequence_id):
    return _status_action(request, sequence_id, service.sequence_activate)


@require_POST
@tenant_required
def sequence_pause(request, sequence_id):
    return _status_action(request, sequence_id, service.sequence_pause)


@require_POST
@tenant_required
def sequence_resume(request, sequence_id):
    send_now = request.POST.get("send_overdue_now") == "on"
    return _status_action(
        request, sequence_id, functools.partial(service.sequence_resume, send_overdue_now=send_now),
        "Resumed: overdue steps go now." if send_now else "Resumed: overdue steps are spread out from now.",
    )


@require_POST
@manager_required
def sequence_archive(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    try:
        ended = service.sequence_archive(tenant=request.tenant, sequence=sequence, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(_messages_of(error)))
    else:
        messages.success(request, f"Archived. {ended} open enrollment{'s' if ended != 1 else ''} ended.")
    return redirect(_detail_url(sequence))


@require_POST
@tenant_required
def sequence_duplicate(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    copy = service.sequence_duplicate(tenant=request.tenant, sequence=sequence, actor=request.user)
    messages.success(request, f"“{copy.name}” is a draft copy of “{sequence.name}”.")
    if sequence.agent_id and copy.agent_id is None:
        refusal = service.agent_refusal(tenant=request.tenant, actor=request.user, agent=sequence.agent)
        messages.warning(request, f"Its agent was not copied: {refusal}")
    return redirect(_detail_url(copy))
