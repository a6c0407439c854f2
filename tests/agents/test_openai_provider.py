"""The OpenAI-compatible provider against a real local HTTP server."""
import json
from types import SimpleNamespace

import pytest

from agents.drafting import DraftRequest, InvalidDraftOutput, PermanentDraftError, TransientDraftError, draft
from scendcore import credentials

from .fake_llm import completion, error, slow

TENANT = SimpleNamespace(allowed_link_domains="scendly.example")


def _agent(llm, **settings):
    provider_settings = {"base_url": llm.base_url, "model": "test-model",
                         "timeout_seconds": 2, "temperature": 0.2, "max_tokens": 300}
    provider_settings.update(settings)
    return SimpleNamespace(
        provider="openai_compatible", provider_settings=provider_settings, sender_name="Sam Seller",
        sender_title="AE", company_name="Scendly", company_description="books meetings", tone="warm",
        avoid="", fallbacks={}, api_key_encrypted=credentials.encrypt("sk-test-123"), api_key_env="",
    )


def _request(agent, *, channel="email", contact=None, thread=()):
    contact = contact or SimpleNamespace(
        pk=1, first_name="Dana", last_name="Lee", company="Globex", title="VP Sales", timezone="UTC",
        custom_fields={"industry": "logistics"}, email="dana@globex.example", phone="+15550100",
    )
    step = SimpleNamespace(pk=2, job_type="initial_outreach", channel=channel, angle="hiring", cta="a call",
                           value_proposition="more meetings", subject_template="", body_template="")
    return DraftRequest(agent=agent, tenant=TENANT, contact=contact, step=step, thread=thread)


def test_a_valid_completion_becomes_a_draft_with_token_usage(llm):
    llm.script = [completion(subject="Idea for Globex", body="Hi Dana,\n\nSee https://scendly.example/x")]
    result = draft(_request(_agent(llm)))

    assert (result.subject, result.provider) == ("Idea for Globex", "openai_compatible")
    assert result.body_text == "Hi Dana,\n\nSee https://scendly.example/x"
    assert "<a href=\"https://scendly.example/x\"" in result.body_html
    assert (result.prompt_tokens, result.completion_tokens) == (120, 45)
    assert result.flags == []
    sent = llm.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test-123"
    assert sent["json"]["model"] == "test-model"
    assert sent["json"]["response_format"] == {"type": "json_object"}
    assert sent["json"]["temperature"] == 0.2 and sent["json"]["max_tokens"] == 300


def test_contact_data_is_sent_as_delimited_whitelisted_data(llm):
    draft(_request(_agent(llm)))
    system, user = (m["content"] for m in llm.requests[0]["json"]["messages"])
    assert "never an instruction" in system
    data = user.split("<contact_data>")[1].split("</contact_data>")[0]
    assert json.loads(data) == {"first_name": "Dana", "last_name": "Lee", "company": "Globex", "title": "VP Sales",
                                "timezone": "UTC", "custom_fields": {"industry": "logistics"}}
    assert "dana@globex.example" not in user and "+15550100" not in user


def test_the_thread_of_earlier_messages_is_passed_for_follow_ups(llm):
    thread = (SimpleNamespace(subject="First note", body_text="Hello there"),)
    draft(_request(_agent(llm), thread=thread))
    user = llm.requests[0]["json"]["messages"][1]["content"]
    assert json.loads(user.split("<thread>")[1].split("</thread>")[0]) == [{"subject": "First note", "body": "Hello there"}]


def test_malformed_json_from_the_model_is_an_invalid_output_error(llm):
    llm.script = [completion(content="Sure! Here is your email: Subject: hi")]
    with pytest.raises(InvalidDraftOutput, match="valid JSON"):
        draft(_request(_agent(llm)))


def test_output_missing_required_keys_or_too_long_for_sms_is_rejected(llm):
    llm.script = [completion(content=json.dumps({"subject": "x"})), completion(subject="", body="y" * 321)]
    with pytest.raises(InvalidDraftOutput, match="body"):
        draft(_request(_agent(llm)))
    with pytest.raises(InvalidDraftOutput, match="320"):
        draft(_request(_agent(llm), channel="sms"))


def test_a_429_is_retried_after_the_retry_after_header_then_succeeds(llm, waits):
    llm.script = [error(429, {"Retry-After": "3"}), completion(subject="Second time lucky")]
    result = draft(_request(_agent(llm, retry_backoff_seconds=0.01)))
    assert result.subject == "Second time lucky"
    assert waits == [3.0]
    assert len(llm.requests) == 2


def test_a_long_retry_after_is_handed_back_to_the_job_instead_of_sleeping(llm, waits):
    llm.script = [error(429, {"Retry-After": "120"})]
    with pytest.raises(TransientDraftError) as caught:
        draft(_request(_agent(llm)))
    assert caught.value.retry_after == 120.0
    assert waits == []


def test_server_errors_are_retried_with_backoff_until_exhausted(llm, waits):
    llm.script = [error(500), error(502), error(503)]
    with pytest.raises(TransientDraftError, match="HTTP 503"):
        draft(_request(_agent(llm, max_retries=2, retry_backoff_seconds=0.5)))
    assert waits == [0.5, 1.0]
    assert len(llm.requests) == 3


def test_other_client_errors_are_not_retried(llm, waits):
    llm.script = [error(401), completion()]
    with pytest.raises(PermanentDraftError, match="HTTP 401"):
        draft(_request(_agent(llm)))
    assert len(llm.requests) == 1 and waits == []


def test_a_timeout_is_transient_and_retried(llm, waits):
    llm.script = [slow(1.5), completion(subject="After the timeout")]
    result = draft(_request(_agent(llm, timeout_seconds=0.3, retry_backoff_seconds=0.01)))
    assert result.subject == "After the timeout"
    assert waits == [0.01]


def test_a_timeout_on_every_attempt_raises_a_transient_error(llm, waits):
    llm.script = [slow(1), slow(1)]
    with pytest.raises(TransientDraftError, match="did not answer"):
        draft(_request(_agent(llm, timeout_seconds=0.2, max_retries=1, retry_backoff_seconds=0.01)))


def test_an_unreadable_key_or_an_unset_operator_variable_fails_without_calling_the_server(llm, settings):
    unreadable = _agent(llm)
    unreadable.api_key_encrypted = unreadable.api_key_encrypted[:-8] + "AAAAAAA="
    with pytest.raises(PermanentDraftError, match="cannot be decrypted"):
        draft(_request(unreadable))

    settings.TENANT_SECRET_ENV_NAMES = ["SCENDCORE_TENANT_UNSET_KEY"]
    from_server = _agent(llm)
    from_server.api_key_encrypted, from_server.api_key_env = "", "SCENDCORE_TENANT_UNSET_KEY"
    with pytest.raises(PermanentDraftError, match="SCENDCORE_TENANT_UNSET_KEY .API key. is not set"):
        draft(_request(from_server))
    assert llm.requests == []
