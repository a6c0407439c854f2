"""Production settings are checked in a fresh interpreter: settings load once per process."""
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env_example():
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


def manage(*args, env):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DJANGO_SETTINGS_MODULE": "scendcore.settings.base"}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_production_settings_refuse_to_start_without_a_secret_key():
    result = manage("check", env={"DEBUG": "false", "SECRET_KEY": "", "ALLOWED_HOSTS": "scendcore.example.com"})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY is not set" in result.stderr


def test_the_deploy_check_passes_with_the_production_values_of_env_example():
    values = env_example()
    assert values["DEBUG"] == "false"
    values["SECRET_KEY"] = secrets.token_urlsafe(64)  # the example's placeholder is not a secret
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_fails_with_development_defaults():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true"})
    assert result.returncode != 0


def test_env_example_documents_every_setting_read_from_the_environment():
    import re

    source = (ROOT / "scendcore" / "settings" / "base.py").read_text()
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "no settings found: the pattern is out of date"
    assert read - documented == set()


def test_the_outbound_allow_list_is_empty_in_production_and_admits_loopback_in_development():
    # The zero-config demo's mailbox sends to an SMTP catcher on 127.0.0.1:1025.
    code = ("from django.conf import settings; from scendcore import outbound; "
            "print(settings.OUTBOUND_ALLOWED_HOSTS); outbound.check_addresses('127.0.0.1', 1025); print('allowed')")
    production = manage("shell", "--no-imports", "-c", code, env={"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(64),
                                                  "ALLOWED_HOSTS": "scendcore.example.com",
                                                  "SITE_URL": "https://scendcore.example.com"})
    development = manage("shell", "--no-imports", "-c", code, env={"DEBUG": "true"})
    assert production.stdout.splitlines()[0] == "[]" and "HostRefused" in production.stderr
    assert "127.0.0.1" in development.stdout and "allowed" in development.stdout, development.stderr


def site_url(env):
    return manage("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.SITE_URL)", env=env)


def test_zero_config_links_point_at_the_host_and_port_being_served():
    served = site_url({"DEBUG": "true", "HOST": "127.0.0.1", "PORT": "9123"})
    default = site_url({"DEBUG": "true"})

    assert served.stdout.strip() == "http://127.0.0.1:9123", served.stderr
    assert default.stdout.strip() == "http://127.0.0.1:8000", default.stderr


def test_zero_config_on_every_interface_links_to_loopback_not_to_the_wildcard_address():
    served = site_url({"DEBUG": "true", "HOST": "0.0.0.0", "PORT": "9124"})

    assert served.stdout.strip() == "http://127.0.0.1:9124", served.stderr


def test_an_explicit_site_url_wins_over_the_served_port():
    served = site_url({"DEBUG": "true", "PORT": "9123", "SITE_URL": "https://mail.example.com/"})

    assert served.stdout.strip() == "https://mail.example.com", served.stderr


def test_production_settings_refuse_to_start_without_a_site_url():
    result = manage("check", env={"DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(64),
                                  "ALLOWED_HOSTS": "scendcore.example.com", "PORT": "9123"})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SITE_URL is not set" in result.stderr
