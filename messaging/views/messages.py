"""Outbound messages: every member sees the mail to the contacts they may see (reps
their own when the workspace says so, contacts.visibility); resending is a manager's call."""
from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals.selectors import rejection_of
from scendcore import paging
from scendcore.paging import TablePaginator
from scendcore.tenancy import manager_required, tenant_required

from .. import selectors
from ..access import get_message_for_user
from ..models import MessageState
from ..services.delivery import message_resend

PAGE_SIZE = 50


@tenant_required
def message_list(request):
    state = request.GET.get("state", "")
    if state not in MessageState.values:
        state = ""
    rows = selectors.message_list(tenant=request.tenant, membership=request.membership, state=state)
    page = TablePaginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    template = "messaging/messages.html#message-table" if request.htmx else "messaging/messages.html"
    counts = selectors.message_state_counts(tenant=request.tenant, membership=request.membership)
    return render(request, template, {
        "page": page, "state": state,
        # (value, label, count) of the states that have messages, in the states' order.
        "state_counts": [(value, label, paging.bounded_label(counts[value], paging.COUNT_CAP))
                         for value, label in MessageState.choices if value in counts],
    })


@tenant_required
def message_detail(request, message_id):
    message = get_message_for_user(request, message_id)
    return render(request, "messaging/message_detail.html", {
        "message": message,
        "can_resend": request.membership.is_manager and message.state in (MessageState.FAILED, MessageState.UNKNOWN),
        "inbound": message.inbound.all()[:20],
        # A reviewer's rejection cancels the message: shown as what it is, not as an error.
        "rejection": rejection_of(tenant=request.tenant, message=message)
        if message.state == MessageState.CANCELLED else None,
    })


@manager_required
@require_POST
def message_resend_view(request, message_id):
    message = get_message_for_user(request, message_id)
    try:
        message_resend(tenant=request.tenant, message=message, actor=request.user)
        flash.success(request, "The message is queued again.")
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    return redirect("messaging:message-detail", message_id=message.pk)
