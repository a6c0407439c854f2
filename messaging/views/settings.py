"""Mailbox and pool settings: admins edit, managers may look."""
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scendcore import credentials
from scendcore.models import Tenant
from scendcore.tenancy import admin_required, manager_required

from .. import selectors
from ..access import get_mailbox_for_user, get_pool_for_user
from ..forms import MailboxForm, PoolForm, ReputationSettingsForm
from ..models import Mailbox, MailboxPool, MailboxStatus
from ..services import delivery, mailboxes, reputation


def _mailbox_list_page(request, *, reputation_form=None, status=200):
    return render(request, "messaging/mailboxes.html", {
        "mailboxes": selectors.mailbox_list(tenant=request.tenant),
        "pools": selectors.pool_list(tenant=request.tenant),
        "can_edit": request.membership.is_admin,
        "quarantined": selectors.quarantine_held_count(tenant=request.tenant),
        "reputation_form": reputation_form or ReputationSettingsForm(instance=request.tenant),
    }, status=status)


@manager_required
def mailbox_list(request):
    return _mailbox_list_page(request)


@admin_required
@require_POST
def reputation_settings(request):
    form = ReputationSettingsForm(request.POST, instance=Tenant.objects.get(pk=request.tenant.pk))
    if not form.is_valid():
        return _mailbox_list_page(request, reputation_form=form, status=422)
    _, changes = reputation.reputation_settings_update(tenant=request.tenant, actor=request.user,
                                                       values=form.cleaned_data)
    messages.success(request, "Circuit-breaker thresholds saved." if changes else "Nothing changed.")
    return redirect("messaging:mailbox-list")


@admin_required
@require_POST
def mailbox_resume_view(request, mailbox_id):
    mailbox = get_mailbox_for_user(request, mailbox_id)
    reputation.mailbox_resume(tenant=request.tenant, mailbox=mailbox, actor=request.user)
    messages.success(request, f"{mailbox.from_email} sends again; its complaint and bounce count starts afresh.")
    return redirect("messaging:mailbox-edit", mailbox_id=mailbox.pk)


def _mailbox_form_page(request, mailbox):
    if request.method == "POST":
        if not request.membership.is_admin:
            raise PermissionDenied("Admins only.")
        form = MailboxForm(request.POST, instance=mailbox)
        if form.is_valid():
            saved = mailboxes.mailbox_save(
                tenant=request.tenant, mailbox=form.save(commit=False), actor=request.user,
                changed=form.plain_changed_data(), secret_changes=form.secret_changes(),
            )
            return redirect("messaging:mailbox-edit", mailbox_id=saved.pk)
        status = 422
    else:
        form, status = MailboxForm(instance=mailbox), 200
    if not request.membership.is_admin:
        for field in form.fields.values():
            field.disabled = True
    return render(request, "messaging/mailbox_form.html", {
        "form": form, "mailbox": mailbox if mailbox.pk else None, "can_edit": request.membership.is_admin,
        "smtp_env": _smtp_env(mailbox),
        "reputation": reputation.mailbox_reputation(mailbox=mailbox, tenant=request.tenant) if mailbox.pk else None,
        "paused": mailbox.pk and mailbox.status == MailboxStatus.PAUSED,
    }, status=status)


def _smtp_env(mailbox):
    return credentials.env_reference_status(mailbox.smtp_password_env, label="SMTP password")


@admin_required
def mailbox_create(request):
    return _mailbox_form_page(request, Mailbox(tenant=request.tenant))


@manager_required
def mailbox_edit(request, mailbox_id):
    return _mailbox_form_page(request, get_mailbox_for_user(request, mailbox_id))


@admin_required
@require_POST
def mailbox_test(request, mailbox_id):
    mailbox = get_mailbox_for_user(request, mailbox_id)
    to_address = request.user.email
    error = "Your user account has no email address." if not to_address else (
        delivery.mailbox_send_test(mailbox=mailbox, to_address=to_address)
    )
    context = {"mailbox": mailbox, "test_error": error, "test_sent_to": to_address, "tested": True}
    template = "messaging/mailbox_form.html#mailbox-test-result"
    if not request.htmx:
        form = MailboxForm(instance=mailbox)
        context.update(form=form, can_edit=True, smtp_env=_smtp_env(mailbox))
        template = "messaging/mailbox_form.html"
    return render(request, template, context, status=200 if error is None else 422)


def _pool_form_page(request, pool):
    mailbox_qs = Mailbox.objects.filter(tenant=request.tenant)
    weights = mailboxes.pool_members(pool) if pool.pk else {}
    if request.method == "POST":
        form = PoolForm(request.POST, instance=pool, mailboxes=mailbox_qs, weights=weights)
        if form.is_valid():
            mailboxes.pool_save(tenant=request.tenant, pool=form.save(commit=False), weights=form.weights(),
                                actor=request.user)
            return redirect("messaging:mailbox-list")
        status = 422
    else:
        form, status = PoolForm(instance=pool, mailboxes=mailbox_qs, weights=weights), 200
    return render(request, "messaging/pool_form.html", {"form": form, "pool": pool if pool.pk else None}, status=status)


@admin_required
def pool_create(request):
    return _pool_form_page(request, MailboxPool(tenant=request.tenant))


@admin_required
def pool_edit(request, pool_id):
    return _pool_form_page(request, get_pool_for_user(request, pool_id))
