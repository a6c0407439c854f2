"""The outbound guard every client uses for hosts a tenant chooses: private, loopback,
link-local, metadata and other non-public addresses are refused after DNS resolution
unless the operator allow-lists them, and the connection goes to the address checked."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from scendcore import outbound

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def closed(settings):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    return settings


@pytest.fixture
def dns(monkeypatch):
    """DNS is outside the machine: names in `answers` resolve to the listed addresses
    (a list per lookup, the last one repeating), numeric hosts as usual."""

    class FakeDns:
        answers = {}
        lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name in FakeDns.answers:
            FakeDns.lookups.append(name)
            rounds = FakeDns.answers[name]
            addresses = rounds[min(len(FakeDns.lookups_of(name)) - 1, len(rounds) - 1)]
            return [item for address in addresses for item in REAL_GETADDRINFO(address, port, *args, **kwargs)]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    FakeDns.lookups_of = staticmethod(lambda name: [n for n in FakeDns.lookups if n == name])
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return FakeDns


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


REFUSED = [
    "127.0.0.1", "127.1", "2130706433", "localhost", "10.0.0.5", "172.16.3.4", "192.168.1.10", "100.64.0.1",
    "169.254.169.254", "0.0.0.0", "224.0.0.1", "240.0.0.1", "::1", "::", "fe80::1", "fd00:ec2::254",
    "fc00::5", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:a00:1::1", "ff02::1",
]


@pytest.mark.parametrize("host", REFUSED)
def test_non_public_addresses_are_refused_before_connecting(host, closed, listener):
    with pytest.raises(outbound.HostRefused, match="private network; ask your operator to allow it"):
        outbound.connect(host, listener, timeout=2)


def test_a_hostname_resolving_to_a_private_address_is_refused(closed, dns):
    dns.answers = {"intranet.example": [["10.1.2.3"]], "mixed.example": [["93.184.215.14", "192.168.0.7"]]}
    for name in dns.answers:
        with pytest.raises(outbound.HostRefused, match=name):
            outbound.connect(name, 25, timeout=2)


def test_the_message_does_not_reveal_the_address_a_name_resolved_to(closed, dns):
    dns.answers = {"db.intranet.example": [["10.20.30.40"]]}
    with pytest.raises(outbound.HostRefused) as refused:
        outbound.connect("db.intranet.example", 5432, timeout=2)
    assert "10.20.30.40" not in str(refused.value)


def test_a_host_the_operator_allow_lists_by_name_is_reached(settings, dns, listener):
    settings.OUTBOUND_ALLOWED_HOSTS = ["llm.internal"]
    dns.answers = {"llm.internal": [["127.0.0.1"]], "other.internal": [["127.0.0.1"]]}
    outbound.connect("LLM.internal.", listener, timeout=2).close()
    with pytest.raises(outbound.HostRefused):
        outbound.connect("other.internal", listener, timeout=2)


def test_a_network_on_the_allow_list_admits_its_addresses_but_never_a_metadata_address(settings, listener):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8", "169.254.0.0/16"]
    outbound.connect("127.0.0.1", listener, timeout=2).close()
    with pytest.raises(outbound.HostRefused, match="metadata"):
        outbound.connect("169.254.169.254", 80, timeout=2)
    settings.OUTBOUND_ALLOWED_HOSTS = ["169.254.169.254"]
    outbound.check_addresses("169.254.169.254", 80)  # named exactly: the operator's explicit choice


def test_the_connection_goes_to_the_address_checked_without_a_second_lookup(settings, dns, listener):
    """DNS rebinding: the second answer would be a private address the first check never saw."""
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.0/8"]
    dns.answers = {"rebind.example": [["127.0.0.1"], ["10.9.9.9"]]}
    sock = outbound.connect("rebind.example", listener, timeout=2)
    assert sock.getpeername()[0] == "127.0.0.1"
    sock.close()
    assert dns.lookups_of("rebind.example") == ["rebind.example"]


def test_an_unresolvable_name_passes_the_save_time_check_and_fails_to_connect(closed):
    outbound.validate_host("smtp.nowhere.invalid")
    with pytest.raises(OSError):
        outbound.connect("smtp.nowhere.invalid", 25, timeout=2)


class _Server:
    def __init__(self, respond):
        self.requests = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                owner.requests.append((self.command, self.path, self.rfile.read(length)))
                status, headers, body = respond(self)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_servers(loopback_allowed):
    started = []

    def start(respond):
        started.append(_Server(respond))
        return started[-1]

    yield start
    for server in started:
        server.close()


def test_http_requests_never_follow_a_redirect(http_servers):
    internal = http_servers(lambda h: (200, {}, b"internal secret"))
    redirecting = http_servers(lambda h: (302, {"Location": f"{internal.url}/latest/meta-data/"}, b""))

    response = outbound.http_request(f"{redirecting.url}/v1/chat", method="POST", body=b"{}",
                                     headers={"Content-Type": "application/json"}, timeout=2)

    assert response.status == 302 and response.body == b""
    assert internal.requests == []


def test_an_http_body_over_the_cap_is_refused(http_servers):
    big = http_servers(lambda h: (200, {}, json.dumps({"pad": "x" * 5000}).encode()))
    with pytest.raises(outbound.ResponseTooLarge):
        outbound.http_request(f"{big.url}/", method="GET", timeout=2, max_bytes=1000)
    assert outbound.http_request(f"{big.url}/", method="GET", timeout=2, max_bytes=10_000).status == 200


def test_http_requests_to_a_private_host_are_refused_before_connecting(http_servers, settings):
    server = http_servers(lambda h: (200, {}, b"ok"))
    settings.OUTBOUND_ALLOWED_HOSTS = []
    with pytest.raises(outbound.HostRefused):
        outbound.http_request(f"{server.url}/", method="GET", timeout=2)
    assert server.requests == []


@pytest.mark.parametrize("host", ["a" * 300 + ".example", "smtp\x00.example", "x..y"])
def test_a_malformed_host_is_refused_with_a_message_not_an_exception(host, closed):
    with pytest.raises(ValidationError):
        outbound.validate_host(host)
    with pytest.raises(outbound.HostRefused):
        outbound.connect(host, 25, timeout=2)


def test_a_malformed_url_is_left_to_the_url_field_and_refused_at_run_time(closed):
    outbound.validate_url("http://[::1")
    with pytest.raises(outbound.HostRefused):
        outbound.http_request("http://example.com:99999/", timeout=2)
