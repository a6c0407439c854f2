"""Links in a draft, judged by the host a browser would open.

Browsers parse URLs by the WHATWG URL standard, and so does this module (through Ada, a
conforming parser), so `https://evil.example#@acme-outbound.example/` is on evil.example
here as it is in every browser. A person reads links more loosely: the text after the
last "@" before the first "/" looks like the host. Wherever the two readings disagree,
or a link is written in a way meant to hide where it goes (user names, backslashes,
invisible characters, encoded or non-canonical hosts, IP addresses, mixed-script
hosts, unexpected schemes, anchors whose text shows another host), the link gets a
review reason, so the draft cannot be sent without a human.

Where the links are found: URLs with a scheme, `www.` links, and bare domains such as
`evil.example/login`, which mail clients and phones turn into links on their own."""
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser

from ada_url import URL, HostType, idna_to_unicode

ALLOWED_SCHEMES = {"http", "https", "mailto", "tel"}
WEB_SCHEMES = {"http", "https"}
# What a mail client auto-links in text: anything with a scheme and slashes (a backslash
# counts as a slash in http(s) URLs), and www. links. The run ends at whitespace, quotes
# and angle brackets; trailing punctuation is trimmed afterwards.
TEXT_LINK = re.compile(r"(?:\b[a-z][a-z0-9+.-]{1,30}:[/\\]+|\bwww\.)[^\s<>\"'`]+", re.IGNORECASE)
EMAIL = re.compile(r"\b[\w.+-]+@((?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,63})\b")
# A domain standing on its own: labels of letters, digits and hyphens, a last label of
# letters only, not part of an address, a path or a longer name.
BARE_DOMAIN = re.compile(
    r"(?<![\w@./:%\\-])((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63})(?![\w@-]|\.[^\W_])"
)
DOT_LETTER = re.compile(r"\.[^\W\d_]")  # what every bare domain has
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):", re.IGNORECASE)
PORT = re.compile(r":\d*$")
TRAILING = ".,;:!?"
CLOSERS = {")": "(", "]": "["}
# Scripts that legitimately share one label (Japanese, Chinese, Korean writing).
EAST_ASIAN = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"}
HIDDEN_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"}
SHOWN_MAX = 80


@dataclass
class Link:
    raw: str
    host: str = ""            # ASCII (IDNA) form, lowercase, no trailing dot; "" when none
    scheme: str = ""
    address_domain: str = ""  # the domain of a mailto: address
    problems: tuple[str, ...] = ()  # links are cached and shared: never mutated


def shown(host):
    """The host for a reviewer: its ASCII form, and the Unicode form beside it for IDNs."""
    unicode = idna_to_unicode(host) if "xn--" in host else host
    return host if unicode == host else f"{host} ({unicode})"


def printable(text):
    """`text` with invisible and control characters spelled out, cut to a readable length."""
    spelled = "".join(
        f"\\u{ord(ch):04x}" if ch != " " and unicodedata.category(ch) in HIDDEN_CATEGORIES else ch for ch in text
    )
    return spelled if len(spelled) <= SHOWN_MAX else spelled[: SHOWN_MAX - 1] + "…"


@lru_cache(maxsize=1024)
def parse_link(raw):
    """The link `raw` as a browser opens it, with every ambiguity found in how it is written.
    Cached: a sequence's drafts repeat the same few links thousands of times."""
    try:
        url = URL(raw)
    except ValueError:
        return Link(raw=raw, problems=(f"link that browsers cannot parse: {printable(raw)}",))
    link = Link(raw=raw, scheme=url.protocol.rstrip(":").lower(), host=url.hostname.lower().rstrip("."))
    if link.scheme == "mailto":
        found = EMAIL.search(url.pathname)
        link.address_domain = normal_host(found.group(1)) if found else ""
    problems = []
    if link.scheme in WEB_SCHEMES:
        problems.extend(_web_problems(link, url))
    elif any(unicodedata.category(ch) in HIDDEN_CATEGORIES for ch in raw):
        problems.append(_with_host("link contains hidden or control characters", link.host))
    if link.scheme not in ALLOWED_SCHEMES:
        problems.append(_with_host(f"link uses the {printable(link.scheme)} scheme", link.host))
    link.problems = tuple(problems)
    return link


def _with_host(text, host):
    return f"{text}: {shown(host)}" if host else text


def _as_read(raw):
    """(authority, host) as a person reads them: after the scheme and its slashes, up to
    the first "/", after the last "@", without a port."""
    rest = SCHEME.sub("", raw, count=1).lstrip("/\\")
    authority = rest.split("/", 1)[0]
    host = authority.rsplit("@", 1)[-1]
    if not host.startswith("["):
        host = PORT.sub("", host)
    return authority, host.lower().rstrip(".")


def _web_problems(link, url):
    problems = []
    host = link.host
    authority, read = _as_read(link.raw)
    fooled = "@" in authority and read != host
    if fooled:
        problems.append(f"link reads as {printable(read)} but opens {shown(host)}")
    elif "@" in authority or url.username or url.password:
        problems.append(f"link has a user name or @ before its host: {shown(host)}")
    if "\\" in link.raw:
        problems.append(f"link contains a backslash: {shown(host)}")
    if any(unicodedata.category(ch) in HIDDEN_CATEGORIES for ch in link.raw):
        problems.append(f"link contains hidden or control characters: {shown(host)}")
    if url.host_type != HostType.DEFAULT:
        problems.append(f"link to an IP address: {host}")
    elif not fooled and ("%" in read or read not in (host, idna_to_unicode(host))):
        problems.append(f"link host is encoded or not written canonically: {shown(host)}")
    if mixed_scripts(host):
        problems.append(f"link host mixes scripts (possible lookalike): {shown(host)}")
    return problems


def mixed_scripts(host):
    """Whether one label of the host mixes writing systems (Latin with Cyrillic, say), the
    usual shape of a lookalike domain. Scripts are named by the Unicode character names."""
    if "xn--" not in host:
        return False
    for label in idna_to_unicode(host).split("."):
        scripts = {unicodedata.name(ch, "?").split(" ")[0] for ch in label if ch.isalpha()}
        others = scripts - EAST_ASIAN
        if len(others) > 1 or (scripts & EAST_ASIAN and others - {"LATIN"}):
            return True
    return False


def normal_host(domain):
    """A domain as a browser would look it up (IDNA, lowercase, no trailing dot); "" if invalid."""
    link = parse_link("http://" + domain.strip())
    return "" if link.problems and not link.host else link.host


def _trim(run):
    """A linked run without the punctuation that ends the sentence around it."""
    while run:
        last = run[-1]
        if last in TRAILING or (last in CLOSERS and run.count(CLOSERS[last]) < run.count(last)):
            run = run[:-1]
        else:
            break
    return run


def text_links(text):
    """([Link], [address domain], [bare domain]) that a mail client would make of `text`.
    Each pattern runs only where a cheap test finds what it needs: the processor checks
    every draft, and most have no link at all."""
    links, spans = [], []
    if ":/" in text or ":\\" in text or "www." in text.lower():
        for match in TEXT_LINK.finditer(text):
            run = _trim(match.group(0))
            raw = run if SCHEME.match(run) and not run.lower().startswith("www.") else "http://" + run
            links.append(parse_link(raw))
            spans.append((match.start(), match.start() + len(run)))
    # Each kind is looked for where no earlier kind matched: the "@" inside a link is
    # not an address, and the domain of an address is not a bare domain.
    masked = _mask(text, spans)
    addresses = []
    if "@" in masked:
        for match in EMAIL.finditer(masked):
            addresses.append(normal_host(match.group(1)))
            spans.append(match.span())
        masked = _mask(masked, spans)
    bare = [normal_host(m.group(1)) for m in BARE_DOMAIN.finditer(masked)] if DOT_LETTER.search(masked) else []
    return links, [a for a in addresses if a], [b for b in bare if b]


def _mask(text, spans):
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


class _Anchors(HTMLParser):
    """(href, visible text) of every <a> element, in order."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors, self._open = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open = [dict(attrs).get("href") or "", ""]
            self.anchors.append(self._open)

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data


def html_anchors(markup):
    parser = _Anchors()
    parser.feed(markup)
    parser.close()
    return [(href, text) for href, text in parser.anchors]


def site(host):
    return host[4:] if host.startswith("www.") else host
