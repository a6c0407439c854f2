"""A history restore carries HX-Request but must get the whole page, on every page that pushes URLs."""
import pytest

from tests.factories import SequenceFactory

pytestmark = pytest.mark.django_db

RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


@pytest.mark.parametrize("path", ["/contacts/?score=warm", "/sequences/?q=a", "/approvals/"])
def test_a_history_restore_gets_the_page_with_its_navigation(manager_client, path):
    page = manager_client.get(path, **RESTORE)
    fragment = manager_client.get(path, HTTP_HX_REQUEST="true")
    assert page.status_code == 200
    assert 'aria-label="Main"' in page.content.decode()
    assert 'aria-label="Main"' not in fragment.content.decode()
    assert {"HX-Request", "HX-History-Restore-Request"} <= {v.strip() for v in page["Vary"].split(",")}


def test_a_history_restore_of_the_enrollments_page_is_whole_and_the_outsider_still_gets_404(
        manager_client, outsider_client, tenant):
    sequence = SequenceFactory(tenant=tenant)
    path = f"/sequences/{sequence.pk}/enrollments/?status=active"
    assert 'aria-label="Main"' in manager_client.get(path, **RESTORE).content.decode()
    assert outsider_client.get(path, **RESTORE).status_code == 404
