"""Secrets at rest: a list of keys (the first encrypts, every one decrypts) so operators
can rotate, a command that re-encrypts every stored secret, and the only environment
variables a workspace credential may come from."""
import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from messaging.models import Mailbox
from scendcore import credentials
from tests.factories import AgentFactory, MailboxFactory


@pytest.fixture
def keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = ""
    settings.FIELD_ENCRYPTION_KEYS = [old]
    return old, new


def test_the_first_key_encrypts_and_every_listed_key_decrypts(keys, settings):
    old, new = keys
    written_with_old = credentials.encrypt("hunter2")

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    written_with_new = credentials.encrypt("hunter3")
    assert credentials.decrypt(written_with_old) == "hunter2"
    assert Fernet(new.encode()).decrypt(written_with_new.encode()) == b"hunter3"

    settings.FIELD_ENCRYPTION_KEYS = [new]
    with pytest.raises(credentials.SecretUnavailable, match="enter it again"):
        credentials.decrypt(written_with_old)


def test_the_older_single_key_setting_still_decrypts_after_the_listed_keys(keys, settings):
    old, new = keys
    settings.FIELD_ENCRYPTION_KEYS, settings.FIELD_ENCRYPTION_KEY = [], "a-passphrase-not-a-fernet-key"
    token = credentials.encrypt("from-before")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert credentials.decrypt(token) == "from-before"


@pytest.mark.django_db
def test_rotation_re_encrypts_every_stored_secret_with_the_first_key(keys, settings, tenant):
    old, new = keys
    mailbox = MailboxFactory(tenant=tenant, smtp_password_encrypted=credentials.encrypt("smtp-pw"),
                             imap_password_encrypted=credentials.encrypt("imap-pw"))
    agent = AgentFactory(tenant=tenant, api_key_encrypted=credentials.encrypt("sk-key"))
    settings.FIELD_ENCRYPTION_KEYS = [new, old]

    call_command("rotate_field_encryption")

    settings.FIELD_ENCRYPTION_KEYS = [new]
    mailbox.refresh_from_db(); agent.refresh_from_db()
    assert credentials.decrypt(mailbox.smtp_password_encrypted) == "smtp-pw"
    assert credentials.decrypt(mailbox.imap_password_encrypted) == "imap-pw"
    assert credentials.decrypt(agent.api_key_encrypted) == "sk-key"


def test_secrets_stored_before_keys_were_configured_are_read_and_rotated_to_the_first_key(keys, settings):
    old, new = keys
    settings.FIELD_ENCRYPTION_KEYS = []
    written_without_keys = credentials.encrypt("from-the-start")

    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert credentials.decrypt(written_without_keys) == "from-the-start"
    assert Fernet(new.encode()).decrypt(credentials.rotate(written_without_keys).encode()) == b"from-the-start"


@pytest.mark.django_db
def test_rotation_reports_secrets_no_key_can_read_and_leaves_them(keys, settings, tenant):
    old, new = keys
    mailbox = MailboxFactory(tenant=tenant, smtp_password_encrypted=credentials.encrypt("lost"))
    settings.FIELD_ENCRYPTION_KEYS = [new]

    with pytest.raises(CommandError, match=f"messaging.Mailbox {mailbox.pk} smtp_password_encrypted"):
        call_command("rotate_field_encryption")
    assert Mailbox.objects.get(pk=mailbox.pk).smtp_password_encrypted == mailbox.smtp_password_encrypted


def test_an_environment_credential_must_be_listed_and_carry_the_reserved_prefix(settings, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "server-secret")
    monkeypatch.setenv("SCENDCORE_TENANT_ACME_KEY", "tenant-key")
    monkeypatch.setenv("SCENDCORE_TENANT_UNLISTED", "unlisted")
    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_ACME_KEY", "SECRET_KEY"]

    assert credentials.reveal(token="", env_name="SCENDCORE_TENANT_ACME_KEY", label="API key") == "tenant-key"
    for name in ("SECRET_KEY", "SCENDCORE_TENANT_UNLISTED"):
        with pytest.raises(credentials.SecretUnavailable, match="not made available to workspaces") as refused:
            credentials.reveal(token="", env_name=name, label="API key")
        assert "server-secret" not in str(refused.value) and "unlisted" != str(refused.value)


def test_a_stored_secret_wins_over_an_environment_reference(settings, monkeypatch):
    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_X"]
    monkeypatch.setenv("SCENDCORE_TENANT_X", "from-env")
    assert credentials.reveal(token=credentials.encrypt("typed"), env_name="SCENDCORE_TENANT_X", label="k") == "typed"
    monkeypatch.delenv("SCENDCORE_TENANT_X")
    with pytest.raises(credentials.SecretUnavailable, match="is not set"):
        credentials.reveal(token="", env_name="SCENDCORE_TENANT_X", label="k")


def test_a_listed_name_without_the_reserved_prefix_fails_the_system_check(settings):
    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_OK", "DATABASE_URL"]
    errors = credentials.check_tenant_secret_env_names(app_configs=None)
    assert [e.id for e in errors] == ["scendcore.E101"]
    assert "DATABASE_URL" in errors[0].msg
