"""Mailbox passwords. Encryption at rest and the rule for operator environment
references live in scendcore.credentials; this module only knows which column holds
which of a mailbox's secrets."""
from scendcore.credentials import SecretUnavailable, decrypt, encrypt, reveal

__all__ = ["SecretUnavailable", "decrypt", "encrypt", "imap_password", "smtp_password"]


def smtp_password(mailbox) -> str:
    return reveal(token=mailbox.smtp_password_encrypted, env_name=mailbox.smtp_password_env, label="SMTP password")


def imap_password(mailbox) -> str:
    return reveal(token=mailbox.imap_password_encrypted, env_name="", label="IMAP password")
