"""Text from outside (mail, uploads, webhooks) made storable. PostgreSQL text and jsonb
cannot hold NUL, and UTF-8 cannot encode the lone surrogates Python's email parser uses
for bytes it could not decode: either one makes the INSERT fail."""
import re

REPLACEMENT = "\ufffd"
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def db_text(value):
    """`value` with every character PostgreSQL cannot store replaced by U+FFFD, so the
    reader still sees that something was there."""
    if not value:
        return value or ""
    return UNSTORABLE.sub(REPLACEMENT, value)
