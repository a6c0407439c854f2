"""Inbound mail that failed processing, for managers: see why, retry or discard."""
from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scendcore.paging import TablePaginator
from scendcore.tenancy import manager_required

from .. import selectors
from ..access import get_quarantined_for_user
from ..models import QuarantineStatus
from ..services.quarantine import quarantine_discard, quarantine_retry

RAW_PREVIEW_BYTES = 20_000
PAGE_SIZE = 25


@manager_required
def quarantine_list(request):
    status = request.GET.get("status", QuarantineStatus.HELD)
    if status not in QuarantineStatus.values:
        status = QuarantineStatus.HELD
    page = TablePaginator(selectors.quarantine_list(tenant=request.tenant, status=status), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "messaging/quarantine.html", {
        "page": page, "status": status, "statuses": QuarantineStatus.choices,
    })


@manager_required
def quarantine_detail(request, quarantine_id):
    item = get_quarantined_for_user(request, quarantine_id)
    preview = bytes(item.raw[:RAW_PREVIEW_BYTES]).decode("utf-8", errors="replace")
    return render(request, "messaging/quarantine_detail.html", {
        "item": item, "preview": preview, "truncated": len(item.raw) > RAW_PREVIEW_BYTES,
    })


@manager_required
@require_POST
def quarantine_retry_view(request, quarantine_id):
    item = get_quarantined_for_user(request, quarantine_id)
    try:
        item = quarantine_retry(tenant=request.tenant, item=item, actor=request.user)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        if item.status == QuarantineStatus.RELEASED:
            flash.success(request, f"Processed: recorded as {item.inbound.get_classification_display().lower()}.")
        else:
            flash.error(request, f"Still failing: {item.error}")
    return redirect("messaging:quarantine-list")


@manager_required
@require_POST
def quarantine_discard_view(request, quarantine_id):
    item = get_quarantined_for_user(request, quarantine_id)
    try:
        quarantine_discard(tenant=request.tenant, item=item, actor=request.user)
        flash.success(request, "Discarded.")
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    return redirect("messaging:quarantine-list")
