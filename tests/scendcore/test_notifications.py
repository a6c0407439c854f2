"""Notifications in the app: a user sees their own, in this workspace, with a count in
the top bar until they are marked read; nobody else's, ever."""
import pytest
from django.urls import reverse

from scendcore.models import Notification
from scendcore.notifications import notifications_send

pytestmark = pytest.mark.django_db


def test_a_user_sees_their_notifications_with_an_unread_count_until_marked_read(rep_client, rep, manager, tenant):
    notifications_send(tenant=tenant, notes=[(rep.pk, "Ann reached Hot lead", "/contacts/1/"),
                                             (manager.pk, "for the manager only", "")])

    page = rep_client.get(reverse("notifications"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Ann reached Hot lead" in html and 'href="/contacts/1/"' in html
    assert "for the manager only" not in html
    assert 'id="notifications-count">1<' in html

    response = rep_client.post(reverse("notifications-read"))
    assert response.status_code == 302
    assert Notification.objects.get(user=rep).read_at is not None
    assert Notification.objects.get(user=manager).read_at is None
    assert 'id="notifications-count"' not in rep_client.get(reverse("notifications")).content.decode()


def test_another_workspaces_notifications_never_show(client, rep, tenant, other_tenant, outsider):
    notifications_send(tenant=tenant, notes=[(rep.pk, "ours", "")])
    notifications_send(tenant=other_tenant, notes=[(outsider.pk, "theirs", "")])
    client.force_login(outsider)

    html = client.get(reverse("notifications")).content.decode()
    assert "theirs" in html and "ours" not in html
    client.post(reverse("notifications-read"))
    assert Notification.objects.get(text="ours").read_at is None


def test_a_link_that_leaves_the_app_is_not_kept(tenant, rep):
    notifications_send(tenant=tenant, notes=[(rep.pk, "phish", "https://evil.example/")])
    assert Notification.objects.get().link == ""
