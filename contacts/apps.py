from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"

    def ready(self):
        from . import checks  # noqa: F401 - registers the deployment checks
