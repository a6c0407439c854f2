"""Endpoints mail clients and recipients reach without logging in: unsubscribe and
tracking. The token (sealed or signed) is the only authority."""
import base64
import logging

from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from scendcore.models import Tenant

from ..services import compliance, engagement
from ..services.tokens import BadToken

logger = logging.getLogger(__name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@csrf_exempt  # RFC 8058 one-click POSTs come from mail providers, with no cookie or CSRF token
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        tenant_id, contact_id, address_hash = compliance.unsubscribe_token_read(token)
    except BadToken:
        logger.warning("unsubscribe with an invalid token from %s", request.META.get("REMOTE_ADDR"))
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=400)
    if request.method == "POST":
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        compliance.contact_unsubscribe(
            tenant=tenant, contact_id=contact_id, source="one-click" if one_click else "page",
            address_hash=address_hash,
        )
        return render(request, "messaging/unsubscribe.html", {"tenant": tenant, "done": True})
    return render(request, "messaging/unsubscribe.html", {"tenant": tenant, "token": token})


@never_cache
@require_GET
def track_open(request, token):
    try:
        engagement.open_record(token=token)
    except BadToken:
        logger.info("open pixel with an invalid token")
    # Always the pixel: a broken image tells a sender nothing useful, and tells a
    # prober whether a token was valid.
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def track_click(request, token):
    url = request.GET.get("u", "")
    try:
        target = engagement.click_record(token=token, url=url)
    except BadToken:
        target = None
    if target is None:
        logger.warning("click redirect refused for %r", url[:200])
        return HttpResponse("This link is not valid.", status=400, content_type="text/plain")
    return HttpResponseRedirect(target)
