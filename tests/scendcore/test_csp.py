"""Every response carries the Content-Security-Policy: pages, partials, JSON, files, the
Django admin, redirects and errors. The URLs come from the live resolver (the tenancy
walker's enumeration), so a view added later is covered without editing this file."""
import re
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.urls import path
from django.urls.resolvers import RegexPattern

from scendcore.models import Role
from scendcore.urls import urlpatterns as project_urls
from tests.factories import MembershipFactory, UserFactory
from tests.test_tenancy_urls import BUILDERS, ID_KWARG, OTHER_VALUES, ROUTE_PARAM, World, walk

pytestmark = pytest.mark.django_db

POLICY = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "img-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}
# Values for the admin's regex kwargs (its app list takes an installed app's label).
REGEX_VALUES = {"app_label": "scendcore", "url": "no-such-admin-page"}
REGEX_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")


def policy_of(response):
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.status_code} response without a Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


def _url(levels, world):
    parts = []
    for level in levels:
        if isinstance(level, RegexPattern):
            parts.append(REGEX_GROUP.sub(lambda m: REGEX_VALUES[m[1]], level.regex.pattern).strip("^$"))
            continue
        parts.append(ROUTE_PARAM.sub(lambda m: str(
            BUILDERS[m["name"]](world) if ID_KWARG.match(m["name"]) and m["name"] in BUILDERS
            else OTHER_VALUES.get(m["conv"] or "str", "x")), str(level)))
    return "/" + "".join(parts)


ENDPOINTS = [(levels, ":".join(ns + ((entry.name,) if entry.name else ()))) for levels, ns, entry in walk()]


def test_the_walk_covers_pages_api_hooks_and_the_admin():
    names = {name for _levels, name in ENDPOINTS}
    for known in ("dashboard", "api:sequences", "messaging:hook-inbound", "admin:index", "admin:app_list",
                  "contacts:import-rejected-csv", "healthz"):
        assert known in names


@pytest.mark.parametrize("levels, name", ENDPOINTS, ids=[name or str(levels[-1]) for _l, name in ENDPOINTS])
def test_every_url_answers_with_the_policy(levels, name, tenant, client, settings):
    settings.DEBUG = False  # production behaviour (in DEBUG, django-csp leaves Django's debug pages alone)
    member = UserFactory(username="csp_admin", is_staff=True, is_superuser=True)
    MembershipFactory(user=member, tenant=tenant, role=Role.ADMIN)
    url = _url(levels, World(tenant, member))
    client.raise_request_exception = False

    anonymous = client.get(url)
    client.force_login(member)
    answers = [anonymous, client.get(url), client.get(url, headers={"HX-Request": "true"}),
               client.post(url, {}, headers={"HX-Request": "true"})]

    for response in answers:
        assert policy_of(response) == POLICY, f"{url} answered {response.status_code} with another policy"


def _boom(request):
    raise RuntimeError("a view that fails")


urlpatterns = [path("boom/", _boom), path("plain/", lambda request: HttpResponse("ok")), *project_urls]


@pytest.mark.urls(__name__)
def test_server_errors_and_unknown_urls_carry_the_policy_too(rep_client, settings):
    settings.DEBUG = False
    rep_client.raise_request_exception = False
    assert rep_client.get("/plain/").status_code == 200
    for url, status in (("/boom/", 500), ("/no-such-page/", 404)):
        response = rep_client.get(url)
        assert response.status_code == status
        assert policy_of(response) == POLICY


TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
# What the policy blocks in markup: inline scripts, style attributes and <style> blocks,
# event-handler attributes, htmx's own inline handlers, and javascript: URLs.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|\shx-on[:\-]|\shx-vals=[\"']\s*js:|javascript:",
    re.IGNORECASE,
)


def test_no_template_carries_code_or_styles_the_policy_would_block():
    found = [
        f"{path.relative_to(TEMPLATES_DIR)}:{number}: {line.strip()[:120]}"
        for path in sorted(TEMPLATES_DIR.rglob("*.html"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE_CODE.search(line)
    ]
    assert not found, "inline code or styles in templates (move them to static/):\n" + "\n".join(found)
