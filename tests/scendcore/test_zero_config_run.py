"""What `make run` prints with nothing configured: no AMQP broker that is not used, the demo
logins once."""
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _zero_config_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CELERY_", "REDIS_", "DJANGO_", "DATABASE_"))}
    env["DJANGO_SETTINGS_MODULE"] = "scendcore.settings.base"
    return env


def test_eager_mode_names_no_amqp_broker_to_beat():
    # Celery beat's banner prints app.connection(): the broker it would use.
    code = "from scendcore.celery import app; print(app.conf.task_always_eager, app.connection().as_uri())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_zero_config_env(), capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[0] == "True" and out[1].startswith("memory://")


def test_a_configured_broker_is_left_alone():
    env = {**_zero_config_env(), "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15"}
    code = "from scendcore.celery import app; print(app.conf.task_always_eager, app.connection().as_uri())"
    eager, uri = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                                check=True).stdout.split()
    assert eager == "False" and uri.startswith("redis://") and uri.endswith("@127.0.0.1:6379/15")


@pytest.mark.django_db
def test_seed_demo_prints_the_logins_unless_the_run_script_prints_them_itself():
    from django.core.management import call_command

    alone, quiet = StringIO(), StringIO()
    call_command("seed_demo", stdout=alone)
    call_command("seed_demo", "--no-logins", stdout=quiet)
    assert alone.getvalue().count("demo-rep") == 1
    assert "demo-rep" not in quiet.getvalue()
    # run.sh prints the logins in its own banner, next to the address, after the servers start.
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert "manage.py seed_demo --no-logins" in script and script.count("demo-rep") == 1
