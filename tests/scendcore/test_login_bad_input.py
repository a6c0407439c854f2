"""The login form bounds the username before authentication (and the lockout records) run."""
import pytest
from django.test import Client
from django.urls import reverse

from axes.models import AccessAttempt

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("username", ["u" * 256, "u" * 100_000, "x" * 151])
def test_an_overlong_username_is_a_form_error_not_a_server_error(rep, username):
    client = Client(raise_request_exception=False)

    response = client.post(reverse("login"), {"username": username, "password": "whatever-1"})

    assert response.status_code == 422, response.status_code
    assert "at most 150 characters" in response.content.decode()
    assert not AccessAttempt.objects.exists()
    assert client.get(reverse("dashboard")).status_code == 302
