"""What every draft goes through before anyone sees it, whichever provider wrote it:
header-like lines removed, links checked against the tenant's allowed domains, the
email HTML built from the plain text and sanitized, SMS bounded. How links are read
(as browsers parse them) lives in links.py."""
import html
import re
from functools import lru_cache

import nh3

from . import links
from .types import SMS_MAX_CHARS, SUBJECT_MAX_CHARS

HEADER_LINE = re.compile(
    r"^\s*(to|cc|bcc|from|reply-to|sender|subject|return-path|x-[\w-]+)\s*:", re.IGNORECASE
)
URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
ALLOWED_SCHEME_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
ALLOWED_TAGS = {"p", "br", "a", "strong", "em", "ul", "ol", "li"}
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = {"http", "https", "mailto"}
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
BARE_DOMAIN_FLAG = "unapproved domain that mail clients turn into a link"


@lru_cache(maxsize=256)
def allowed_domains(raw):
    domains = set()
    for line in (raw or "").replace(",", "\n").splitlines():
        line = line.strip().lower()
        if not line:
            continue
        # Entries may be written as URLs ("https://www.acme.example/pricing").
        domain = links.normal_host(ALLOWED_SCHEME_PREFIX.sub("", line).removeprefix("*."))
        if domain:
            domains.add(domain)
    return frozenset(domains)


def domain_allowed(domain, allowed):
    domain = links.site(domain.lower().rstrip("."))
    return any(domain == ok or domain.endswith("." + ok) for ok in allowed)


def _allowed_of(tenant):
    return allowed_domains(getattr(tenant, "allowed_link_domains", "") or "")


class _Flags(list):
    def add(self, flag):
        if flag not in self:
            self.append(flag)

    def link(self, link, allowed, *, shows=()):
        """The link's own problems, hosts its text shows that it does not open, and its
        domain when the tenant has not approved it."""
        for problem in link.problems:
            self.add(problem)
        opens = links.site(link.host)
        for host in shows:
            if links.site(host) != opens:
                self.add(f"link text shows {links.shown(links.site(host))} but opens "
                         f"{links.shown(opens) if opens else 'another address'}")
        if link.scheme == "mailto":
            self.address(link.address_domain, allowed)
        elif link.host and not domain_allowed(link.host, allowed):
            self.add(f"link to unapproved domain: {links.shown(opens)}")

    def address(self, domain, allowed):
        if domain and not domain_allowed(domain, allowed):
            self.add(f"email address on unapproved domain: {links.shown(domain)}")


def link_flags(text, tenant):
    """One flag per link or address a reader could be misled by or that leads off the
    tenant's approved domains, in the order they appear."""
    if "." not in text and ":" not in text:
        return []
    allowed = _allowed_of(tenant)
    found, addresses, bare = links.text_links(text)
    flags = _Flags()
    for link in found:
        flags.link(link, allowed)
    for domain in addresses:
        flags.address(domain, allowed)
    for domain in bare:
        if not domain_allowed(domain, allowed):
            flags.add(f"{BARE_DOMAIN_FLAG}: {links.shown(links.site(domain))}")
    return list(flags)


def html_link_flags(markup, tenant):
    """Flags for the anchors of an HTML part: each href judged like a link in the text,
    and its visible text may not show a host other than the one it opens."""
    if "<a" not in markup.lower():
        return []
    allowed = _allowed_of(tenant)
    flags = _Flags()
    for href, text in links.html_anchors(markup):
        for flag in _anchor_flags(href, text, allowed):
            flags.add(flag)
    return list(flags)


@lru_cache(maxsize=1024)
def _anchor_flags(href, text, allowed):
    # Cached: the drafts of one step repeat the same few anchors for every contact.
    found, _addresses, bare = links.text_links(text)
    flags = _Flags()
    flags.link(links.parse_link(href), allowed, shows=[l.host for l in found if l.host] + bare)
    return tuple(flags)


def strip_header_lines(body):
    """Drop header-like lines ("Bcc: …", "To: …") a model put at the top of a body.
    Returns (body, removed_any)."""
    lines = body.replace("\r\n", "\n").split("\n")
    removed = False
    while lines and (HEADER_LINE.match(lines[0]) or (removed and not lines[0].strip())):
        lines.pop(0)
        removed = True
    return "\n".join(lines).strip("\n"), removed


def clean_subject(subject):
    # A subject is one header line: newlines in it would be header injection.
    return " ".join(str(subject or "").split())[:SUBJECT_MAX_CHARS]


def _linkify(escaped_line):
    def anchor(match):
        url = match.group(0).rstrip(".,;:!?")
        tail = match.group(0)[len(url):]
        href = url if url.lower().startswith("http") else "https://" + url
        return f'<a href="{href}">{url}</a>{tail}'

    return URL_RE.sub(anchor, escaped_line)


def _escape(line):
    # What the sanitizer would emit for plain text: &, < and > escaped, NBSP named.
    return html.escape(line, quote=False).replace("\xa0", "&nbsp;")


def html_from_text(text):
    """Email HTML built from the plain text (escaped, paragraphs, links). Model output
    is never trusted as markup. Text without links is escaped here and is safe as it
    stands; the sanitizer (a small allow-list) runs when anchors were added, the only
    markup that carries an attribute. Both paths give the same HTML for plain text (a
    property the tests check), so a link never changes how the rest is written."""
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    paragraphs = [p for p in PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
    has_links = has_link(text)
    parts = []
    for paragraph in paragraphs:
        lines = [_escape(line) for line in paragraph.split("\n")]
        if has_links:
            lines = [_linkify(line) for line in lines]
        parts.append("<p>" + "<br>".join(lines) + "</p>")
    markup = "".join(parts)
    return sanitize(markup) if has_links else markup


def sanitize(markup):
    return nh3.clean(
        markup, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES, link_rel="noopener noreferrer",
    )


def has_link(text):
    """Whether URL_RE could match anywhere in `text` (a cheap test before the regex)."""
    lowered = text.lower()
    return ("http" in lowered or "www." in lowered) and URL_RE.search(text) is not None


def clamp_sms(text):
    """One SMS body of at most SMS_MAX_CHARS, cut at a word boundary."""
    text = " ".join(text.split())
    if len(text) <= SMS_MAX_CHARS:
        return text, False
    cut = text[: SMS_MAX_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:-")
    return cut + "…", True
