"""Where the model client may connect: never through a redirect, never to a private
address a tenant chose (unless the operator allows the host), never reading an unbounded
response. The refusal is inline on the form and the job's error at run time."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from agents.drafting import DraftError, draft
from agents.models import Agent
from agents.services import agent_job_run
from tests.factories import AgentFactory

from .fake_llm import completion
from .test_jobs import _started_job
from .test_openai_provider import _agent, _request
from .test_views import VALID

pytestmark = pytest.mark.django_db

INTERNAL = "INTERNAL-METADATA-TOKEN-93ab"


@pytest.fixture
def internal_service():
    """Something on the server's own network that answers like a model server."""
    requests = []
    _, _, body, _ = completion(subject="Credentials", body=INTERNAL)
    payload = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            requests.append((self.command, self.path))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.url, httpd.requests = f"http://127.0.0.1:{httpd.server_address[1]}", requests
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_a_redirect_from_the_model_server_is_not_followed(llm, internal_service):
    llm.script = [(302, {"Location": f"{internal_service.url}/latest/meta-data/"}, {}, 0)]

    with pytest.raises(DraftError, match="redirect") as failed:
        draft(_request(_agent(llm, max_retries=0)))

    assert internal_service.requests == []
    assert INTERNAL not in str(failed.value) and internal_service.url not in str(failed.value)


def test_a_response_over_the_size_cap_is_refused(llm):
    status, headers, body, delay = completion()
    llm.script = [(status, headers, {**body, "padding": "x" * 2_000_000}, delay)]

    with pytest.raises(DraftError, match="larger than"):
        draft(_request(_agent(llm, max_retries=0)))


PRIVATE_URLS = [
    "http://127.0.0.1:11434/v1", "http://localhost:8000/v1", "http://10.0.0.5/v1",
    "http://169.254.169.254/latest", "http://[::1]:8080/v1", "http://[fd00:ec2::254]/",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_private_base_url_is_refused_inline_when_saving(admin_client_, tenant, url):
    data = {**VALID, "provider": "openai_compatible", "base_url": url, "model": "m"}

    response = admin_client_.post(reverse("agents:create"), data)

    assert response.status_code == 422
    assert "private network; ask your operator to allow it" in response.content.decode()
    assert not Agent.objects.filter(tenant=tenant).exists()


def test_a_private_base_url_saved_earlier_fails_the_job_without_a_request(tenant, llm, settings):
    agent = AgentFactory(tenant=tenant, provider="openai_compatible",
                         provider_settings={"base_url": llm.base_url, "model": "m", "max_retries": 0})
    settings.OUTBOUND_ALLOWED_HOSTS = []  # the operator never allowed the fake's 127.0.0.1
    job, _ = _started_job(tenant, agent)

    assert agent_job_run(tenant_id=tenant.pk, job_id=job.pk) == "failed"

    job.refresh_from_db()
    assert "private network; ask your operator to allow it" in job.error
    assert llm.requests == []


def test_an_operator_allow_listed_self_hosted_model_is_reached(tenant, llm, admin_client_, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    data = {**VALID, "provider": "openai_compatible", "base_url": llm.base_url, "model": "m"}
    assert admin_client_.post(reverse("agents:create"), data).status_code == 302
    assert draft(_request(_agent(llm))).subject == "Idea for Globex"



def test_an_error_answer_shows_only_an_openai_style_error_message(llm):
    llm.script = [(404, {}, {"consul": {"token": INTERNAL}}, 0),
                  (401, {}, {"error": {"message": "Incorrect API key provided."}}, 0)]

    with pytest.raises(DraftError) as unknown_shape:
        draft(_request(_agent(llm, max_retries=0)))
    with pytest.raises(DraftError) as openai_shape:
        draft(_request(_agent(llm, max_retries=0)))

    assert str(unknown_shape.value) == "HTTP 404 from the model server"
    assert str(openai_shape.value) == "HTTP 401 from the model server: Incorrect API key provided."
