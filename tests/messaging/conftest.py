"""Fixtures for messaging tests: a real SMTP server (aiosmtpd, in-process, on a free
port), a sequence with a mailbox pointing at it, and helpers to build messages."""
import email
import email.policy
import threading

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

from messaging.models import MessageState, OutboundMessage
from tests.factories import (
    ContactFactory, EnrollmentFactory, MailboxFactory, SequenceFactory, StepFactory,
)


class FreePortController(Controller):
    """aiosmtpd's readiness check connects to the configured port, which fails for
    port 0: read the port the OS actually bound first."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class CountingController(FreePortController):
    def __init__(self, handler, **kwargs):
        super().__init__(handler, **kwargs)
        self.connections = 0
        self._count_lock = threading.Lock()

    def factory(self):
        with self._count_lock:
            self.connections += 1
        return SMTP(self.handler, **self.SMTP_kwargs)


class RecordingHandler:
    def __init__(self):
        self.envelopes = []
        self.rcpt_replies = {}  # address -> SMTP reply, e.g. "550 5.1.1 No such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        return [email.message_from_bytes(e.content, policy=email.policy.default) for e in self.envelopes]


class RecordingAuthenticator:
    """Accepts every login and remembers it; `refuse` answers the next logins with
    the given reply instead."""

    def __init__(self):
        self.logins = []
        self.refusal = None

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        if self.refusal:
            return AuthResult(success=False, handled=False, message=self.refusal)
        return AuthResult(success=True)


class SmtpServer:
    def __init__(self, controller, handler):
        self.controller, self.handler = controller, handler

    @property
    def port(self):
        return self.controller.port

    @property
    def connections(self):
        return self.controller.connections

    @property
    def messages(self):
        return self.handler.messages

    def reject(self, address, reply):
        self.handler.rcpt_replies[address.lower()] = reply

    @property
    def logins(self):
        return self.controller.SMTP_kwargs["authenticator"].logins

    def refuse_logins(self, reply):
        self.controller.SMTP_kwargs["authenticator"].refusal = reply


@pytest.fixture
def smtp_server(loopback_allowed):
    handler = RecordingHandler()
    controller = CountingController(handler, hostname="127.0.0.1", port=0)
    controller.start()
    controller.connections = 0  # start() itself connects once to check readiness
    try:
        yield SmtpServer(controller, handler)
    finally:
        controller.stop()


@pytest.fixture
def auth_smtp_server(loopback_allowed):
    """An SMTP server that offers AUTH (without TLS, for the test) and records logins."""
    handler = RecordingHandler()
    controller = CountingController(handler, hostname="127.0.0.1", port=0,
                                    authenticator=RecordingAuthenticator(), auth_require_tls=False)
    controller.start()
    controller.connections = 0
    try:
        yield SmtpServer(controller, handler)
    finally:
        controller.stop()


@pytest.fixture
def mailbox(tenant, smtp_server):
    return MailboxFactory(
        tenant=tenant, name="Sales", from_name="Sam Seller", from_email="sam@scendly.example",
        smtp_host="127.0.0.1", smtp_port=smtp_server.port, tls_mode="none",
        reply_to="replies@scendly.example",
    )


@pytest.fixture
def sequence(tenant, mailbox):
    return SequenceFactory(tenant=tenant, sender_profile=mailbox, status="active")


@pytest.fixture
def no_frequency_cap(tenant):
    tenant.frequency_cap_messages = 0
    tenant.save(update_fields=["frequency_cap_messages"])
    return tenant


def make_message(*, tenant, contact=None, enrollment=None, step=None, sequence=None, state=MessageState.QUEUED,
                 subject="Quick question", body_text="Hi there,\nsee https://scendly.example/demo for a demo.",
                 body_html="", channel="email", mailbox=None, key=None, **extra):
    if enrollment is None:
        sequence = sequence or SequenceFactory(tenant=tenant)
        contact = contact or ContactFactory(tenant=tenant)
        enrollment = EnrollmentFactory(tenant=tenant, sequence=sequence, contact=contact)
    contact = enrollment.contact
    step = step or StepFactory(sequence=enrollment.sequence)
    return OutboundMessage.objects.create(
        tenant=tenant, enrollment=enrollment, step=step, contact=contact,
        idempotency_key=key or f"{enrollment.pk}:{step.pk}:1", channel=channel, state=state,
        to_address=contact.phone if channel == "sms" else contact.email,
        subject=subject, body_text=body_text, body_html=body_html, mailbox=mailbox, **extra,
    )
