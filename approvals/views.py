from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from agents.selectors import threads_for
from contacts.suppression import suppression_reasons
from scendcore.lookups import as_ids
from scendcore.paging import TablePaginator
from scendcore.tenancy import tenant_required

from . import selectors, services
from .access import get_approval_for_user

PAGE_SIZE = 25


def _queue_context(request, *, errors=None, posted=None):
    filters = selectors.parse_filters(request.GET)
    queue = selectors.approval_queue(tenant=request.tenant, membership=request.membership, filters=filters)
    # Exact: reviewers act on the number ("12 pending drafts"); the count is index-only
    # over (tenant, status, created_at, id), and a page's ids come from the same index, so
    # the last page costs what the first does.
    page = TablePaginator(queue, PAGE_SIZE, exact_count=True).get_page(request.GET.get("page"))
    approvals = list(page.object_list)
    threads = threads_for(tenant=request.tenant, enrollment_ids={a.enrollment_id for a in approvals})
    now = timezone.now()
    suppressed = suppression_reasons(a.message.contact for a in approvals)
    cards = []
    for approval in approvals:
        contact = approval.message.contact
        cards.append({
            "approval": approval,
            "message": approval.message,
            "contact": contact,
            "step": approval.message.step,
            "sequence": approval.enrollment.sequence,
            "thread": threads.get(approval.enrollment_id, []),
            "blocked": services.blocked_reason_for(
                approval=approval, message=approval.message, enrollment=approval.enrollment, suppressed=suppressed),
            "can_decide": selectors.can_decide(membership=request.membership, approval=approval),
            "errors": (errors or {}) if posted and posted.get("id") == approval.pk else {},
            "posted": posted if posted and posted.get("id") == approval.pk else None,
        })
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "cards": cards, "now": now, "page": page, "filters": filters, "query": query.urlencode(),
        "choices": selectors.filter_choices(tenant=request.tenant),
        "can_bulk": request.membership.is_manager or request.tenant.reps_can_approve,
    }


@tenant_required
def approval_queue(request):
    template = "approvals/queue.html#approval-queue" if request.htmx else "approvals/queue.html"
    return render(request, template, _queue_context(request))


def _done(request, *, status=200, errors=None, posted=None):
    """After an action: the refreshed queue region for htmx, else back to the page with
    the same filters."""
    if request.htmx:
        context = _queue_context(request, errors=errors, posted=posted)
        return render(request, "approvals/queue.html#approval-queue", context, status=status)
    if status == 422:
        return render(request, "approvals/queue.html", _queue_context(request, errors=errors, posted=posted),
                      status=status)
    query = request.GET.urlencode()
    return redirect(reverse("approvals:queue") + (f"?{query}" if query else ""))


def _decidable(request, approval_id):
    approval = get_approval_for_user(request, approval_id)
    if not selectors.can_decide(membership=request.membership, approval=approval):
        raise PermissionDenied("You may not decide on this draft.")
    return approval


@tenant_required
@require_POST
def approval_approve(request, approval_id):
    approval = _decidable(request, approval_id)
    subject, body = request.POST.get("subject"), request.POST.get("body")
    try:
        services.approval_approve(tenant=request.tenant, approval=approval, actor=request.user,
                                  subject=subject, body=body)
    except ValidationError as exc:
        posted = {"id": approval.pk, "subject": subject or "", "body": body or ""}
        return _done(request, status=422, errors=exc.message_dict, posted=posted)
    except (services.ApprovalConflict, services.ApprovalBlocked) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Approved the draft for {approval.message.contact}.")
    return _done(request)


@tenant_required
@require_POST
def approval_reject(request, approval_id):
    approval = _decidable(request, approval_id)
    reason = request.POST.get("reason", "")
    try:
        services.approval_reject(tenant=request.tenant, approval=approval, actor=request.user, reason=reason)
    except ValidationError as exc:
        return _done(request, status=422, errors=exc.message_dict, posted={"id": approval.pk, "reason": reason})
    except services.ApprovalConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rejected the draft for {approval.message.contact}.")
    return _done(request)


@tenant_required
@require_POST
def approval_regenerate(request, approval_id):
    approval = _decidable(request, approval_id)
    try:
        services.approval_regenerate(tenant=request.tenant, approval=approval, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except services.ApprovalConflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Wrote a new draft for {approval.message.contact}.")
    return _done(request)


@tenant_required
@require_POST
def approvals_bulk(request):
    action = request.POST.get("action")
    ids = as_ids(request.POST.getlist("approval_ids"))
    reason = request.POST.get("reason", "")
    if action not in ("approve", "reject") or not ids:
        messages.error(request, "Select drafts and an action.")
        return _done(request)
    if action == "reject" and not reason.strip():
        messages.error(request, "Say why the selected drafts are rejected.")
        return _done(request)
    visible = selectors.visible_approvals(tenant=request.tenant, membership=request.membership).filter(pk__in=ids)
    allowed = [a.pk for a in visible.select_related("message__contact")
               if selectors.can_decide(membership=request.membership, approval=a)]
    done, skipped = services.approvals_bulk(
        tenant=request.tenant, approval_ids=allowed, actor=request.user, action=action, reason=reason)
    verb = "Approved" if action == "approve" else "Rejected"
    messages.success(request, f"{verb} {done} draft{'s' if done != 1 else ''}.")
    for approval_id, why in skipped:
        messages.warning(request, f"Draft #{approval_id}: {why}")
    return _done(request)
