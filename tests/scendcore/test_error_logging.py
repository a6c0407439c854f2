"""An ordinary 403 is one warning line in the log, with no traceback; a 500 keeps its traceback."""
import logging

import pytest

pytestmark = pytest.mark.django_db


def test_a_permission_denied_is_logged_as_one_line_without_a_traceback(rep_client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = rep_client.get("/settings/")
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    formatted = logging.Formatter().format(record)
    assert "Traceback" not in formatted and "\n" not in formatted
    assert "/settings/" in formatted


def test_other_errors_keep_their_traceback():
    from django.core.exceptions import PermissionDenied

    from scendcore.logging_filters import OneLinePermissionDenied

    def record(exc):
        try:
            raise exc
        except Exception:
            import sys
            return logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())

    crashed = record(ValueError("boom"))
    assert OneLinePermissionDenied().filter(crashed) and crashed.exc_info is not None
    forbidden = record(PermissionDenied("Managers only."))
    assert OneLinePermissionDenied().filter(forbidden) and forbidden.exc_info is None
