"""The outbound client the connectors use (services/outbound.py): which addresses it will call,
that it connects to the address it checked while TLS still checks the name, and that a server
cannot keep it waiting or feed it without end. Against real servers on loopback (with TLS,
from a certificate authority made for the test); DNS is played by the test."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from memoryos_server.errors import OutboundCallFailed
from memoryos_server.services.outbound import AddressPolicy, OutboundHttp
from memoryos_server.settings import Settings


@pytest.mark.parametrize(
    ("address", "default", "loopback", "private"),
    [
        ("93.184.216.34", True, True, True),
        ("2606:2800:220:1:248:1893:25c8:1946", True, True, True),
        ("127.0.0.1", False, True, False),
        ("127.9.9.9", False, True, False),
        ("::1", False, True, False),
        ("::ffff:127.0.0.1", False, True, False),  # IPv4 written as IPv6 is judged as IPv4
        ("2002:7f00:1::", False, True, False),  # 6to4 around 127.0.0.1
        ("64:ff9b::a00:1", False, False, True),  # NAT64 around 10.0.0.1
        ("10.1.2.3", False, False, True),
        ("172.16.0.1", False, False, True),
        ("192.168.0.1", False, False, True),
        ("100.64.0.1", False, False, True),
        ("fd00::1", False, False, True),
        ("169.254.169.254", False, False, False),  # link-local: cloud metadata, never
        ("fe80::1", False, False, False),
        ("0.0.0.0", False, False, False),
        ("224.0.0.1", False, False, False),
    ],
)
def test_which_addresses_may_be_called(address: str, default: bool, loopback: bool, private: bool) -> None:
    ip = ipaddress.ip_address(address)
    assert AddressPolicy().permits(ip) is default
    assert AddressPolicy(allow_loopback=True).permits(ip) is loopback
    assert AddressPolicy(allow_private=True).permits(ip) is (private or default)


# --- a TLS server for a name, on loopback ---------------------------------------------------------------


@dataclass
class Authority:
    key: Any
    cert: x509.Certificate

    def issue(self, name: str, directory: Path) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return cert_path, key_path

    def trust(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        context.load_verify_locations(cadata=self.cert.public_bytes(serialization.Encoding.PEM).decode())
        return context


def _authority() -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MemoryOS test authority")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Authority(key, cert)


class Seen:
    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.sni: list[str | None] = []


def _serve(seen: Seen, tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — the http.server API
            seen.hosts.append(self.headers.get("Host", ""))
            if self.path == "/ok":
                self._send(200, b'{"ok": true}', "application/json")
            elif self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/gzip":
                self._send(200, b"\x1f\x8b not really", "application/json", {"Content-Encoding": "gzip"})
            elif self.path == "/declared-huge":
                self.send_response(200)
                self.send_header("Content-Length", str(50_000_000))
                self.end_headers()
                self.wfile.write(b"x" * 1000)
            elif self.path == "/drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                try:
                    for _ in range(20):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.3)
                except OSError:
                    return

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def authority() -> Authority:
    return _authority()


@pytest.fixture
def tls_server(authority: Authority, tmp_path: Path) -> Iterator[tuple[ThreadingHTTPServer, Seen]]:
    cert, key = authority.issue("idp.example", tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    seen = Seen()
    context.sni_callback = lambda _sock, name, _ctx: seen.sni.append(name)  # type: ignore[assignment]
    server = _serve(seen, context)
    yield server, seen
    server.shutdown()
    server.server_close()


def _client(authority: Authority | None = None, **settings: Any) -> tuple[OutboundHttp, dict[str, list[str]]]:
    names: dict[str, list[str]] = {}
    values: dict[str, Any] = {"allow_insecure_oauth": True, "connector_timeout_seconds": 1.0, **settings}
    client = OutboundHttp(
        Settings(**values), resolver=lambda host, _port: names[host], ssl_context=authority.trust() if authority else None
    )
    return client, names


def test_it_connects_to_the_checked_address_and_tls_still_checks_the_name(authority: Authority, tls_server) -> None:  # type: ignore[no-untyped-def]
    server, seen = tls_server
    port = server.server_address[1]
    client, names = _client(authority)
    names["idp.example"] = ["127.0.0.1"]
    reply = client.request("GET", f"https://idp.example:{port}/ok")
    assert reply.status == 200 and reply.json_object() == {"ok": True}
    assert seen.hosts == [f"idp.example:{port}"] and seen.sni == ["idp.example"]

    # Another name at the same address: the certificate does not match it, so no answer is taken.
    names["impostor.example"] = ["127.0.0.1"]
    with pytest.raises(OutboundCallFailed) as refused:
        client.request("GET", f"https://impostor.example:{port}/ok")
    assert refused.value.reason == "unreachable"
    assert seen.hosts == [f"idp.example:{port}"]


def test_redirects_are_not_followed_and_encodings_not_undone(authority: Authority, tls_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = tls_server
    port = server.server_address[1]
    client, names = _client(authority)
    names["idp.example"] = ["127.0.0.1"]
    assert client.request("GET", f"https://idp.example:{port}/redirect").status == 302
    with pytest.raises(OutboundCallFailed) as encoded:
        client.request("GET", f"https://idp.example:{port}/gzip")
    assert encoded.value.reason == "invalid_response"


def test_a_server_cannot_keep_it_waiting_or_feed_it_without_end() -> None:
    seen = Seen()
    server = _serve(seen)
    port = server.server_address[1]
    client, _ = _client()
    try:
        began = time.monotonic()
        with pytest.raises(OutboundCallFailed) as dripping:
            client.request("GET", f"http://127.0.0.1:{port}/drip")
        assert dripping.value.reason == "timeout" and time.monotonic() - began < 2.5
        with pytest.raises(OutboundCallFailed) as declared:
            client.request("GET", f"http://127.0.0.1:{port}/declared-huge")
        assert declared.value.reason == "too_large"
    finally:
        server.shutdown()
        server.server_close()


def test_every_address_of_a_name_is_checked_and_the_next_one_tried() -> None:
    seen = Seen()
    server = _serve(seen)
    port = server.server_address[1]
    client, names = _client()
    try:
        # ::1 first, where nothing listens on that port: the next address answers.
        names["both.example"] = ["::1", "127.0.0.1"]
        assert client.request("GET", f"http://both.example:{port}/ok").status == 200
        names["sneaky.example"] = ["127.0.0.1", "10.0.0.1"]
        with pytest.raises(OutboundCallFailed) as refused:
            client.request("GET", f"http://sneaky.example:{port}/ok")
        assert refused.value.reason == "address_refused"
        assert len(seen.hosts) == 1
    finally:
        server.shutdown()
        server.server_close()
