from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import health, selectors, services
from .forms import LoginForm, MySettingsForm, TenantSettingsForm
from .lookups import as_id
from .models import Tenant
from .notifications import notification_list, notifications_mark_read
from .paging import TablePaginator
from .tenancy import manager_required, switch_tenant, tenant_required


class RefusedFormIs422:
    """A form sent back with its errors answers 422, as every other form of the app does:
    Django's account views answer 200, which tells a script or a probe that it worked."""

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 422
        return response


class LoginView(RefusedFormIs422, auth_views.LoginView):
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(RefusedFormIs422, auth_views.PasswordChangeView):
    pass


class PasswordResetView(RefusedFormIs422, auth_views.PasswordResetView):
    pass


class PasswordResetConfirmView(RefusedFormIs422, auth_views.PasswordResetConfirmView):
    pass


@tenant_required
def dashboard(request):
    board = selectors.dashboard_for(tenant=request.tenant, membership=request.membership, user=request.user)
    return render(request, "scendcore/dashboard.html", {"board": board})


@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico on pages that link no icon (the Django admin)."""
    return redirect(static("favicon.svg"))


@never_cache
@require_GET
def healthz(request):
    report, ok = health.check()
    return JsonResponse(report, status=200 if ok else 503)


@login_required
@require_POST
def tenant_switch(request):
    membership = switch_tenant(request, tenant_id=as_id(request.POST.get("tenant_id")) or 0)
    messages.success(request, f"Switched to {membership.tenant.name}.")
    return redirect("dashboard")


@manager_required
def tenant_settings(request):
    """The settings index: managers see the links to agents and mailboxes; only admins
    see and change the workspace settings."""
    if not request.membership.is_admin:
        if request.method != "GET":
            raise PermissionDenied("Admins only.")
        return render(request, "scendcore/settings.html", {"form": None})
    # A fresh copy: an invalid form must not leak half-applied values into the page header.
    tenant = Tenant.objects.get(pk=request.tenant.pk)
    form = TenantSettingsForm(request.POST or None, instance=tenant)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _, changes = services.tenant_settings_update(
                tenant=request.tenant, actor=request.user, values=form.cleaned_data
            )
            messages.success(request, "Settings saved." if changes else "Nothing changed.")
            # A full reload: the workspace name in the header may have changed too.
            if request.htmx:
                return HttpResponseClientRedirect(reverse("tenant-settings"))
            return redirect("tenant-settings")
        status = 422
    template = "scendcore/settings.html#settings-form" if request.htmx else "scendcore/settings.html"
    return render(request, template, {"form": form}, status=status)


@tenant_required
def my_settings(request):
    """A member's own settings in the current workspace: only ever their own membership,
    whatever the form posts."""
    membership = request.membership
    form = MySettingsForm(request.POST or None, tenant=request.tenant, initial={"timezone": membership.timezone})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            changes = services.membership_timezone_update(
                membership=membership, actor=request.user, timezone=form.cleaned_data["timezone"])
            messages.success(request, "Your settings are saved." if changes else "Nothing changed.")
            # A full reload: every time on the page (and the header) changes zone.
            if request.htmx:
                return HttpResponseClientRedirect(reverse("my-settings"))
            return redirect("my-settings")
        status = 422
    template = "scendcore/my_settings.html#my-settings-form" if request.htmx else "scendcore/my_settings.html"
    return render(request, template, {"form": form, "now": timezone.now()}, status=status)


NOTIFICATIONS_PER_PAGE = 50


@tenant_required
@require_GET
def notifications(request):
    """The user's notifications in this workspace, newest first."""
    rows = notification_list(tenant=request.tenant, user=request.user)
    page = TablePaginator(rows, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "scendcore/notifications.html", {"page": page})


@tenant_required
@require_POST
def notifications_read(request):
    marked = notifications_mark_read(tenant=request.tenant, user=request.user)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return redirect("notifications")
