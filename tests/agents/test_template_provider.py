"""The built-in template writer: merge fields, fallbacks, overrides, determinism, channels."""
from types import SimpleNamespace

import pytest

from agents.drafting import DraftRequest, draft
from agents.drafting.merge import KNOWN_FIELDS

pytestmark = []


def _agent(**overrides):
    values = dict(
        provider="template", sender_name="Sam Seller", sender_title="Account Executive", company_name="Scendly",
        company_description="a platform that books more meetings for B2B sales teams", tone="friendly",
        avoid="", fallbacks={},
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def _contact(pk=1, **overrides):
    values = dict(pk=pk, first_name="Dana", last_name="Lee", company="Globex", title="VP Sales",
                  timezone="Europe/Berlin", custom_fields={"industry": "logistics"}, email="dana@globex.example")
    values.update(overrides)
    return SimpleNamespace(**values)


def _step(pk=7, **overrides):
    values = dict(pk=pk, job_type="initial_outreach", channel="email", angle="", cta="", value_proposition="",
                  subject_template="", body_template="", requires_human_approval=False)
    values.update(overrides)
    return SimpleNamespace(**values)


TENANT = SimpleNamespace(allowed_link_domains="scendly.example\nhttps://calendly.com/")


def _draft(agent=None, contact=None, step=None, channel="", thread=()):
    return draft(DraftRequest(agent=agent or _agent(), tenant=TENANT, contact=contact or _contact(),
                              step=step or _step(), channel=channel, thread=thread))


def test_step_templates_fill_merge_fields_including_custom_fields():
    step = _step(subject_template="Idea for {{company}}",
                 body_template="Hi {{ first_name }},\n\nHow is {{custom.industry}} treating {{company}}?\n\n{{sender_name}}")
    result = _draft(step=step)
    assert result.subject == "Idea for Globex"
    assert result.body_text == "Hi Dana,\n\nHow is logistics treating Globex?\n\nSam Seller"


def test_a_missing_field_uses_the_agents_fallback():
    step = _step(body_template="Hi {{first_name}},\n\nA note for {{company}}.")
    result = _draft(agent=_agent(fallbacks={"first_name": "friend", "company": "your team"}),
                    contact=_contact(first_name="", company=""), step=step)
    assert result.body_text == "Hi friend,\n\nA note for your team."


def test_without_a_fallback_the_sentence_is_rewritten_and_no_placeholder_is_left():
    step = _step(subject_template="Idea for {{company}}",
                 body_template="Hi {{first_name}},\n\nI saw {{company}} is hiring. We help sales teams.\n\n{{custom.unknown}}")
    result = _draft(contact=_contact(first_name="", company="", custom_fields={}), step=step)
    assert result.subject == "Idea"
    assert result.body_text == "Hi there,\n\nWe help sales teams."
    assert "{{" not in result.body_text and "}}" not in result.body_text


def test_a_subject_broken_in_the_middle_falls_back_to_a_written_subject():
    step = _step(subject_template="Idea for {{company}}'s {{custom.team}} team")
    result = _draft(contact=_contact(company=""), step=step)
    assert "{{" not in result.subject and result.subject
    assert result.subject != "Idea team"


def test_overrides_are_woven_into_a_natural_message():
    step = _step(angle="their expansion into Europe", cta="Book a 15-minute call",
                 value_proposition="Teams like yours book 30% more meetings")
    result = _draft(step=step)
    assert result.body_text.startswith("Hi Dana,")
    assert "your expansion into Europe" in result.body_text
    assert "teams like yours book 30% more meetings" in result.body_text.lower()
    assert "Would it make sense to book a 15-minute call?" in result.body_text
    assert "Sam Seller" in result.body_text


def test_drafts_are_deterministic_for_the_same_input_and_vary_across_contacts():
    step = _step(angle="hiring SDRs")
    first = _draft(step=step)
    again = _draft(step=step)
    assert (first.subject, first.body_text) == (again.subject, again.body_text)
    variants = {(_draft(contact=_contact(pk=n), step=step).body_text) for n in range(1, 30)}
    assert len(variants) > 1


def test_a_contact_with_no_profile_still_gets_a_clean_email():
    result = _draft(contact=_contact(first_name="", last_name="", company="", title="", custom_fields={}))
    assert result.body_text.startswith("Hi there,")
    assert "None" not in result.body_text and "{" not in result.body_text
    assert result.subject


def test_the_written_email_takes_the_agents_fallback_for_a_missing_profile_value():
    contact = _contact(first_name="", company="")
    with_fallbacks = _draft(agent=_agent(fallbacks={"first_name": "friend", "company": "your team"}), contact=contact)
    assert with_fallbacks.body_text.startswith("Hi friend,")
    assert "your team" in with_fallbacks.body_text
    assert _draft(contact=contact).body_text.startswith("Hi there,")


def test_profile_values_of_any_type_become_one_bounded_line_of_text():
    step = _step(body_template="Industry: {{custom.industry}}.\nSize: {{custom.employees}}.\n"
                               "Tags: {{custom.tags}}.\nActive: {{custom.active}}.\nAt {{company}}.")
    contact = _contact(company="A" * 150 + " " + "B" * 150, custom_fields={
        "industry": "  heavy\n\nlogistics\t", "employees": 250, "tags": ["a", "b"], "active": True,
    })
    result = _draft(contact=contact, step=step)
    assert result.body_text == f"Industry: heavy logistics.\nSize: 250.\nAt {'A' * 150} {'B' * 49}."


def test_email_output_has_sanitized_html_built_from_the_text():
    step = _step(body_template="Hi {{first_name}},\n\nBook here: https://calendly.com/sam <b>now</b>")
    result = _draft(contact=_contact(first_name="<script>alert(1)</script>"), step=step)
    assert "<script>" not in result.body_html
    assert "&lt;script&gt;" in result.body_html
    assert "&lt;b&gt;now&lt;/b&gt;" in result.body_html
    assert '<a href="https://calendly.com/sam" rel="noopener noreferrer">' in result.body_html
    assert result.flags == []


def test_sms_is_one_body_of_at_most_320_characters():
    step = _step(channel="sms", value_proposition="x " * 400)
    result = _draft(step=step)
    assert result.subject == ""
    assert result.body_html == ""
    assert len(result.body_text) <= 320
    assert "\n" not in result.body_text


def test_call_reminders_are_talking_points_for_the_rep():
    step = _step(channel="call_reminder", job_type="call_reminder", angle="their Q3 hiring plan")
    thread = [SimpleNamespace(subject="Idea for Globex", body_text="...")]
    result = _draft(step=step, thread=thread)
    assert result.subject == "Dana Lee at Globex"  # the page shows "Call" next to it
    assert "Talking points for your call with Dana Lee (VP Sales at Globex)" in result.body_text
    assert "- Open with your Q3 hiring plan." in result.body_text
    assert "Europe/Berlin" in result.body_text
    assert '"Idea for Globex"' in result.body_text


def test_a_follow_up_replies_in_the_thread():
    thread = [SimpleNamespace(subject="Idea for Globex", body_text="Hi Dana ...")]
    result = _draft(step=_step(job_type="follow_up"), thread=thread)
    assert result.subject == "Re: Idea for Globex"


def test_links_outside_the_allowed_domains_are_flagged():
    step = _step(body_template="See https://scendly.example/a and http://www.tracker.example/b")
    result = _draft(step=step)
    assert result.flags == ["link to unapproved domain: tracker.example"]


def test_the_draft_reads_no_database(django_assert_num_queries, db):
    with django_assert_num_queries(0):
        _draft(step=_step(angle="hiring", subject_template="Hi {{company}}"))


def test_the_known_merge_fields_include_the_profile_and_sender():
    for name in ("first_name", "last_name", "company", "title", "sender_name"):
        assert name in KNOWN_FIELDS


def test_hints_written_about_the_contact_are_addressed_to_them_throughout():
    step = _step(angle="how their team books meetings", value_proposition="we help teams like theirs grow",
                 cta="Is this a priority for them this quarter?")
    body = _draft(step=step).body_text
    assert "how your team books meetings" in body
    assert "teams like yours grow" in body
    assert "Is this a priority for you this quarter?" in body
    assert " their " not in body and " them " not in body


def test_every_built_in_template_drafts_without_instruction_style_leftovers():
    from sequences.templates_catalog import CATALOG

    for template in CATALOG:
        for order, hint in enumerate(template.steps, start=1):
            if hint.channel != "email":
                continue
            step = _step(pk=order, job_type=hint.job_type, angle=hint.angle, cta=hint.cta,
                         value_proposition=hint.value_proposition, subject_template=hint.subject_template)
            body = _draft(step=step).body_text
            assert "{{" not in body and " them " not in body and " their " not in body, (template.key, body)
            assert "Would it make sense to ask" not in body and "Would it make sense to offer" not in body
