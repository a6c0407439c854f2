"""Links in drafts are judged by the host a browser opens (WHATWG URL parsing), and
anything a reader could take for another host needs a human before it is sent."""
from types import SimpleNamespace

import pytest

from agents.drafting import Draft, DraftRequest, finish, safety
from agents.drafting.links import parse_link

ALLOWED = "acme-outbound.example"
TENANT = SimpleNamespace(allowed_link_domains=f"{ALLOWED}\nscendly.example")

# Input as written, and the host a WHATWG parser (every browser) opens. Drawn from the
# kinds of example the URL standard gives: special schemes without slashes, backslashes
# as slashes, userinfo, percent-encoded and full-width hosts, IPv4 in other notations,
# IDNA mapping, and what ends the host (?, #, \).
WHATWG_HOSTS = [
    ("https://EXAMPLE.com/", "example.com"),
    ("https://example.com./", "example.com"),
    ("https://evil.example#@acme-outbound.example/", "evil.example"),
    ("https://evil.example?@acme-outbound.example/", "evil.example"),
    ("https://evil.example\\@acme-outbound.example/", "evil.example"),
    ("https://acme-outbound.example@evil.example/", "evil.example"),
    ("https://evil.example:443@acme-outbound.example/", "acme-outbound.example"),
    ("https://user:secret@acme-outbound.example/", "acme-outbound.example"),
    ("https://@evil.example/", "evil.example"),
    ("https:evil.example/", "evil.example"),
    ("https:/evil.example/", "evil.example"),
    ("https:\\\\evil.example/", "evil.example"),
    ("https://ex%41mple.com/", "example.com"),
    ("https://acme-outbound%2Eexample/", "acme-outbound.example"),
    ("https://ＡＣＭＥ-outbound.example/", "acme-outbound.example"),
    ("http://０Ｘｃ０．０２５０．０１", "192.168.0.1"),
    ("http://0x7f.1/", "127.0.0.1"),
    ("http://2130706433/", "127.0.0.1"),
    ("http://1.2.3/", "1.2.0.3"),
    ("http://[::1]/", "[::1]"),
    ("https://faß.ExAmPlE/", "xn--fa-hia.example"),
    ("https://аpple.com/", "xn--pple-43d.com"),
    ("https://exa\tmple.com/", "example.com"),
    ("https://exa\u00admple.com/", "example.com"),
    ("https://www.acme-outbound.example:8443/x", "www.acme-outbound.example"),
]


@pytest.mark.parametrize("raw, host", WHATWG_HOSTS)
def test_links_are_parsed_to_the_host_a_browser_opens(raw, host):
    assert parse_link(raw).host == host


@pytest.mark.parametrize("raw, shown", [
    ("https://exa mple.com/", "https://exa mple.com/"), ("http://[::1/", "http://[::1/"),
    # Invisible characters are spelled out, so the reason itself cannot hide anything.
    ("https://\u202eelpmaxe.live/", "https://\\u202eelpmaxe.live/"),
])
def test_a_link_no_browser_can_parse_has_no_host_and_says_so(raw, shown):
    link = parse_link(raw)
    assert link.host == ""
    assert link.problems == (f"link that browsers cannot parse: {shown}",)


def unapproved(host):
    return f"link to unapproved domain: {host}"


def bare(host):
    return f"unapproved domain that mail clients turn into a link: {host}"


# A draft's text and every flag it must raise, in order. The three attacks of the report
# come first: each reads as the allowed domain and opens evil.example.
FLAGGED_TEXTS = [
    ("See https://evil.example#@acme-outbound.example/ now",
     ["link reads as acme-outbound.example but opens evil.example", unapproved("evil.example")]),
    ("See https://evil.example?@acme-outbound.example/ now",
     ["link reads as acme-outbound.example but opens evil.example", unapproved("evil.example")]),
    ("See https://evil.example\\@acme-outbound.example/ now",
     ["link reads as acme-outbound.example but opens evil.example",
      "link contains a backslash: evil.example", unapproved("evil.example")]),
    ("https://user:secret@acme-outbound.example/",
     ["link has a user name or @ before its host: acme-outbound.example"]),
    ("https://@acme-outbound.example/", ["link has a user name or @ before its host: acme-outbound.example"]),
    ("https://acme-outbound.example@evil.example/",
     ["link has a user name or @ before its host: evil.example", unapproved("evil.example")]),
    ("https:\\\\acme-outbound.example/", ["link contains a backslash: acme-outbound.example"]),
    ("https://acme-outbound.example/a\u200bb", ["link contains hidden or control characters: acme-outbound.example"]),
    ("https://acme-outbound%2Eexample/",
     ["link host is encoded or not written canonically: acme-outbound.example"]),
    ("https://ＡＣＭＥ-outbound.example/",
     ["link host is encoded or not written canonically: acme-outbound.example"]),
    ("http://0x7f.1/admin", ["link to an IP address: 127.0.0.1", unapproved("127.0.0.1")]),
    ("http://[::1]/", ["link to an IP address: [::1]", unapproved("[::1]")]),
    ("https://аcme-outbound.example/",
     ["link host mixes scripts (possible lookalike): xn--cme-outbound-w9j.example (аcme-outbound.example)",
      unapproved("xn--cme-outbound-w9j.example (аcme-outbound.example)")]),
    ("ftp://acme-outbound.example/file", ["link uses the ftp scheme: acme-outbound.example"]),
    ("https://acme-outbound.example.evil.example/", [unapproved("acme-outbound.example.evil.example")]),
    ("https://evilacme-outbound.example/", [unapproved("evilacme-outbound.example")]),
    ("www.evil.example", [unapproved("evil.example")]),
    # Bare domains that mail clients and phones turn into links.
    ("Log in at evil.example/login today", [bare("evil.example")]),
    ("Our partner EVIL.example has more.", [bare("evil.example")]),
    ("Visit évil.example", [bare("xn--vil-9la.example (évil.example)")]),
    ("Our docs: evil.example.", [bare("evil.example")]),
    ("Write to x@évil.example", ["email address on unapproved domain: xn--vil-9la.example (évil.example)"]),
]


@pytest.mark.parametrize("text, flags", FLAGGED_TEXTS)
def test_ambiguous_or_foreign_links_are_flagged(text, flags):
    assert safety.link_flags(text, TENANT) == flags


@pytest.mark.parametrize("text", [
    "See https://acme-outbound.example/pricing?plan=team#faq.",
    "See https://www.acme-outbound.example and https://docs.acme-outbound.example/a/b",
    "See www.scendly.example/demo, or acme-outbound.example/pricing",
    "Ring me: tel:+14155550100. Mail me at sam@acme-outbound.example",
    "Version 2.0 ships in Q3. A plain sentence. e.g. this one, i.e. that one.",
    "https://acme-outbound.example./trailing-dot",
])
def test_links_on_the_allowed_domains_raise_nothing(text):
    assert safety.link_flags(text, TENANT) == []


@pytest.mark.parametrize("markup, flags", [
    ('<p><a href="https://evil.example/login">https://acme-outbound.example/login</a></p>',
     ["link text shows acme-outbound.example but opens evil.example", unapproved("evil.example")]),
    ('<p><a href="https://evil.example/">www.acme-outbound.example</a></p>',
     ["link text shows acme-outbound.example but opens evil.example", unapproved("evil.example")]),
    ('<p><a href="https://docs.acme-outbound.example/">acme-outbound.example</a></p>',
     ["link text shows acme-outbound.example but opens docs.acme-outbound.example"]),
    ('<p><a href="javascript:alert(1)">acme-outbound.example</a></p>',
     ["link uses the javascript scheme", "link text shows acme-outbound.example but opens another address"]),
    ('<p><a href="https://evil.example/">our pricing</a></p>', [unapproved("evil.example")]),
    ('<p><a href="mailto:x@evil.example">write to us</a></p>', ["email address on unapproved domain: evil.example"]),
    ('<p><a href="https://acme-outbound.example/\tx">acme-outbound.example</a></p>',
     ["link contains hidden or control characters: acme-outbound.example"]),
])
def test_anchors_in_the_html_part_are_checked_and_must_open_what_their_text_shows(markup, flags):
    assert safety.html_link_flags(markup, TENANT) == flags


@pytest.mark.parametrize("markup", [
    '<p><a href="https://acme-outbound.example/pricing">https://acme-outbound.example/pricing</a></p>',
    '<p><a href="https://www.acme-outbound.example/">www.acme-outbound.example</a></p>',
    '<p><a href="https://acme-outbound.example/pricing">our pricing</a></p>',
    "<p>No links here, only acme-outbound.example in text.</p>",
])
def test_anchors_that_open_what_they_show_raise_nothing(markup):
    assert safety.html_link_flags(markup, TENANT) == []


def _request(body, channel="email"):
    agent = SimpleNamespace(provider="template", avoid="")
    contact = SimpleNamespace(email="dana@globex.example")
    step = SimpleNamespace(channel=channel)
    return DraftRequest(agent=agent, tenant=TENANT, contact=contact, step=step)


def test_a_draft_whose_html_part_hides_another_host_behind_its_text_is_flagged(monkeypatch):
    # The HTML part is built from the text today; should that ever change, a lying
    # anchor still cannot leave without review.
    monkeypatch.setattr(safety, "html_from_text", lambda text: (
        '<p><a href="https://evil.example/">https://acme-outbound.example/</a></p>'))
    result = finish(Draft(subject="Hi", body_text="See https://acme-outbound.example/"),
                    _request("See https://acme-outbound.example/"))
    assert result.flags == ["link text shows acme-outbound.example but opens evil.example",
                            unapproved("evil.example")]


def test_a_bare_domain_in_an_sms_is_flagged_as_phones_link_it():
    result = finish(Draft(subject="", body_text="Log in at evil.example/login"), _request("", channel="sms"))
    assert result.flags == [bare("evil.example")]
