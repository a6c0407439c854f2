"""Shared behaviour of every ModelAdmin: the tenant first in each list and filter,
timestamps read-only, big foreign keys as raw ids (contacts run into the millions)."""
from django.contrib import admin
from django.db import models

TIMESTAMP_NAMES = {"created_at", "updated_at"}


def timestamp_fields(model):
    return [
        f.name for f in model._meta.concrete_fields
        if isinstance(f, models.DateTimeField)
        and (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) or f.name in TIMESTAMP_NAMES)
    ]


class TenantAdmin(admin.ModelAdmin):
    """For models with a `tenant` foreign key. `tenant_path` names the lookup for models
    that reach their tenant through a parent (e.g. "contact_list__tenant")."""

    tenant_path = "tenant"
    list_per_page = 50
    show_full_result_count = False

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        return ["tenant_name", *[d for d in display if d != "tenant_name"]]

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        return [self.tenant_path, *[f for f in filters if f != self.tenant_path]]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly + [f for f in timestamp_fields(self.model) if f not in readonly]

    def get_queryset(self, request):
        path = self.tenant_path
        return super().get_queryset(request).select_related(path)

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, obj):
        target = obj
        for part in self.tenant_path.split("__"):
            target = getattr(target, part, None)
            if target is None:
                return "—"
        return target.name


class OperatorOnlyFieldsAdmin(admin.ModelAdmin):
    """Fields only platform operators (superusers) may change, such as a credential's
    environment reference: read-only for every other staff user."""

    operator_only_fields = ()

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [f for f in self.operator_only_fields if f not in readonly]
        return readonly
