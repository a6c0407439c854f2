"""A sequence's versions: the list, one version read-only with its diff against the
published one, and publishing the draft (problems per node, stay or move, node map)."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse

from scendcore.tenancy import tenant_required

from .. import selectors
from ..access import get_sequence_for_user
from ..services import versions as service

PUBLISH = "sequences/publish.html"
FINISH = "__finish__"  # the node map's choice "they finish" (no node key starts with "_")


@tenant_required
def version_list(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    return render(request, "sequences/versions.html", {
        "sequence": sequence, "versions": selectors.version_list(tenant=request.tenant, sequence=sequence),
    })


@tenant_required
def version_detail(request, sequence_id, number):
    sequence = get_sequence_for_user(request, sequence_id)
    version = selectors.version_get(tenant=request.tenant, sequence=sequence, number=number)
    current = sequence.current_version
    nodes = selectors.version_nodes(tenant=request.tenant, version=version)
    diff = None if version.pk == current.pk else selectors.version_diff(tenant=request.tenant, old=version, new=current)
    return render(request, "sequences/version_detail.html", {
        "sequence": sequence, "version": version, "current": current, "diff": diff,
        "entries": selectors.describe_steps(nodes, request.tenant, check=False),
    })


def _node_map(post, preview):
    """{removed key: new key or None} from the form; a removed node left unchosen is absent."""
    chosen = {}
    for group in preview.groups:
        value = post.get(f"map-{group.key}", "")
        if not group.kept and value:
            chosen[group.key] = None if value == FINISH else value
    return chosen


@tenant_required
def version_publish(request, sequence_id):
    sequence = get_sequence_for_user(request, sequence_id)
    try:
        preview = service.publish_preview(tenant=request.tenant, sequence=sequence)
    except ValidationError:
        messages.info(request, "There is no draft to publish: edit the sequence to start one.")
        return redirect(reverse("sequences:version-list", args=[sequence.pk]))
    move, refused = request.POST.get("move", service.STAY), {}
    if request.method == "POST":
        node_map = _node_map(request.POST, preview)
        try:
            version, moved = service.version_publish(tenant=request.tenant, sequence=sequence, actor=request.user,
                                                     move=move, node_map=node_map)
        except service.PublishRefused as error:
            refused = error.problems
        except ValidationError as error:
            refused = {service.FLOW: {"move": error.messages}}
        else:
            moved_text = f" {moved} enrollment{'s' if moved != 1 else ''} moved to it." if move == service.MAP else ""
            messages.success(request, f"Version {version.number} is published.{moved_text}")
            return redirect(reverse("sequences:sequence-detail", args=[sequence.pk]))
        preview = service.publish_preview(tenant=request.tenant, sequence=sequence, node_map=node_map)
    else:
        preview = service.publish_preview(tenant=request.tenant, sequence=sequence, node_map={
            group.key: group.suggestion for group in preview.groups if not group.kept})
    nodes = selectors.version_nodes(tenant=request.tenant, version=preview.draft)
    context = {"sequence": sequence, "preview": preview, "move": move, "finish": FINISH, "new_nodes": nodes,
               "problems": {**preview.problems, **refused},
               "entries": selectors.describe_steps(nodes, request.tenant, check=False)}
    status = 422 if request.method == "POST" else 200
    return render(request, f"{PUBLISH}#publish-form" if request.htmx else PUBLISH, context, status=status)
