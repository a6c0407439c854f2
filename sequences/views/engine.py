"""The enrollment detail: its timeline, its messages, and when the next step goes."""
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scendcore.tenancy import tenant_required

from ..access import get_enrollment_for_user
from ..engine.explain import enrollment_explain
from ..models import Activity, ActivityKind, EnrollmentStatus, Priority

TIMELINE_LIMIT = 200


@tenant_required
def enrollment_detail(request, enrollment_id, *, status=200):
    enrollment = get_enrollment_for_user(request, enrollment_id, related=(
        "contact", "sequence", "sequence__agent", "sequence__sender_profile", "current_step",
    ))
    from messaging.models import OutboundMessage

    failure = ""
    if enrollment.status == EnrollmentStatus.FAILED:
        failed = Activity.objects.filter(tenant=request.tenant, enrollment=enrollment, kind=ActivityKind.FAILED) \
            .order_by("-created_at", "-id").values_list("data", flat=True).first()
        failure = (failed or {}).get("error", "")
    context = {
        "failure": failure,
        "enrollment": enrollment,
        "priority_choices": Priority.choices,
        "explanation": enrollment_explain(tenant=request.tenant, enrollment=enrollment),
        "timeline": Activity.objects.filter(tenant=request.tenant, enrollment=enrollment)
        .select_related("step", "actor").order_by("-created_at", "-id")[:TIMELINE_LIMIT],
        "messages_sent": OutboundMessage.objects.filter(tenant=request.tenant, enrollment=enrollment)
        .select_related("step").order_by("-created_at", "-id"),
    }
    template = "sequences/enrollment_detail.html"
    if request.htmx:
        template += "#enrollment-next"
    return render(request, template, context, status=status)


@tenant_required
@require_POST
def enrollment_priority(request, enrollment_id):
    from ..services.enrollments import enrollment_set_priority

    enrollment = get_enrollment_for_user(request, enrollment_id)
    try:
        value = int(request.POST.get("priority", ""))
    except ValueError:
        value = None
    try:
        enrollment_set_priority(tenant=request.tenant, enrollment=enrollment, priority=value, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return enrollment_detail(request, enrollment_id, status=422)
    messages.success(request, "Priority saved.")
    return redirect("sequences:enrollment-detail", enrollment_id=enrollment.pk)


@tenant_required
@require_POST
def enrollment_retry(request, enrollment_id):
    from ..services.enrollments import enrollment_retry as retry

    enrollment = get_enrollment_for_user(request, enrollment_id)
    try:
        retry(tenant=request.tenant, enrollment=enrollment, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return enrollment_detail(request, enrollment_id, status=422)
    messages.success(request, "Retrying: the step runs again now.")
    return redirect("sequences:enrollment-detail", enrollment_id=enrollment.pk)
