"""Deployment checks of the contacts app."""
from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def suppression_hash_key_set(app_configs, **kwargs):
    if getattr(settings, "SUPPRESSION_HASH_KEY", ""):
        return []
    return [Warning(
        "SUPPRESSION_HASH_KEY is not set, so the suppression list's address hashes are keyed by SECRET_KEY: "
        "rotating SECRET_KEY would make every listed address (erased people included) mailable again.",
        hint="Set SUPPRESSION_HASH_KEY to a long random value once and never change it (see .env.example).",
        id="contacts.W001",
    )]
