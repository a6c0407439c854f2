"""The API's OpenAPI document covers every /api/ route, its interactive docs load only this
app's own files and run under a strict Content-Security-Policy, and lists paginate."""
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import get_resolver, reverse
from django.urls.resolvers import RoutePattern
from playwright.sync_api import expect

from scendcore.api import api_token_create
from tests.factories import SequenceFactory
from tests.test_tenancy_urls import walk

pytestmark = pytest.mark.django_db

# The document itself, its viewer, and the API root (ninja's 404 landing, no operation).
DOC_ROUTES = {"openapi.json", "docs", ""}


def api_routes():
    """'/api/…' paths in OpenAPI notation for every API endpoint the resolver knows."""
    found = set()
    for levels, namespaces, _entry in walk(get_resolver()):
        route = "".join(str(level) for level in levels)
        if not route.startswith("api/") or route.removeprefix("api/") in DOC_ROUTES:
            continue
        assert all(isinstance(level, RoutePattern) for level in levels), route
        found.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return found


def test_the_openapi_document_lists_every_api_route_with_its_methods(client):
    document = client.get("/api/openapi.json").json()

    routes = api_routes()
    assert {"/api/sequences/", "/api/sequences/{sequence_id}/", "/api/sequences/{sequence_id}/enroll/",
            "/api/sequences/{sequence_id}/analytics/", "/api/sequences/{sequence_id}/pause/",
            "/api/sequences/{sequence_id}/resume/"} <= routes
    missing = routes - set(document["paths"])
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"
    assert set(document["paths"]["/api/sequences/"]) >= {"get", "post"}
    assert set(document["paths"]["/api/sequences/{sequence_id}/"]) >= {"get", "patch"}
    patch = document["paths"]["/api/sequences/{sequence_id}/"]["patch"]
    body = patch["requestBody"]["content"]["application/json"]["schema"]
    assert {"stop_on_reply", "reenroll_policy", "agent_id"} <= set(body["properties"])
    assert body["properties"]["reenroll_after_days"]["maximum"] == 2**31 - 1
    assert {"BearerToken", "SessionInTenant"} <= set(document["components"]["securitySchemes"])


def test_the_docs_page_loads_only_local_files_and_no_inline_code(client):
    response = client.get("/api/docs")

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/static/") for s in sources), sources
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    inline = [attrs for attrs, code in scripts if "src=" not in attrs and 'type="application/json"' not in attrs]
    assert not inline, "the docs page runs inline script"
    assert not re.search(r"\sstyle=", html) and "<style" not in html
    # The test client serves no static files (the browser test below loads them for real).
    for url in sources:
        assert finders.find(url.removeprefix("/static/")), url


@pytest.fixture
def token(tenant, rep):
    return api_token_create(tenant=tenant, user=rep, name="pager")


def test_the_sequence_list_paginates_with_a_total_and_links(client, token, tenant, other_tenant):
    ours = {SequenceFactory(tenant=tenant).pk for _ in range(5)}
    SequenceFactory(tenant=other_tenant)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    seen, url, pages = set(), reverse("api:sequences") + "?limit=2", 0
    while url:
        data = client.get(url, **auth).json()
        assert data["count"] == 5 and len(data["sequences"]) <= 2
        seen |= {s["id"] for s in data["sequences"]}
        url, pages = data["next"], pages + 1
    assert seen == ours and pages == 3

    last = client.get(reverse("api:sequences") + "?limit=2&offset=4", **auth).json()
    assert last["next"] is None and "offset=2" in last["previous"]
    for bad in ("limit=0", "limit=501", "limit=abc", "offset=-1", f"offset={2**63}"):
        response = client.get(reverse("api:sequences") + "?" + bad, **auth)
        assert response.status_code == 422 and bad.split("=")[0] in response.json()["errors"], bad


def test_session_callers_need_the_csrf_header_and_pass_with_it(rep, tenant):
    sequence = SequenceFactory(tenant=tenant, status="active")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(rep)
    strict.get("/api/docs")  # sets the CSRF cookie, as the docs page does for the browser
    url = reverse("api:sequence-pause", args=[sequence.pk])

    refused = strict.post(url)
    allowed = strict.post(url, HTTP_X_CSRFTOKEN=strict.cookies["csrftoken"].value)

    assert refused.status_code == 403 and "CSRF" in refused.json()["errors"]["__all__"][0]
    assert allowed.status_code == 200 and allowed.json()["status"] == "paused"


@pytest.mark.browser
def test_swagger_ui_renders_the_api_under_the_apps_content_security_policy(live_server, page, output_path):
    # The app's own policy (no inline script or style) comes with the page; the shared
    # browser fixture fails the test on any violation it reports.
    response = page.goto(f"{live_server.url}/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]

    expect(page.locator(".opblock-summary-path", has_text="/api/sequences/{sequence_id}/enroll/")).to_be_visible()
    expect(page.get_by_text("ScendCore API")).to_be_visible()
    page.screenshot(path=Path(output_path, "api-docs.png"), full_page=True)
