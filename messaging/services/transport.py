"""SMTP and IMAP clients for the hosts a mailbox names. They are the standard library's,
except that the socket comes from scendcore.outbound: the host is checked against the
outbound rule after resolution and the connection goes to the address checked, while
TLS still verifies the certificate against the host name."""
import imaplib
import smtplib
import socket
import ssl

from django.core.mail.backends.smtp import EmailBackend

from scendcore import credentials, outbound


class GuardedSMTP(smtplib.SMTP):
    def _get_socket(self, host, port, timeout):
        return outbound.connect(host, port, timeout=timeout, source_address=self.source_address)


class GuardedSMTPSSL(smtplib.SMTP_SSL):
    def _get_socket(self, host, port, timeout):
        sock = outbound.connect(host, port, timeout=timeout, source_address=self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._host)


class GuardedSmtpBackend(EmailBackend):
    """Django's SMTP backend over the guarded clients."""

    @property
    def connection_class(self):
        return GuardedSMTPSSL if self.use_ssl else GuardedSMTP


class GuardedIMAP4(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return outbound.connect(self.host, self.port, timeout=timeout)


class GuardedIMAP4SSL(imaplib.IMAP4_SSL):
    def _create_socket(self, timeout):
        sock = outbound.connect(self.host, self.port, timeout=timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap_client(mailbox, *, timeout=30):
    cls = GuardedIMAP4SSL if mailbox.imap_use_ssl else GuardedIMAP4
    return cls(mailbox.imap_host, mailbox.imap_port, timeout=timeout)


# What a tenant is told when talking to the mail server failed: a category, never the
# server's own reply or banner. A tenant picks the host, so whatever answers there (an
# internal service, if the operator allowed its network) must not be readable through
# this message. The first matching class wins: subclasses come before their bases.
SMTP_FAILURES = (
    (smtplib.SMTPAuthenticationError, "The server refused the login; check the username and password."),
    (smtplib.SMTPRecipientsRefused, "The server refused the recipient address."),
    (smtplib.SMTPSenderRefused, "The server refused the sender address."),
    (smtplib.SMTPDataError, "The server refused the message."),
    (smtplib.SMTPHeloError, "The server refused the greeting."),
    (smtplib.SMTPNotSupportedError, "The server does not offer what this mailbox needs (STARTTLS or login)."),
    (smtplib.SMTPServerDisconnected, "The server closed the connection unexpectedly."),
    (smtplib.SMTPResponseException, "The server answered with an error."),
    (smtplib.SMTPException, "The conversation with the server failed."),
    (ssl.SSLCertVerificationError, "The server's TLS certificate could not be verified."),
    (ssl.SSLError, "The secure (TLS) connection failed."),
    (TimeoutError, "The server did not answer in time."),
    (ConnectionRefusedError, "Could not connect: nothing accepts connections on that host and port."),
    (socket.gaierror, "Could not connect: the host name does not resolve."),
    (OSError, "Could not connect to the server."),
    (ValueError, "The test email could not be built."),
)
SEND_TEST_ERRORS = (smtplib.SMTPException, OSError, ValueError, outbound.HostRefused, credentials.SecretUnavailable)


def failure_category(exc):
    if isinstance(exc, (outbound.HostRefused, credentials.SecretUnavailable)):
        return str(exc)  # our own words
    if isinstance(exc, smtplib.SMTPConnectError):
        return ("The host did not answer like an SMTP server." if exc.smtp_code < 0
                else "The server refused the connection.")
    return next((message for cls, message in SMTP_FAILURES if isinstance(exc, cls)), "The test email could not be sent.")
