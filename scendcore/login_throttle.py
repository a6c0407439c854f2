"""Failed-login limits: django-axes locks a username tried from one address
(AXES_FAILURE_LIMIT); this handler also locks an address that fails
LOGIN_IP_FAILURE_LIMIT times within the cool-off, whichever usernames it tries, so one
address cannot spray a password over every account. Locked requests get axes' usual
answer (429, the same message), the right password included."""
from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum


def address_failures(request):
    """Failed logins from the request's address within the cool-off, over all usernames."""
    recent = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request))
    return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0


def address_locked(request):
    return address_failures(request) >= settings.LOGIN_IP_FAILURE_LIMIT


class AddressThrottledAxesHandler(AxesDatabaseHandler):
    def is_locked(self, request, credentials=None):
        """Asked before authentication: a locked address does not get its password checked."""
        return super().is_locked(request, credentials) or address_locked(request)

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        """Axes flags the response as locked out only by its own per-username count; flag
        it for the address too, so the page is axes' lockout page (429)."""
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False) and address_locked(request):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=credentials.get("username"),
                                 ip_address=request.axes_ip_address)
