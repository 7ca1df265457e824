"""The SSRF guard: forbidden addresses are refused before any connection is made."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from callauto import outbound

TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture
def strict(settings):
    settings.OUTBOUND_ALLOWLIST = []


@pytest.fixture
def no_connections(monkeypatch):
    """Fail the test if anything opens a socket connection."""

    def refuse(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8000/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://2130706433/x",  # 127.0.0.1 as one decimal number
        "http://0177.0.0.1/x",  # octal
        "http://10.1.2.3/x",
        "http://172.16.0.1/x",
        "http://192.168.1.1/x",
        "http://100.64.0.1/x",  # CGNAT
        "http://169.254.10.10/x",  # link-local
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/x",
        "http://[fe80::1]/x",
        "http://224.0.0.1/x",  # multicast
        "http://0.0.0.0/x",
        "http://[::]/x",
        "http://240.0.0.1/x",  # reserved
    ],
)
def test_forbidden_addresses_are_refused_without_connecting(strict, no_connections, url):
    with pytest.raises(outbound.UnsafeUrl):
        outbound.request("POST", url, timeout=TIMEOUT, content=b"{}")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://x", "/x"])
def test_only_absolute_http_urls_are_allowed(strict, no_connections, url):
    with pytest.raises(outbound.UnsafeUrl):
        outbound.vet(url)


def test_a_name_resolving_to_a_private_address_is_refused(strict, no_connections, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    with pytest.raises(outbound.UnsafeUrl, match=r"10\.0\.0\.7"):
        outbound.request("GET", "https://internal.example.com/x", timeout=TIMEOUT)


def test_one_bad_address_among_several_refuses_the_name(strict, no_connections, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    with pytest.raises(outbound.UnsafeUrl):
        outbound.vet("http://mixed.example.com/")


def test_the_development_allowlist_opens_loopback_but_never_metadata(settings, no_connections):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8", "169.254.0.0/16", "fd00::/8"]

    assert str(outbound.vet("http://127.0.0.1:9/x").address) == "127.0.0.1"
    with pytest.raises(outbound.UnsafeUrl, match="metadata"):
        outbound.vet("http://169.254.169.254/")
    with pytest.raises(outbound.UnsafeUrl, match="metadata"):
        outbound.vet("http://[fd00:ec2::254]/")


def test_a_public_address_is_allowed(strict, monkeypatch):
    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)

    pinned, headers, extensions = outbound.pin("https://app.example.com:8443/cb?x=1")

    assert pinned == "https://93.184.216.34:8443/cb?x=1"
    assert headers == {"Host": "app.example.com:8443"}
    assert extensions == {"sni_hostname": "app.example.com"}


def test_requests_go_to_the_vetted_address_and_redirects_are_not_followed(settings):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers["Host"])
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]
    try:
        port = server.server_port
        response = outbound.request("GET", f"http://localhost:{port}/x", timeout=TIMEOUT)
    finally:
        server.shutdown()

    assert response.status_code == 302  # returned as is: the redirect was not followed
    assert seen == [f"localhost:{port}"]


@pytest.mark.parametrize("url", ["http://[::1", "http://host:99999/", "http://host:port/"])
def test_a_malformed_url_is_refused_not_crashed_on(strict, no_connections, url):
    with pytest.raises(outbound.UnsafeUrl, match="malformed"):
        outbound.vet(url)
