"""The admin site: every registered ModelAdmin is either scoped to the staff member's
workspaces (admin_base.ScopedModelAdmin) or, for models that belong to no workspace
(periodic schedules, login lockouts, groups), open to superusers only. The choice is
made here, at registration, so a model registered later by any app is covered too."""
from django.contrib import admin

from .admin_base import ScopedModelAdmin


class PlatformOnly:
    """Only superusers see or change these models, whatever permissions staff hold."""

    @staticmethod
    def _platform(request):
        return request.user.is_active and request.user.is_superuser

    def has_module_permission(self, request):
        return self._platform(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._platform(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args):
        return self._platform(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None):
        return self._platform(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._platform(request) and super().has_delete_permission(request, obj)


def platform_only(admin_class):
    return type(admin_class.__name__, (PlatformOnly, admin_class), {"__module__": admin_class.__module__})


class ScendCoreAdminSite(admin.AdminSite):
    site_header = "ScendCore administration"
    site_title = "ScendCore admin"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, ScopedModelAdmin):
            admin_class = platform_only(admin_class)
        return super().register(model_or_iterable, admin_class, **options)
