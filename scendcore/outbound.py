"""Connections to hosts a workspace chooses (its model server, SMTP and IMAP hosts) and
to the SMS gateway. Every client connects through `connect` (sockets) or `http_request`
(HTTP), so one rule decides where the server may go:

- the name is resolved once; if any address it resolves to is loopback, private,
  link-local, multicast, reserved, unspecified, shared (CGNAT), a cloud metadata address,
  or such an address embedded in IPv6 (mapped, 6to4, NAT64), the connection is refused
  unless the operator lists the host in OUTBOUND_ALLOWED_HOSTS;
- the socket then connects to the very address that was checked, so DNS cannot answer
  differently between the check and the connection (rebinding);
- HTTP never follows redirects and reads at most `max_bytes` of a response.
"""
import http.client
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

# Metadata services answer with the machine's cloud credentials. They are also refused
# when an allow-listed network contains them: only naming the address itself admits one.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
    "169.254.170.2",    # AWS ECS task credentials
    "169.254.169.123",  # AWS time sync
    "fd00:ec2::254",    # AWS over IPv6
    "fd00:ec2::23",
    "100.100.100.200",  # Alibaba Cloud
))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
DEFAULT_MAX_BYTES = 1_000_000


class HostRefused(Exception):
    """The host may not be reached. The message is written for the tenant."""


class ResponseTooLarge(Exception):
    """The server sent more than the caller is willing to read."""


def _normal(host):
    return (host or "").strip().strip("[]").rstrip(".").lower()


def _well_formed(name):
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        return True
    except ValueError:
        pass
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(ascii_name) <= 253 and all(LABEL.match(label) for label in ascii_name.split("."))


def _allow_list():
    names, networks = set(), []
    for entry in getattr(settings, "OUTBOUND_ALLOWED_HOSTS", []):
        entry = _normal(entry)
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            names.add(entry)
    return names, networks


def _embedded_ipv4(ip):
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _is_public(ip):
    embedded = _embedded_ipv4(ip)
    if embedded is not None and not _is_public(embedded):
        return False
    if ip.version == 6 and ip.teredo:
        return False
    return not (
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified or ip in METADATA_ADDRESSES or not ip.is_global
    )


def _admitted(ip, networks):
    if ip in METADATA_ADDRESSES:
        return any(n.num_addresses == 1 and n.network_address == ip for n in networks)
    return any(ip in n for n in networks)


def _refusal(host, ip):
    kind = "is a cloud metadata address on a private network" if ip in METADATA_ADDRESSES else \
        "is on a private network"
    return HostRefused(f"{host} {kind}; ask your operator to allow it.")


def check_addresses(host, port):
    """Resolve `host` once and return the [(family, sockaddr)] that may be connected to.
    Raises HostRefused, or socket.gaierror when the name does not resolve."""
    name = _normal(host)
    if not name:
        raise HostRefused("No host is set.")
    if not _well_formed(name):
        raise HostRefused(f"{host!r} is not a valid host name.")
    names, networks = _allow_list()
    infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    checked = []
    for family, _, _, _, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if name not in names and not _is_public(ip) and not _admitted(ip, networks):
            # No address reveals itself in the message: a tenant must not map the
            # operator's internal DNS through error texts.
            raise _refusal(host, ip)
        if (family, sockaddr) not in checked:
            checked.append((family, sockaddr))
    return checked


def connect(host, port, *, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """A TCP socket to `host`, connected to an address that passed the check."""
    error = None
    for family, sockaddr in check_addresses(host, port):
        try:
            return socket.create_connection(sockaddr[:2], timeout, source_address)
        except OSError as exc:
            error = exc
    raise error


def validate_host(host):
    """Save-time check for forms: refuses a host that resolves to a forbidden address
    now. A name that does not resolve is left to the run-time check."""
    if not host:
        return
    try:
        check_addresses(host, None)
    except HostRefused as exc:
        raise ValidationError(str(exc)) from None
    except OSError:
        pass


def validate_url(url):
    try:
        host = urlsplit(url or "").hostname
    except ValueError:
        return  # not a URL at all: the URL field's own validation says so
    validate_host(host)


# ---------------------------------------------------------------- HTTP


class _CheckedConnectionMixin:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = self._checked_connection

    def _checked_connection(self, address, timeout, source_address):
        return connect(address[0], address[1], timeout=timeout, source_address=source_address)


class CheckedHTTPConnection(_CheckedConnectionMixin, http.client.HTTPConnection):
    pass


class CheckedHTTPSConnection(_CheckedConnectionMixin, http.client.HTTPSConnection):
    """TLS still verifies the certificate against the host name, not the address."""


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


def http_request(url, *, method="GET", body=None, headers=None, timeout=30, max_bytes=DEFAULT_MAX_BYTES):
    """One HTTP exchange: no redirects followed (a 3xx is returned as it is), at most
    `max_bytes` of body read (ResponseTooLarge beyond)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise HostRefused(f"{url!r} is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostRefused("Only http and https URLs with a host can be used.")
    if parts.scheme == "https":
        connection = CheckedHTTPSConnection(parts.hostname, port, timeout=timeout,
                                            context=ssl.create_default_context())
    else:
        connection = CheckedHTTPConnection(parts.hostname, port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes.")
        data = response.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes.")
        return Response(status=response.status, headers=response.headers, body=data)
    finally:
        connection.close()
