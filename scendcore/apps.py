from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ScendcoreConfig(AppConfig):
    name = "scendcore"
    verbose_name = "Tenancy"

    def ready(self):
        from . import credentials  # noqa: F401 - registers its system check
        from . import lookups  # noqa: F401 - registers field__any


class ScendcoreAdminConfig(admin_apps.AdminConfig):
    """The Django admin, on the site that scopes it to each staff member's workspaces."""

    default = False
    default_site = "scendcore.admin_site.ScendCoreAdminSite"
