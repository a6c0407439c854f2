from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import health
from .tenancy import admin_required, switch_tenant, tenant_required


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True


@tenant_required
def dashboard(request):
    return render(request, "scendcore/dashboard.html", {})


def healthz(request):
    report, ok = health.check()
    from django.http import JsonResponse

    return JsonResponse(report, status=200 if ok else 503)


@login_required
@require_POST
def tenant_switch(request):
    switch_tenant(request, tenant_id=request.POST.get("tenant_id") or 0)
    return redirect("dashboard")


@admin_required
def tenant_settings(request):
    return render(request, "scendcore/settings.html", {})
