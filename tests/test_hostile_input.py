"""Hostile input never gets a server error: every API route with every HTTP method, and
every form the pages render, fed NUL bytes, 100,000-character strings, 2**63 integers,
wrong JSON types, 100,000-deep JSON and invalid UTF-8, answers below 500.

Like tests/test_tenancy_urls.py, the targets come from the live resolver, so an endpoint
or page added later is probed without editing this file: API routes get every method,
with the fields their OpenAPI operation declares; pages are fetched as a tenant admin
(and anonymously, for the public ones), and every <form> they render is posted to its
action with one field at a time replaced by each hostile value, the other fields kept as
rendered (or filled with plausible values), so the hostile value reaches past form
validation wherever the form would let it. The checks at the end make sure the probe
found at least the routes and forms known today, so it cannot silently probe nothing."""
import ipaddress
import re
import socket
import urllib.parse
from html.parser import HTMLParser

import pytest
from django import forms
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import Resolver404, resolve

from scendcore.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.test_tenancy_urls import BUILDERS, ID_KWARG, OTHER_VALUES, ROUTE_PARAM, SKIPPED_NAMESPACES, World, walk

pytestmark = pytest.mark.hostile

DEEP = 100_000
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HUGE = 2**63

# --- what the probe sends ------------------------------------------------------------

RAW_BODIES = {
    "NUL byte": b"\x00",
    "invalid UTF-8": b'{"name": "\xff\xfe"}',
    "deep list": b"[" * DEEP + b"]" * DEEP,
    "deep object": b'{"a": ' * DEEP + b"1" + b"}" * DEEP,
    "a list": b"[]",
    "a string": b'"text"',
    "infinite number": b'{"a": 1e999}',
    "NaN": b'{"a": NaN}',
    "5000-digit number": b'{"a": ' + b"9" * 5000 + b"}",
    "truncated": b'{"name": "x',
    "empty": b"",
}
JSON_VALUES = {
    "NUL": "a\u0000b", "100k string": "x" * 100_000, "2**63": HUGE, "-2**63-1": -HUGE - 1, "10**40": 10**40,
    "float": 1.5, "1e308": 1e308, "true": True, "null": None, "list for string": ["a"], "list of NUL": ["\u0000"],
    "list of 2**63": [HUGE], "object for list": {"a": 1}, "string for int": "12", "empty string": "",
}
TEXT_VALUES = {
    "NUL": "a\x00b", "100k string": "x" * 100_000, "2**63": str(HUGE), "-2**63-1": str(-HUGE - 1),
    "superscript digit": "\u00b2", "deep JSON": "[" * DEEP, "1e400": "1e400",
}
FILES = {
    "NUL after 64 KB": b"Email,Name\r\n" + b"a@example.com,A\r\n" * 5000 + b"\x00\r\n",
    "invalid UTF-8": b"Email,Name\r\n\xff\xfe@example.com,A\r\n",
    "empty": b"",
    "deep quotes": b'Email\r\n"' + b'""' * DEEP + b'"\r\n',
}
PLAUSIBLE = {"email": "probe@example.com", "number": "1", "url": "https://example.com/", "time": "09:00",
             "date": "2030-01-15", "tel": "+14155550100", "datetime-local": "2030-01-15T09:00"}


# --- targets from the resolver -------------------------------------------------------

def endpoints():
    """Every non-admin URL pattern once: {"route", "levels", "params", "name"}."""
    found, seen = [], set()
    for levels, namespaces, entry in walk():
        route = "".join(str(level) for level in levels)
        if SKIPPED_NAMESPACES & set(namespaces) or route in seen:
            continue
        seen.add(route)
        params = [(m["name"], m["conv"] or "str") for level in levels for m in ROUTE_PARAM.finditer(str(level))]
        name = ":".join(namespaces + ((entry.name,) if entry.name else ())) or route
        found.append({"route": route, "levels": levels, "params": params, "name": name})
    return found


ENDPOINTS = endpoints()
API_ENDPOINTS = [e for e in ENDPOINTS if e["route"].startswith("api/")]
PAGE_ENDPOINTS = [e for e in ENDPOINTS if not e["route"].startswith("api/")]


def url_for(endpoint, world, *, huge_ids=False):
    values = {}
    for kwarg, conv in endpoint["params"]:
        if ID_KWARG.match(kwarg) and kwarg in BUILDERS:
            values[kwarg] = "9" * 25 if huge_ids else BUILDERS[kwarg](world)
        elif kwarg == "tenant_slug":
            values[kwarg] = world.tenant.slug
        else:
            values[kwarg] = OTHER_VALUES.get(conv, "x")
    return "/" + "".join(ROUTE_PARAM.sub(lambda m: str(values[m["name"]]), str(level)) for level in endpoint["levels"])


@pytest.fixture
def no_dns(monkeypatch):
    """DNS is outside the machine: here no name resolves, at once (numeric hosts still do).
    Forms that check a host (a mailbox's SMTP and IMAP servers, a model server) resolve
    it; the probe posts each form hundreds of times, and the real resolver's answer
    "no such name" took 80 ms a lookup."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        try:
            ipaddress.ip_address(name)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def prober(tenant, no_dns):
    """A tenant admin's client that answers a server error as a 500 instead of raising."""
    member = UserFactory(username="probe_admin")
    MembershipFactory(user=member, tenant=tenant, role=Role.ADMIN)
    client = Client(raise_request_exception=False, HTTP_X_SCENDCORE_SECRET=tenant.inbound_secret)
    client.force_login(member)
    client.member = member
    return client, World(tenant, member)


class Findings:
    def __init__(self, client):
        self.client, self.failures, self.answers = client, [], []

    def send(self, what, method, path, **kwargs):
        member = getattr(self.client, "member", None)
        session = self.client.cookies.get(settings.SESSION_COOKIE_NAME)
        if member is not None and (session is None or not session.value):
            self.client.force_login(member)  # a probed logout (or password change) logged us out
        response = self.client.generic(method, path, **kwargs)
        self.answers.append((method, path, what, response.status_code))
        if response.status_code >= 500:
            exc = getattr(response, "exc_info", None)
            self.failures.append(f"{method} {path} [{what}] -> {response.status_code} "
                                 f"{exc[1]!r:.200}" if exc else f"{method} {path} [{what}] -> {response.status_code}")
        return response

    def check(self):
        assert not self.failures, "server errors:\n" + "\n".join(self.failures[:40])


# --- the API ---------------------------------------------------------------------------

def openapi_operations(client):
    """{(OpenAPI path, method): (body field names, query parameter names)}."""
    document = client.get("/api/openapi.json").json()
    operations = {}
    for path, items in document["paths"].items():
        for method, operation in items.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            fields = sorted(body.get("properties", {}))
            query = sorted(p["name"] for p in operation.get("parameters", []) if p["in"] == "query")
            operations[(path, method.upper())] = (fields, query)
    return operations


def _openapi_path(route):
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _field_body(field, label, value):
    if label == "deep JSON":
        return b'{"%s": ' % field.encode() + b"[" * DEEP + b"]" * DEEP + b"}"
    import json
    return json.dumps({field: value}).encode()


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", API_ENDPOINTS, ids=[e["name"] for e in API_ENDPOINTS])
def test_every_api_route_refuses_hostile_input_with_a_4xx(endpoint, prober):
    client, world = prober
    findings = Findings(client)
    operations = openapi_operations(client)
    path = url_for(endpoint, world)
    for method in METHODS:
        fields, query = operations.get((_openapi_path(endpoint["route"]), method), ([], []))
        for label, raw in RAW_BODIES.items():
            findings.send(f"body: {label}", method, path, data=raw, content_type="application/json")
        for field in fields:
            for label, value in {**JSON_VALUES, "deep JSON": None}.items():
                findings.send(f"{field}: {label}", method, path, data=_field_body(field, label, value),
                              content_type="application/json")
        for name in query:
            for label, value in TEXT_VALUES.items():
                findings.send(f"?{name}: {label}", method, f"{path}?{urllib.parse.urlencode({name: value})}")
        if any(ID_KWARG.match(kwarg) for kwarg, _ in endpoint["params"]):
            findings.send("25-digit id", method, url_for(endpoint, world, huge_ids=True), data=b"{}",
                          content_type="application/json")
    findings.check()
    accepted = [answer for answer in findings.answers if _must_be_refused(answer) and not 400 <= answer[3] < 500]
    assert not accepted, "hostile input not refused with a 4xx:\n" + "\n".join(map(str, accepted[:40]))


# A body that is not JSON, or a field holding NUL, a huge number, an over-long string, deep
# JSON or the wrong type, is refused with a 4xx by every method that reads a body. GET
# ignores a body, a query string is a search term whatever it holds, and an empty PATCH
# changes nothing: those may answer 200.
HOSTILE_FIELD_VALUES = ("NUL", "100k string", "2**63", "-2**63-1", "10**40", "list for string", "list of NUL",
                        "list of 2**63", "object for list", "deep JSON")
BODY_METHODS = ("POST", "PUT", "PATCH")


def _must_be_refused(answer):
    method, _, what, _ = answer
    if method not in BODY_METHODS:
        return False
    if what.startswith("body: "):
        return what != "body: empty"
    field_value = what.split(": ", 1)[-1]
    return not what.startswith("?") and field_value in HOSTILE_FIELD_VALUES


# --- pages and their forms -------------------------------------------------------------

class FormFinder(HTMLParser):
    """The <form>s of a page: method, action and fields with their rendered values."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select, self._textarea = [], None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            method = "post" if a.get("hx-post") else (a.get("method") or "get").lower()
            self._form = {"method": method, "action": a.get("hx-post") or a.get("action") or "",
                          "multipart": "multipart" in (a.get("enctype") or ""), "fields": {}, "types": {}}
            self.forms.append(self._form)
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                self._form["types"].setdefault(a["name"], "choice")
                self._form["fields"].setdefault(a["name"], [])
                return
            if kind in ("submit", "button", "image", "reset"):
                return
            self._form["fields"].setdefault(a["name"], []).append(a.get("value") or PLAUSIBLE.get(kind, ""))
            self._form["types"][a["name"]] = {"file": "file", "number": "number", "checkbox": "choice",
                                              "radio": "choice"}.get(kind, "text")
        elif tag == "select":
            self._select = {"name": a["name"], "first": None, "chosen": None}
            self._form["types"][a["name"]] = "choice"
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select["first"] = self._select["first"] if self._select["first"] is not None or not value else value
            if "selected" in a:
                self._select["chosen"] = value
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form["fields"][a["name"]] = [""]
            self._form["types"][a["name"]] = "text"

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea][0] += data

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None and self._form is not None:
            chosen = self._select["chosen"] if self._select["chosen"] is not None else self._select["first"] or ""
            self._form["fields"][self._select["name"]] = [chosen]
            self._select = None
        elif tag == "textarea":
            name = self._textarea
            if name and self._form is not None and not self._form["fields"][name][0].strip():
                self._form["fields"][name] = ["Probe text"]
            self._textarea = None
        elif tag == "form":
            self._form = None


def _fill_blanks(fields, types):
    return {name: values if values and any(values) or types.get(name) == "choice" else ["Probe"]
            for name, values in fields.items()}


def forms_on(response, page_path):
    """[(target path, method, multipart, {name: [values]}, {name: kind})] of a page."""
    finder = FormFinder()
    finder.feed(response.content.decode(errors="replace"))
    found = []
    for form in finder.forms:
        target = urllib.parse.urljoin(page_path, form["action"] or page_path)
        parsed = urllib.parse.urlsplit(target)
        if parsed.netloc or parsed.path.startswith("/admin/"):
            continue
        fields = {k: v for k, v in form["fields"].items() if k != "csrfmiddlewaretoken"}
        found.append((parsed.path, form["method"], form["multipart"], _fill_blanks(fields, form["types"]),
                      form["types"]))
    return found


class CapturedForms:
    """The Django forms a view builds while rendering: their field names and kinds, for
    fields the HTML does not show (rendered later by htmx, or conditionally)."""

    def __init__(self, monkeypatch):
        self.fields = {}
        original = forms.BaseForm.__init__
        captured = self

        def spy(form, *args, **kwargs):
            original(form, *args, **kwargs)
            for name, field in form.fields.items():
                kind = "file" if isinstance(field, forms.FileField) else "number" if isinstance(
                    field, (forms.IntegerField, forms.FloatField, forms.DecimalField)) else "choice" if isinstance(
                    field, forms.ChoiceField) else "text"
                captured.fields[form.add_prefix(name)] = kind

        monkeypatch.setattr(forms.BaseForm, "__init__", spy)


def _encode(fields):
    pairs = []
    for name, values in fields.items():
        for value in values:
            raw = value if isinstance(value, bytes) else str(value).encode()
            pairs.append(urllib.parse.quote_from_bytes(name.encode()) + "=" + urllib.parse.quote_from_bytes(raw))
    return "&".join(pairs)


# Posted into one field at a time (the others plausible), so each reaches the code behind
# a form that accepts the rest; the other hostile values go into every field at once.
PER_FIELD = ("NUL", "100k string", "2**63", "invalid UTF-8", "list for one value", "empty list")


def _mutations(kind):
    if kind == "file":
        return {label: [SimpleUploadedFile("probe.csv", data, content_type="text/csv")] for label, data in FILES.items()}
    values = {label: [value] for label, value in TEXT_VALUES.items()}
    values["invalid UTF-8"] = [b"\xff\xfe probe"]
    values["list for one value"] = ["1", "two"]
    if kind == "choice":
        values["empty list"] = []
    return values


def _posts(fields, types):
    """(what, value label, data, whether a file field was mutated) for every post the
    probe makes to one form."""
    for name in fields:
        for label, mutated in _mutations(types.get(name, "text")).items():
            if label in PER_FIELD or types.get(name) == "file":
                yield f"{name}: {label}", label, {**fields, name: mutated}, types.get(name) == "file"
    for label in sorted(TEXT_VALUES.keys() - set(PER_FIELD)):
        data = {name: value if types.get(name) == "file" else _mutations(types.get(name, "text"))[label]
                for name, value in fields.items()}
        yield f"every field: {label}", label, data, False


def probe_form(findings, target, method, multipart, fields, types):
    for what, label, data, file_mutated in _posts(fields, types):
        if method == "get":
            findings.send(what, "GET", f"{target}?{_encode(data)}")
        elif multipart or file_mutated:
            if label == "invalid UTF-8":
                continue  # multipart parts are bytes already; covered by the file values
            files = {k: (v if len(v) != 1 else v[0]) for k, v in data.items()}
            findings.send(what, "POST", target, **_multipart(findings.client, files))
        else:
            findings.send(what, "POST", target, data=_encode(data).encode(),
                          content_type="application/x-www-form-urlencoded")


def _multipart(client, data):
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    clean = {k: v for k, v in data.items() if not isinstance(v, bytes)}
    return {"data": encode_multipart(BOUNDARY, clean), "content_type": MULTIPART_CONTENT}


def page_targets(client, path, captured):
    """Every form target reachable from the page at `path`, with its fields."""
    captured.fields.clear()
    response = client.get(path)
    targets = forms_on(response, path) if response.status_code == 200 else []
    extra = {name: kind for name, kind in captured.fields.items() if not any(name in t[3] for t in targets)}
    if extra:
        targets.append((path, "post", any(k == "file" for k in extra.values()),
                        {name: [PLAUSIBLE.get(kind, "1" if kind == "number" else "Probe")] for name, kind in extra.items()},
                        extra))
    return response.status_code, targets


def _route_name(path):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return ":".join(match.namespaces + [match.url_name]) if match.url_name else match.route


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", PAGE_ENDPOINTS, ids=[e["name"] for e in PAGE_ENDPOINTS])
def test_every_form_answers_hostile_input_below_500(endpoint, prober, monkeypatch):
    client, world = prober
    captured = CapturedForms(monkeypatch)
    path = url_for(endpoint, world)
    anonymous = Client(raise_request_exception=False, HTTP_X_SCENDCORE_SECRET=world.tenant.inbound_secret)
    for who in (client, anonymous):
        findings = Findings(who)
        status, targets = page_targets(who, path, captured)
        for target in targets:
            probe_form(findings, *target)
        # Whatever the page renders, its own URL also gets junk posted to it.
        for label, value in TEXT_VALUES.items():
            findings.send(f"junk: {label}", "POST", path, data=_encode({"probe": [value]}).encode(),
                          content_type="application/x-www-form-urlencoded")
        for label, raw in RAW_BODIES.items():
            findings.send(f"body: {label}", "POST", path, data=raw, content_type="application/json")
        findings.check()


# --- the probe really probes -----------------------------------------------------------

KNOWN_API = {
    ("api:sequences", "GET"), ("api:sequences", "POST"), ("api:sequence", "GET"), ("api:sequence", "PATCH"),
    ("api:sequence-enroll", "POST"), ("api:sequence-analytics", "GET"), ("api:sequence-pause", "POST"),
    ("api:sequence-resume", "POST"), ("api:sequence-definition", "PUT"), ("api:sequence-publish", "POST"),
    ("api:sequence-versions", "GET"), ("api:sequence-activate", "POST"),
}
KNOWN_FORM_TARGETS = {
    "login", "password_reset", "tenant-settings", "contacts:new", "contacts:edit",
    "contacts:import-upload", "contacts:bulk", "contacts:lists", "contacts:list-rename", "sequences:sequence-create",
    "sequences:sequence-settings", "sequences:step-add", "sequences:step-edit", "agents:create", "agents:edit",
    "messaging:mailbox-create", "messaging:mailbox-edit", "messaging:pool-create",
}


@pytest.mark.django_db
def test_the_probe_reaches_every_api_route_and_method_known_today(prober):
    client, world = prober
    operations = openapi_operations(client)
    reached = set()
    for endpoint in API_ENDPOINTS:
        for method in METHODS:
            response = client.generic(method, url_for(endpoint, world), data=b"{}", content_type="application/json")
            if response.status_code != 405:
                reached.add((endpoint["name"], method))
                if endpoint["route"] in ("api/", "api/openapi.json", "api/docs"):
                    continue  # the root, the document and its viewer are not operations
                assert (_openapi_path(endpoint["route"]), method) in operations, (endpoint["name"], method)
    assert KNOWN_API <= reached, sorted(KNOWN_API - reached)
    patch_fields, _ = operations[("/api/sequences/{sequence_id}/", "PATCH")]
    assert {"name", "reenroll_after_days", "agent_id"} <= set(patch_fields)


@pytest.mark.django_db
def test_the_probe_finds_the_forms_known_today(prober, monkeypatch):
    client, world = prober
    captured = CapturedForms(monkeypatch)
    anonymous = Client()
    found = set()
    for endpoint in PAGE_ENDPOINTS:
        for who in (client, anonymous):
            _, targets = page_targets(who, url_for(endpoint, world), captured)
            found |= {_route_name(target[0]) for target in targets if target[3]}
    assert KNOWN_FORM_TARGETS <= found, sorted(KNOWN_FORM_TARGETS - found)

