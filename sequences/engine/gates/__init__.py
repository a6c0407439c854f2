"""The gates the processor owns: a step's delay counted from the previous message's
send, the send window, the contact frequency cap and the sender mailbox's limits. Each registers itself in the shared registry (scendcore.gates)
when the sequences app is ready; the processor, the enrollment page and delivery find
them there."""
from scendcore import gates

from .after_sent import AfterSentGate
from .frequency_cap import FrequencyCapGate
from .mailbox import MailboxGate
from .window import WindowGate

AFTER_SENT = gates.register(AfterSentGate())
WINDOW = gates.register(WindowGate())
FREQUENCY_CAP = gates.register(FrequencyCapGate())
MAILBOX = gates.register(MailboxGate())
