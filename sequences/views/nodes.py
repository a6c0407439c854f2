"""The outline's node views: add a node of any type after another, edit it with the form
of its type, delete it. Each is one view serving the full page and, for HTMX, the
outline region; invalid input answers 422 with the errors next to their fields."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect

from scendcore.tenancy import tenant_required

from .. import node_forms, selectors
from ..access import get_sequence_for_user, get_step_for_user
from ..models import StepKind
from ..services import nodes as service
from .builder import _add_errors, _builder, _detail_url


def forms_for(*, tenant, sequence, kind, node=None, data=None):
    """(settings form, paths form or None) of a node of `kind`, bound to `data`, or
    opened on the node's stored settings."""
    nodes = selectors.sequence_steps(tenant=tenant, sequence=sequence)
    prefix = f"n{node.pk}_%s" if node is not None else "add_%s"
    common = {"tenant": tenant, "nodes": nodes, "node": node, "sequence": sequence, "auto_id": prefix}
    if kind in (StepKind.MESSAGE, StepKind.TASK):
        step_class = node_forms.step_form_class(kind, node)
        is_first = not nodes or (node is not None and nodes[0].pk == node.pk)
        step_form = step_class(data, initial=step_class.initial_for(node, is_first=is_first) if data is None else None,
                               is_first=is_first, auto_id=prefix)
        paths = node_forms.PathsForm(data, initial=node_forms.PathsForm.initial_for(node) if data is None else None,
                                     outcomes=kind == StepKind.TASK, **common)
        return step_form, paths
    form_class = node_forms.SETTINGS_FORMS[kind]
    return form_class(data, initial=form_class.initial_for(node) if data is None else None, **common), None


def _values(form, paths):
    """The services' arguments from a node's valid forms."""
    if paths is None:
        return form.node_values()
    result = paths.node_values()
    values = dict(form.values)
    if values.get("channel") in ("task", "call_reminder"):
        result["title"] = result["title"] or form.cleaned_data.get("title", "")[:200]
    result["values"] = values
    return result


def _valid(form, paths):
    return form.is_valid() & (paths is None or paths.is_valid())


def _kind_of(request):
    kind = request.GET.get("type") or request.POST.get("type") or ""
    return kind if kind in dict(node_forms.ADD_TYPES) else None


@tenant_required
def node_add(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    kind, after = _kind_of(request), request.GET.get("after") or request.POST.get("after") or ""
    if kind is None:
        return _builder(request, sequence, errors=["Choose the type of node to add."], status=422)
    if request.method != "POST":
        form, paths = forms_for(tenant=request.tenant, sequence=sequence, kind=kind)
        return _builder(request, sequence, adding=_adding(after, kind, form, paths))
    form, paths = forms_for(tenant=request.tenant, sequence=sequence, kind=kind, data=request.POST)
    if _valid(form, paths):
        try:
            node = service.node_add(tenant=request.tenant, sequence=sequence, actor=request.user,
                                    kind=_stored_kind(kind, form, paths), after=after or None, **_values(form, paths))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            text = f"Step {node.order} added."
            if not request.htmx:
                messages.success(request, text)
                return redirect(_detail_url(sequence, f"step-{node.pk}"))
            return _builder(request, sequence, flash=text, highlight=node.pk)
    return _builder(request, sequence, adding=_adding(after, kind, form, paths),
                    status=422)


def _adding(after, kind, form, paths):
    return {"after": after, "kind": kind, "label": dict(node_forms.ADD_TYPES)[kind], "form": form, "paths": paths}


def _stored_kind(kind, form, paths):
    """A message form may post a task channel and the other way round: the channel decides."""
    if paths is None:
        return kind
    return StepKind.TASK if form.values.get("channel") in ("task", "call_reminder") else StepKind.MESSAGE


@tenant_required
def node_edit(request, sequence_id, node_id):
    sequence, node = get_step_for_user(request, sequence_id, node_id)
    if node.kind not in dict(node_forms.ADD_TYPES):
        return _builder(request, sequence, errors=[f"A “{node.kind}” node cannot be edited here."], status=422)
    if request.method != "POST":
        form, paths = forms_for(tenant=request.tenant, sequence=sequence, kind=node.kind, node=node)
        return _builder(request, sequence, editing_node={"node": node, "form": form, "paths": paths})
    form, paths = forms_for(tenant=request.tenant, sequence=sequence, kind=node.kind, node=node, data=request.POST)
    if _valid(form, paths):
        try:
            saved = service.node_update(tenant=request.tenant, sequence=sequence, node=node, actor=request.user,
                                        **_values(form, paths))
        except ValidationError as error:
            _add_errors(form, error)
        else:
            text = f"Step {saved.order} saved."
            if not request.htmx:
                messages.success(request, text)
                return redirect(_detail_url(sequence, f"step-{saved.pk}"))
            return _builder(request, sequence, flash=text, highlight=saved.pk)
    return _builder(request, sequence, editing_node={"node": node, "form": form, "paths": paths}, status=422)


@tenant_required
def node_delete(request, sequence_id, node_id):
    sequence, node = get_step_for_user(request, sequence_id, node_id)
    if request.method != "POST":
        return _builder(request, sequence, confirm={"kind": "delete-node", "step": node})
    try:
        service.node_delete(tenant=request.tenant, sequence=sequence, node=node, actor=request.user)
    except ValidationError as error:
        return _builder(request, sequence, errors=list(error.messages), status=422)
    text = f"Step {node.order} deleted; the paths that led to it continue where it did."
    if not request.htmx:
        messages.success(request, text)
        return redirect(_detail_url(sequence, "sequence-timeline"))
    return _builder(request, sequence, flash=text)
