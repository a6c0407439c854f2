import pytest

from agents.drafting import openai_compatible

from .fake_llm import FakeChatServer


@pytest.fixture
def llm(loopback_allowed):
    with FakeChatServer() as server:
        yield server


@pytest.fixture
def waits(monkeypatch):
    """Record the provider's backoff waits instead of sleeping through them."""
    recorded = []
    monkeypatch.setattr(openai_compatible, "sleep", recorded.append)
    return recorded
