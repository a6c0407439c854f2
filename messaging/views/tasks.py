from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from scendcore.paging import TablePaginator
from scendcore.tenancy import tenant_required
from sequences.services.tasks import task_complete, task_skip

from .. import selectors
from ..access import get_task_for_user
from ..forms import TaskFinishForm

PAGE_SIZE = 50


def _list_context(request):
    team = request.membership.is_manager and request.GET.get("scope") == "team"
    done = request.GET.get("status") == "done"
    tasks = selectors.task_list(tenant=request.tenant, membership=request.membership, team=team, done=done)
    # Paged: every open card carries a form, and a team with thousands of open tasks would
    # otherwise render hundreds of them on every visit (and after every completion).
    page = TablePaginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    query = QueryDict(mutable=True)
    if team:
        query["scope"] = "team"
    if done:
        query["status"] = "done"
    return {
        "tasks": page.object_list, "page": page, "filter_query": query.urlencode(), "team": team, "done": done,
        "can_see_team": request.membership.is_manager, "now": timezone.now(),
    }


@tenant_required
def task_list(request):
    template = "messaging/tasks.html#task-list" if request.htmx else "messaging/tasks.html"
    return render(request, template, _list_context(request))


def _finish(request, task_id, service):
    task = get_task_for_user(request, task_id)
    form = TaskFinishForm(request.POST)
    error = None
    if form.is_valid():
        try:
            kwargs = {"outcome_note": form.cleaned_data["outcome_note"], "outcome": form.cleaned_data["outcome"]} \
                if service is task_complete else {"reason": form.cleaned_data["outcome_note"]}
            service(tenant=request.tenant, task=task, actor=request.user, **kwargs)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = "The note or the outcome is too long."
    if request.htmx or error:
        context = {**_list_context(request), "task_error": error, "error_task_id": task.pk}
        template = "messaging/tasks.html#task-list" if request.htmx else "messaging/tasks.html"
        return render(request, template, context, status=422 if error else 200)
    return redirect("messaging:task-list")


@tenant_required
@require_POST
def task_complete_view(request, task_id):
    return _finish(request, task_id, task_complete)


@tenant_required
@require_POST
def task_skip_view(request, task_id):
    return _finish(request, task_id, task_skip)
