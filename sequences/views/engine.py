"""The enrollment detail: its timeline, its messages, and when the next step goes."""
from django.shortcuts import render

from scendcore.tenancy import get_for_tenant, tenant_required

from ..engine.explain import enrollment_explain
from ..models import Activity, Enrollment

TIMELINE_LIMIT = 200


@tenant_required
def enrollment_detail(request, enrollment_id):
    enrollment = get_for_tenant(
        Enrollment.objects.select_related(
            "contact", "sequence", "sequence__agent", "sequence__sender_profile", "current_step",
        ),
        request, pk=enrollment_id,
    )
    from messaging.models import OutboundMessage

    context = {
        "enrollment": enrollment,
        "explanation": enrollment_explain(tenant=request.tenant, enrollment=enrollment),
        "timeline": Activity.objects.filter(tenant=request.tenant, enrollment=enrollment)
        .select_related("step", "actor").order_by("-created_at", "-id")[:TIMELINE_LIMIT],
        "messages_sent": OutboundMessage.objects.filter(tenant=request.tenant, enrollment=enrollment)
        .select_related("step").order_by("-created_at", "-id"),
    }
    template = "sequences/enrollment_detail.html"
    if request.htmx:
        template += "#enrollment-next"
    return render(request, template, context)
