"""Workspace credentials (LLM API keys, SMTP and IMAP passwords): the tenant types the
secret itself, it is stored encrypted and never shown back.

Encryption is Fernet over a list of keys (FIELD_ENCRYPTION_KEYS, then the older single
FIELD_ENCRYPTION_KEY): the first key encrypts, every key decrypts, so operators rotate by
putting a new key first, running `manage.py rotate_field_encryption`, then dropping the
old one. With no key configured one is derived from SECRET_KEY, so development needs no
setup; that key stays last among the decrypting ones, so secrets stored before an
operator configured keys are still read, and rotation moves them to the first key.

A credential may instead come from the server's environment, but only when an operator
set the reference (never a tenant form) and only for a name that starts with
TENANT_ENV_PREFIX and is listed in TENANT_SECRET_ENV_NAMES: a tenant who controls where
the credential is sent must never be able to name DATABASE_URL or SECRET_KEY.
"""
import base64
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.db import models

HKDF_INFO = b"scendcore.field-encryption.v1"
TENANT_ENV_PREFIX = "SCENDCORE_TENANT_"


class SecretUnavailable(Exception):
    """A credential cannot be read. The message is safe to show the tenant."""


class SecretField(models.TextField):
    """Holds a Fernet token, never plaintext. Not editable, so no ModelForm or admin page
    renders it; forms take the plaintext in a write-only input and services encrypt it.
    `manage.py rotate_field_encryption` finds every column of this type."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)


# ---------------------------------------------------------------- encryption at rest


def _derive(material: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material.encode())
    return base64.urlsafe_b64encode(key)


def _fernet_for(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except ValueError:
        # Not a Fernet key (any passphrase works): stretch it into one.
        return Fernet(_derive(key))


def configured_keys() -> tuple:
    keys = [k for k in getattr(settings, "FIELD_ENCRYPTION_KEYS", []) if k]
    single = getattr(settings, "FIELD_ENCRYPTION_KEY", "")
    if single and single not in keys:
        keys.append(single)
    return tuple(keys)


@lru_cache(maxsize=8)
def _multi_fernet(keys: tuple, secret_key: str) -> MultiFernet:
    return MultiFernet([*(_fernet_for(k) for k in keys), Fernet(_derive(secret_key))])


def fernet() -> MultiFernet:
    return _multi_fernet(configured_keys(), settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str, *, label="secret") -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            f"The stored {label} cannot be decrypted with the server's encryption keys; enter it again."
        ) from None


def rotate(token: str) -> str:
    """The same secret encrypted with the first key. Raises InvalidToken if no key reads it."""
    return fernet().rotate(token.encode()).decode()


def secret_fields():
    """(model, field name) of every SecretField in the project."""
    from django.apps import apps

    return [(model, field.name) for model in apps.get_models() for field in model._meta.concrete_fields
            if isinstance(field, SecretField)]


def rotate_all():
    """Re-encrypt every stored secret with the first key. Idempotent, so it can run
    again after an interruption. Returns (rotated count, [(model label, pk, column)]
    of the secrets no configured key can read, which are left as they are)."""
    rotated, unreadable = 0, []
    for model, column in secret_fields():
        rows = model._default_manager.exclude(**{column: ""}).values_list("pk", column)
        for pk, token in rows.iterator():
            try:
                fresh = rotate(token)
            except InvalidToken:
                unreadable.append((model._meta.label, pk, column))
                continue
            model._default_manager.filter(pk=pk, **{column: token}).update(**{column: fresh})
            rotated += 1
    return rotated, unreadable


# ---------------------------------------------------------------- operator references


def env_name_allowed(name: str) -> bool:
    """The one rule: reserved prefix and listed by the operator."""
    return name.startswith(TENANT_ENV_PREFIX) and name in getattr(settings, "TENANT_SECRET_ENV_NAMES", [])


def env_reference_problem(name: str, *, label="credential"):
    """Why an environment reference may not be used, in words for the tenant; None if it may."""
    if name and not env_name_allowed(name):
        return (
            f"The {label} is set to come from the server environment variable {name}, which the "
            f"operator has not made available to workspaces. Enter the {label} here instead."
        )
    return None


def env_reference_status(name: str, *, label="credential"):
    """For pages: None without a reference, else whether it is usable and what to say."""
    if not name:
        return None
    problem = env_reference_problem(name, label=label)
    return {"usable": problem is None,
            "text": problem or f"The {label} comes from the server, set up by your operator."}


def from_environment(name: str, *, label="credential") -> str:
    problem = env_reference_problem(name, label=label)
    if problem:
        raise SecretUnavailable(problem)
    value = os.environ.get(name)
    if not value:
        raise SecretUnavailable(f"The server environment variable {name} ({label}) is not set; ask your operator.")
    return value


def reveal(*, token: str, env_name: str, label: str) -> str:
    """The plaintext of a credential: the stored secret when there is one, else the
    operator's environment reference, else ""."""
    if token:
        return decrypt(token, label=label)
    if env_name:
        return from_environment(env_name, label=label)
    return ""


def validate_env_reference(name):
    """For the operator's admin forms."""
    from django.core.exceptions import ValidationError

    if name and not env_name_allowed(name):
        raise ValidationError(
            f"Only variables whose names start with {TENANT_ENV_PREFIX} and are listed in "
            "TENANT_SECRET_ENV_NAMES may be used."
        )


@checks.register(checks.Tags.security)
def check_tenant_secret_env_names(app_configs, **kwargs):
    unprefixed = [n for n in getattr(settings, "TENANT_SECRET_ENV_NAMES", []) if not n.startswith(TENANT_ENV_PREFIX)]
    if not unprefixed:
        return []
    return [checks.Error(
        f"TENANT_SECRET_ENV_NAMES lists {', '.join(unprefixed)}, which do not start with {TENANT_ENV_PREFIX}.",
        hint=f"Only variables reserved for workspace credentials (named {TENANT_ENV_PREFIX}…) may be listed; "
             "they are never used for the server's own settings.",
        id="scendcore.E101",
    )]
