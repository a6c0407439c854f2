"""The built-in templates, the demo seed and the merge-field check."""
import pytest

from sequences import demo, merge_fields, templates_catalog
from sequences.models import Sequence
from sequences.services.steps import step_errors
from tests.factories import AgentFactory, MailboxFactory


def test_the_catalog_has_the_seven_templates_with_their_step_counts():
    counts = {t.key: len(t.steps) for t in templates_catalog.CATALOG}
    assert counts == {
        "cold_outreach": 3, "follow_up_series": 2, "re_engagement": 2, "meeting_request": 1,
        "saas_trial": 5, "webinar_promo": 5, "cold_outreach_breakup": 4,
    }


@pytest.mark.parametrize("template", templates_catalog.CATALOG, ids=lambda t: t.key)
def test_every_template_step_passes_the_builders_own_validation(template):
    assert template.steps[0].delay_value == 0
    for index, step in enumerate(template.steps):
        values = {**step.__dict__, "jitter_minutes": 0, "window_days": None, "window_start": None,
                  "window_end": None, "body_template": ""}
        assert step_errors(values, is_first=index == 0) == {}, (template.key, index)
        assert step.angle, "every step guides the agent"


def test_cold_outreach_runs_intro_value_prop_and_cta_on_days_0_3_and_7():
    steps = templates_catalog.get("cold_outreach").steps
    assert [s.delay_value for s in steps] == [0, 3, 4]


@pytest.mark.django_db
def test_the_demo_seed_is_idempotent_and_activates_when_ready(tenant, admin):
    AgentFactory(tenant=tenant)
    MailboxFactory(tenant=tenant)

    demo.seed(tenant=tenant, users={"admin": admin})
    demo.seed(tenant=tenant, users={"admin": admin})

    sequences = Sequence.objects.filter(tenant=tenant)
    assert sequences.count() == 3
    assert sequences.get(name="Demo · Cold Outreach").status == "active"
    assert sequences.filter(is_default=True).count() == 1


@pytest.mark.django_db
def test_the_demo_seed_without_agent_or_mailbox_leaves_drafts(tenant, admin):
    demo.seed(tenant=tenant, users={"admin": admin})
    statuses = set(Sequence.objects.filter(tenant=tenant).values_list("status", flat=True))
    assert statuses == {"draft"}
    assert not Sequence.objects.filter(tenant=tenant, agent__isnull=False).exists()


def test_known_and_custom_merge_fields_pass():
    assert merge_fields.validate_template("Hi {{first_name}} at {{ company }} ({{custom.industry}})") == []


def test_unknown_and_unclosed_merge_fields_are_explained():
    problems = merge_fields.validate_template("Hi {{firstname}}, {{custom.}} and {{company")
    assert "Unknown merge fields {{firstname}}, {{custom.}}" in problems[0]
    assert "not closed" in problems[1]


@pytest.mark.django_db
def test_the_demo_seed_enrolls_the_reps_hot_leads_once(tenant, rep):
    from tests.factories import ContactFactory

    AgentFactory(tenant=tenant)
    MailboxFactory(tenant=tenant)
    ContactFactory.create_batch(3, tenant=tenant, owner=rep, score_band="hot")
    ContactFactory(tenant=tenant, owner=rep, score_band="cold")
    ContactFactory(tenant=tenant, owner=rep, score_band="hot", lead_status="converted")

    demo.seed(tenant=tenant, users={"rep": rep})
    demo.seed(tenant=tenant, users={"rep": rep})

    cold_outreach = Sequence.objects.get(tenant=tenant, name="Demo · Cold Outreach")
    assert cold_outreach.enrollments.count() == 3
