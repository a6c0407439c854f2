"""IMAP polling against a small local IMAP server (real sockets, real imaplib)."""
import socketserver
import threading

import pytest
from django.utils import timezone

from messaging.models import InboundMessage, Mailbox, MessageState
from messaging.services import crypto
from messaging.services.imap import imap_poll
from messaging.tasks import poll_imap_all

from .conftest import make_message
from .test_inbound import reply_mime

pytestmark = pytest.mark.django_db


class FakeImap(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, messages):
        self.messages = messages  # uid -> raw bytes
        self.logins = []
        super().__init__(("127.0.0.1", 0), ImapHandler)


class ImapHandler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")

    def handle(self):
        self.send("* OK fake IMAP ready")
        while True:
            line = self.rfile.readline().decode().strip()
            if not line:
                return
            tag, command, *args = line.split(" ")
            command = command.upper()
            if command == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
            elif command == "LOGIN":
                self.server.logins.append(args)
            elif command in ("SELECT", "EXAMINE"):
                self.send(f"* {len(self.server.messages)} EXISTS")
                self.send(f"{tag} OK [READ-ONLY] done")
                continue
            elif command == "UID" and args[0].upper() == "SEARCH":
                low = int(args[2].split(":")[0])
                uids = [str(u) for u in sorted(self.server.messages) if u >= low]
                self.send("* SEARCH " + " ".join(uids))
            elif command == "UID" and args[0].upper() == "FETCH":
                uid = int(args[1])
                raw = self.server.messages[uid]
                self.send(f"* {uid} FETCH (UID {uid} RFC822 {{{len(raw)}}}".encode() + b"\r\n" + raw + b")\r\n")
            elif command == "LOGOUT":
                self.send("* BYE")
                self.send(f"{tag} OK bye")
                return
            self.send(f"{tag} OK done")


@pytest.fixture
def imap_mailbox(tenant, loopback_allowed):
    def build(messages):
        server = FakeImap(messages)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        mailbox = Mailbox.objects.create(
            tenant=tenant, name="Replies", from_name="Sam", from_email="sam@scendly.example",
            imap_enabled=True, imap_host="127.0.0.1", imap_port=server.server_address[1], imap_use_ssl=False,
            imap_username="sam", imap_password_encrypted=crypto.encrypt("imap-pass"),
        )
        built.append(server)
        return mailbox, server

    built = []
    yield build
    for server in built:
        server.shutdown()
        server.server_close()


def test_polling_records_new_replies_once_and_remembers_the_last_uid(tenant, imap_mailbox):
    sent = make_message(tenant=tenant, state=MessageState.SENT, message_id="<first@scendly.example>",
                        sent_at=timezone.now())
    mailbox, server = imap_mailbox({7: reply_mime(sent), 9: b"garbage without headers"})

    counts = imap_poll(tenant_id=tenant.pk, mailbox_id=mailbox.pk)

    assert counts == {"processed": 1, "unmatched": 0, "malformed": 1, "quarantined": 0}
    assert [[arg.strip('"') for arg in login] for login in server.logins] == [["sam", "imap-pass"]]
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == 9
    assert InboundMessage.objects.get(tenant=tenant).matched_message == sent
    assert imap_poll(tenant_id=tenant.pk, mailbox_id=mailbox.pk)["processed"] == 0
    assert InboundMessage.objects.count() == 1


def test_the_periodic_task_polls_only_imap_enabled_mailboxes(tenant, imap_mailbox, celery_eager):
    sent = make_message(tenant=tenant, state=MessageState.SENT, message_id="<x@scendly.example>",
                        sent_at=timezone.now())
    mailbox, _ = imap_mailbox({3: reply_mime(sent)})
    Mailbox.objects.create(tenant=tenant, name="No IMAP", from_name="A", from_email="a@scendly.example")

    poll_imap_all.delay()

    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == 3
    assert InboundMessage.objects.filter(classification="reply").count() == 1


def test_another_tenants_mailbox_id_is_not_polled_for_us(tenant, other_tenant, imap_mailbox):
    mailbox, _ = imap_mailbox({})
    with pytest.raises(Mailbox.DoesNotExist):
        imap_poll(tenant_id=other_tenant.pk, mailbox_id=mailbox.pk)
