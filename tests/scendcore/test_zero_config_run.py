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


def test_a_fresh_sqlite_database_migrates_to_the_latest_state_with_the_tally_triggers(tmp_path):
    # The zero-config run's database: SQLite rebuilds a table to alter it, which a trigger
    # on another table naming that table must not stop.
    import sqlite3

    path = tmp_path / "fresh.sqlite3"
    env = {**_zero_config_env(), "DATABASE_URL": f"sqlite:///{path}"}
    done = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    triggers = {name for (name,) in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {"sequences_contact_owner_tally", "sequences_enrollment_tally_insert",
            "sequences_sequence_tally_update"} <= triggers
