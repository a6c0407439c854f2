"""Email HTML from a draft's text: escaped by hand when there is no link, sanitized when
there is, and the two paths agree on everything but the anchors."""
import pytest

from agents.drafting.safety import has_link, html_from_text, sanitize

AWKWARD_TEXTS = [
    "Hi Dana,\n\nQuick question about Globex.",
    "Tom & Jerry's <b>bold</b> \"quoted\" idea",
    "</p><script>alert(1)</script>",
    "already escaped: &amp; &lt;tag&gt; &#39; &nbsp;",
    "non\xa0breaking and\tTabs\x0b and \u2028 separators 😀",
    "a NUL\x00 inside, a CR\r\nline, and a lone\rcarriage return",
    "\n\n  leading and trailing blank lines  \n\n\n",
    "para one\n \t \npara two\nsecond line",
]


@pytest.mark.parametrize("text", AWKWARD_TEXTS)
def test_text_without_links_is_written_exactly_as_the_sanitizer_would_write_it(text):
    assert not has_link(text)
    built = html_from_text(text)
    assert built == sanitize(built)


def test_markup_in_a_text_without_links_stays_text():
    built = html_from_text("Hi <img src=x onerror=alert(1)>,\n\nsee </p><script>x</script>")
    assert "<img" not in built and "<script" not in built
    assert built == "<p>Hi &lt;img src=x onerror=alert(1)&gt;,</p><p>see &lt;/p&gt;&lt;script&gt;x&lt;/script&gt;</p>"


def test_a_link_becomes_a_sanitized_anchor_and_the_rest_is_written_the_same_way():
    plain = html_from_text("Tom & Jerry\xa0say <hi>")
    linked = html_from_text("Tom & Jerry\xa0say <hi>\nwww.scendly.example/demo.")
    assert linked == plain[:-4] + (
        '<br><a href="https://www.scendly.example/demo" rel="noopener noreferrer">www.scendly.example/demo</a>.</p>'
    )


@pytest.mark.parametrize("text, expected", [
    ("see https://x.example", True), ("HTTP://X.EXAMPLE", True), ("WWW.x.example", True),
    ("http without a colon", False), ("www without a dot", False), ("plain text.", False),
])
def test_has_link_agrees_with_the_link_pattern(text, expected):
    assert has_link(text) is expected
