from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "sequences"

    def ready(self):
        # The processor's gates register in the shared registry (scendcore.gates), where
        # delivery finds the ones it re-checks at send time; the reactions to contact facts
        # (stop, pause) register with contacts.facts.
        from .engine import gates  # noqa: F401
        from .services import reactions  # noqa: F401
