"""One address trying a password against many usernames is throttled, on top of the
per-username lockout, with the same message."""
import re

import pytest
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"  # UserFactory's password
ATTACKER = {"REMOTE_ADDR": "203.0.113.7"}
NEIGHBOUR = {"REMOTE_ADDR": "198.51.100.20"}


def _alert(response):
    return re.search(r'<p role="alert">(.*?)</p>', response.content.decode(), re.S).group(1)


def test_one_ip_spraying_one_password_over_many_usernames_is_locked_out(client, settings, rep, outsider):
    settings.LOGIN_IP_FAILURE_LIMIT = 8
    for n in range(7):  # every username is new: the per-username lockout never fires
        response = client.post(reverse("login"), {"username": f"victim-{n}", "password": "Summer2030!"}, **ATTACKER)
        assert response.status_code == 422

    # The eighth failure from the address locks it, as the fifth for one username does.
    sprayed = client.post(reverse("login"), {"username": "victim-8", "password": "Summer2030!"}, **ATTACKER)
    right_password = client.post(reverse("login"), {"username": rep.username, "password": PASSWORD}, **ATTACKER)

    assert sprayed.status_code == right_password.status_code == 429
    assert client.get(reverse("dashboard")).status_code == 302
    # The same generic message as the per-username lockout.
    for _ in range(5):
        client.post(reverse("login"), {"username": "ghost", "password": "nope"}, **NEIGHBOUR)
    per_username = client.post(reverse("login"), {"username": "ghost", "password": "nope"}, **NEIGHBOUR)
    assert per_username.status_code == 429
    assert _alert(right_password) == _alert(per_username)
    # Other addresses, the outsider's users included, still log in.
    response = client.post(reverse("login"), {"username": outsider.username, "password": PASSWORD},
                           REMOTE_ADDR="192.0.2.55")
    assert response.status_code == 302


def test_a_few_typos_from_one_address_do_not_lock_it(client, settings, rep):
    settings.LOGIN_IP_FAILURE_LIMIT = 8
    UserFactory(username="colleague")
    for username in ("rita_rep", "colleague", "ritarep", "colleage"):
        client.post(reverse("login"), {"username": username, "password": "typo"}, **ATTACKER)

    response = client.post(reverse("login"), {"username": rep.username, "password": PASSWORD}, **ATTACKER)

    assert response.status_code == 302


def test_the_address_throttle_defaults_to_twenty_failures():
    from django.conf import settings

    assert settings.LOGIN_IP_FAILURE_LIMIT == 20
