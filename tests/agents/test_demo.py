import pytest

from agents import demo
from agents.models import Agent


@pytest.mark.django_db
def test_demo_seed_creates_a_reviewing_and_an_auto_sending_agent_once(tenant, admin):
    demo.seed(tenant=tenant, users=[admin])
    demo.seed(tenant=tenant, users=[admin])
    agents = {a.autonomy: a for a in Agent.objects.filter(tenant=tenant)}
    assert set(agents) == {"review_all", "auto_send"} and Agent.objects.filter(tenant=tenant).count() == 2
    assert all(a.provider == "template" and a.sender_name for a in agents.values())
