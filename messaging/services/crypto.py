"""Secrets at rest (mailbox SMTP/IMAP passwords): Fernet, keyed by
settings.FIELD_ENCRYPTION_KEY, or a key derived from SECRET_KEY when that is unset so
development needs no setup. Changing the key makes stored passwords unreadable (they
must be entered again), so production sets FIELD_ENCRYPTION_KEY once and keeps it."""
import base64
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

HKDF_INFO = b"scendcore.field-encryption.v1"


class SecretUnavailable(Exception):
    """A stored secret cannot be read (wrong key, or the environment variable is unset)."""


def _derive(material: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(material.encode())
    return base64.urlsafe_b64encode(key)


@lru_cache(maxsize=4)
def _fernet(configured: str, secret_key: str) -> Fernet:
    if configured:
        try:
            return Fernet(configured.encode())
        except ValueError:
            # Not a Fernet key (any passphrase works): stretch it into one.
            return Fernet(_derive(configured))
    return Fernet(_derive(secret_key))


def fernet() -> Fernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnavailable(
            "The stored password cannot be decrypted with the current FIELD_ENCRYPTION_KEY; "
            "enter it again."
        ) from exc


def smtp_password(mailbox) -> str:
    if mailbox.smtp_password_env:
        value = os.environ.get(mailbox.smtp_password_env)
        if value is None:
            raise SecretUnavailable(f"Environment variable {mailbox.smtp_password_env} is not set.")
        return value
    return decrypt(mailbox.smtp_password_encrypted)


def imap_password(mailbox) -> str:
    return decrypt(mailbox.imap_password_encrypted)
