from django.apps import AppConfig


class ScendcoreConfig(AppConfig):
    name = "scendcore"
    verbose_name = "Tenancy"
