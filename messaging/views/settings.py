"""Mailbox and pool settings: admins edit, managers may look."""
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from scendcore.tenancy import admin_required, manager_required

from .. import selectors
from ..access import get_mailbox_for_user, get_pool_for_user
from ..forms import MailboxForm, PoolForm
from ..models import Mailbox, MailboxPool
from ..services import delivery, mailboxes


@manager_required
def mailbox_list(request):
    return render(request, "messaging/mailboxes.html", {
        "mailboxes": selectors.mailbox_list(tenant=request.tenant),
        "pools": selectors.pool_list(tenant=request.tenant),
        "can_edit": request.membership.is_admin,
        "quarantined": selectors.quarantine_held_count(tenant=request.tenant),
    })


def _mailbox_form_page(request, mailbox):
    if request.method == "POST":
        if not request.membership.is_admin:
            raise PermissionDenied("Admins only.")
        form = MailboxForm(request.POST, instance=mailbox)
        if form.is_valid():
            saved = mailboxes.mailbox_save(
                tenant=request.tenant, mailbox=form.save(commit=False), actor=request.user,
                changed=form.changed_data, smtp_password=form.cleaned_data["smtp_password"],
                imap_password=form.cleaned_data["imap_password"],
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
    }, status=status)


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
        context.update(form=form, can_edit=True)
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
