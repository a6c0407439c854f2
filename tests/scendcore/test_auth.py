import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "pw-for-tests-1"  # UserFactory's password


def _fail_login(client, username):
    return client.post(reverse("login"), {"username": username, "password": "wrong-password"})


def test_a_member_logs_in_through_the_form_and_lands_on_the_dashboard(client, rep):
    response = client.post(reverse("login"), {"username": rep.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_wrong_password_gives_the_same_error_as_an_unknown_username(client, rep):
    wrong_password = _fail_login(client, rep.username)
    unknown_user = _fail_login(client, "nobody-by-this-name")
    assert wrong_password.status_code == unknown_user.status_code == 422
    assert wrong_password.context["form"].non_field_errors() == unknown_user.context["form"].non_field_errors()


def _lockout_message(response):
    html = response.content.decode()
    return re.search(r'<p role="alert">(.*?)</p>', html, re.S).group(1)


def test_five_failed_logins_lock_the_login_out_without_revealing_whether_the_user_exists(client, rep):
    for _ in range(4):
        assert _fail_login(client, rep.username).status_code == 422
    locked_existing = _fail_login(client, rep.username)
    for _ in range(4):
        _fail_login(client, "ghost-user")
    locked_missing = _fail_login(client, "ghost-user")

    assert locked_existing.status_code == locked_missing.status_code == 429
    assert "Too many failed attempts" in locked_existing.content.decode()
    assert _lockout_message(locked_existing) == _lockout_message(locked_missing)
    assert rep.username not in locked_existing.content.decode()
    # While locked, even the right password does not get in.
    right_password = client.post(reverse("login"), {"username": rep.username, "password": PASSWORD})
    assert right_password.status_code == 429
    assert client.get(reverse("dashboard")).status_code == 302


def test_logout_needs_a_post_and_ends_the_session(rep_client):
    assert rep_client.get(reverse("logout")).status_code == 405
    response = rep_client.post(reverse("logout"))
    assert response.status_code == 302
    assert rep_client.get(reverse("dashboard")).status_code == 302


def test_a_user_changes_their_password(client, rep):
    client.force_login(rep)
    response = client.post(reverse("password_change"), {
        "old_password": PASSWORD, "new_password1": "a-much-better-secret-42", "new_password2": "a-much-better-secret-42",
    })
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    rep.refresh_from_db()
    assert rep.check_password("a-much-better-secret-42")


def test_password_change_with_a_wrong_old_password_is_refused(client, rep):
    client.force_login(rep)
    response = client.post(reverse("password_change"), {
        "old_password": "nope", "new_password1": "a-much-better-secret-42", "new_password2": "a-much-better-secret-42",
    })
    assert response.status_code == 422
    assert "old_password" in response.context["form"].errors
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)


def test_password_reset_mails_a_link_that_sets_a_new_password(client, db):
    user = UserFactory(username="forgetful", email="forgetful@example.com")
    response = client.post(reverse("password_reset"), {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["forgetful@example.com"]
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(set_url, {"new_password1": "brand-new-secret-77", "new_password2": "brand-new-secret-77"})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("brand-new-secret-77")
    # A reset link works once.
    assert client.get(link, follow=True).context["validlink"] is False


def test_password_reset_for_an_unknown_address_sends_nothing_and_looks_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


@pytest.mark.parametrize("name", ["login", "password_reset", "healthz"])
def test_public_pages_answer_without_a_login(client, db, name):
    assert client.get(reverse(name)).status_code == 200


def test_a_password_reset_for_a_malformed_address_is_refused_with_422(client):
    response = client.post(reverse("password_reset"), {"email": "not-an-address"})
    assert response.status_code == 422 and "email" in response.context["form"].errors


def test_a_new_password_that_does_not_match_is_refused_with_422(client, rep):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid, token = urlsafe_base64_encode(force_bytes(rep.pk)), default_token_generator.make_token(rep)
    form_url = client.get(reverse("password_reset_confirm", args=[uid, token]))["Location"]
    response = client.post(form_url, {"new_password1": "a-much-better-secret-42", "new_password2": "another-one-43"})
    assert response.status_code == 422
    rep.refresh_from_db()
    assert rep.check_password(PASSWORD)
