from django.urls import reverse


def test_dashboard_greets_the_logged_in_rep(rep_client, rep):
    response = rep_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert rep.first_name in response.content.decode()


def test_anonymous_visitor_is_sent_to_login(client, db):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
