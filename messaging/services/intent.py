"""What a reply says: positive (interest: "sounds good", "let's talk", "send me times"),
negative ("not interested", "remove me") or neutral (anything else: a question, a
"later"). Exit rules read it (a sequence may exit only on a positive reply).

Rule-based on purpose: it runs inside the inbound transaction and must decide the same
way every time. Only the contact's own words count: quoted history ("> …", "On … wrote:")
is cut first, so our own pitch quoted back never reads as their interest. Negative
phrases win over positive ones ("not interested in a call" contains "a call")."""
import re

from ..models import ReplyIntent

_QUOTE_START = re.compile(r"^(on .{0,200} wrote:|-+ ?original message ?-+|from: .+)$", re.IGNORECASE)
NEGATIVE = (
    "not interested", "no thanks", "no thank you", "not a fit", "not a good fit", "unsubscribe", "remove me",
    "stop emailing", "stop contacting", "take me off", "don't contact", "do not contact", "not for us",
    "no need", "please stop", "not relevant", "we're all set", "we are all set", "no interest",
)
POSITIVE = (
    "interested", "sounds good", "sounds great", "let's talk", "lets talk", "let's chat", "happy to chat",
    "book a call", "schedule a call", "set up a call", "set up a meeting", "send me times", "send over some times",
    "what times", "when are you free", "tell me more", "love to learn more", "would like to learn more",
    "keen to", "count me in", "let's do it", "yes please", "sign me up", "happy to meet", "a demo",
)


def own_words(text):
    """The reply without the quoted message it answers."""
    lines = []
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_START.match(stripped):
            break
        lines.append(stripped)
    return " ".join(lines)


def reply_intent(*, subject="", body=""):
    words = f"{subject if not subject.lower().startswith('re:') else ''} {own_words(body)}".lower()
    words = re.sub(r"[’`]", "'", words)
    if any(phrase in words for phrase in NEGATIVE):
        return ReplyIntent.NEGATIVE
    if any(phrase in words for phrase in POSITIVE):
        return ReplyIntent.POSITIVE
    return ReplyIntent.NEUTRAL
