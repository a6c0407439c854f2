from django.apps import AppConfig


class ScendcoreConfig(AppConfig):
    name = "scendcore"
    verbose_name = "Tenancy"

    def ready(self):
        from . import credentials  # noqa: F401 - registers its system check
        from . import lookups  # noqa: F401 - registers field__any
