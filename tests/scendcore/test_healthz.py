import json
from unittest import mock

from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.urls import reverse


def test_healthz_reports_the_database_and_the_broker_as_json(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/1"
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body == {"database": "ok", "broker": "ok", "status": "ok"}


def test_healthz_is_503_when_the_database_is_unreachable(client, db):
    with mock.patch.object(BaseDatabaseWrapper, "cursor", side_effect=OperationalError("connection refused")):
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["database"] == "error: OperationalError"
    assert body["status"] == "down"


def test_healthz_stays_200_but_degraded_when_the_broker_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = json.loads(response.content)
    assert body["broker"].startswith("error") and body["status"] == "degraded"


def test_healthz_says_so_when_no_broker_is_configured(client, db, settings):
    settings.CELERY_BROKER_URL = ""
    body = json.loads(client.get(reverse("healthz")).content)
    assert body["broker"] == "none (tasks run inline)" and body["status"] == "ok"
