from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SequencesConfig(AppConfig):
    name = "sequences"

    def ready(self):
        # The processor's gates register in the shared registry (scendcore.gates), where
        # delivery finds the ones it re-checks at send time; the reactions to contact facts
        # (stop, pause) register with contacts.facts.
        from .engine import gates  # noqa: F401
        from .services import reactions  # noqa: F401
        post_migrate.connect(_restore_sqlite_tally_triggers, sender=self)


def _restore_sqlite_tally_triggers(using, **kwargs):
    """SQLite rebuilds a table to alter it, and the rebuilt table has no triggers: put the
    enrollment tallies' triggers (by user and by sequence) back after every migrate (a
    no-op when they exist)."""
    from django.db import connections

    from .tally_triggers import create_sqlite_triggers

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        create_sqlite_triggers(cursor, set(connection.introspection.table_names(cursor)))
