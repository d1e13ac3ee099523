"""Clients known by a Client ID Metadata Document: an https URL we fetch when the consent screen is
shown, under the rules for any outbound call a stranger can trigger. The document is served by a
real https server on loopback with a certificate of its own; the server under test trusts that
certificate through ``MEMORYOS_MCP_CLIENT_METADATA_CA_FILE``, and loopback only where allowed.
Both databases."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from tests.fixtures.contract import check_contract
from tests.fixtures.mcp_oauth import REDIRECT_URI, call, consent, pkce, token
from tests.fixtures.pages import signed_in_browser, text_of
from tests.fixtures.passport import PassportHandle, new_passport  # noqa: F401


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


@dataclasses.dataclass
class DocumentHost:
    """An MCP client's website on loopback, over https: serves its metadata documents."""

    url: str
    ca_file: Path
    documents: dict[str, tuple[int, dict[str, str], bytes]]
    hits: list[str]

    def publish(self, path: str, document: dict[str, Any] | None = None, *, status: int = 200, headers: dict[str, str] | None = None, body: bytes | None = None) -> str:
        url = f"{self.url}{path}"
        content = body if body is not None else json.dumps({"client_id": url, **(document or {})}).encode()
        self.documents[path] = (status, {"Content-Type": "application/json", **(headers or {})}, content)
        return url


@pytest.fixture(scope="module")
def document_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentHost]:
    cert_path, key_path = _certificate(tmp_path_factory.mktemp("tls"))
    documents: dict[str, tuple[int, dict[str, str], bytes]] = {}
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — the http.server API
            hits.append(self.path)
            status, headers, body = documents.get(self.path, (404, {"Content-Type": "text/plain"}, b"no"))
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield DocumentHost(f"https://127.0.0.1:{server.server_address[1]}", cert_path, documents, hits)
    server.shutdown()
    server.server_close()


@pytest.fixture
def trusting(runtime: Runtime, document_host: DocumentHost) -> Iterator[TestClient]:
    """A server that may fetch from this network and trusts the document host's certificate."""
    settings = runtime.settings.model_copy(
        update={"mcp_client_metadata_allow_private_addresses": True, "mcp_client_metadata_ca_file": document_host.ca_file}
    )
    app = check_contract(create_app(settings, runtime=dataclasses.replace(runtime, settings=settings), migrate=False))
    with TestClient(app) as test_client:
        yield test_client


def _browser(test_client: TestClient, settings: Settings, new_passport: Callable[..., PassportHandle]) -> TestClient:  # noqa: F811
    return signed_in_browser(test_client.app, settings.resolved_outbox_dir, new_passport().email)  # type: ignore[arg-type]


GOOD = {"client_name": "Doc Client", "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}


def test_a_client_known_by_its_metadata_document_connects(
    trusting: TestClient, document_host: DocumentHost, settings: Settings, new_passport: Callable[..., PassportHandle]  # noqa: F811
) -> None:
    client_id = document_host.publish("/apps/doc-client.json", GOOD)
    browser = _browser(trusting, settings, new_passport)
    page = browser.get("/authorize", params={"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
                                             "code_challenge": pkce()[1], "code_challenge_method": "S256"})
    assert page.status_code == 200 and "Doc Client wants to use your Memory Passport" in text_of(page.text)
    verifier, query, _ = consent(browser, client_id, categories=["goal"])
    exchanged = token(trusting, grant_type="authorization_code", code=query["code"], redirect_uri=REDIRECT_URI,
                      client_id=client_id, code_verifier=verifier)
    assert exchanged.status_code == 200, exchanged.text
    assert call(trusting, exchanged.json()["access_token"], "tools/list").status_code == 200


@pytest.mark.parametrize(
    ("document", "extra", "says"),
    [
        ({**GOOD, "client_id": "https://someone-else.example/client.json"}, {}, "names another client_id"),
        ({**GOOD, "token_endpoint_auth_method": "client_secret_basic"}, {}, "authenticates with none"),
        ({**GOOD, "redirect_uris": ["http://evil.example/cb"]}, {}, "may use http only on a loopback address"),
        (None, {"status": 302, "headers": {"Location": "https://example.org/client.json"}}, "redirects are not followed"),
        (None, {"headers": {"Content-Type": "text/html"}}, "not served as application/json"),
        (None, {"body": b"[1, 2, 3]"}, "not a JSON object"),
        (None, {"body": b'{"client_id": "' + b"x" * 20_000 + b'"}'}, "larger than"),
    ],
)
def test_a_bad_document_is_explained_and_nothing_is_stored(
    trusting: TestClient, document_host: DocumentHost, settings: Settings, new_passport: Callable[..., PassportHandle],  # noqa: F811
    document: dict[str, Any] | None, extra: dict[str, Any], says: str,
) -> None:
    path = f"/apps/bad-{len(document_host.documents)}.json"
    if document is not None:
        url = document_host.publish(path, document)
        if document.get("client_id", "").startswith("https://someone-else"):
            document_host.documents[path] = (200, {"Content-Type": "application/json"}, json.dumps(document).encode())
    else:
        url = document_host.publish(path, GOOD, **extra)
    browser = _browser(trusting, settings, new_passport)
    page = browser.get("/authorize", params={"response_type": "code", "client_id": url, "redirect_uri": REDIRECT_URI,
                                             "code_challenge": pkce()[1], "code_challenge_method": "S256"}, follow_redirects=False)
    assert page.status_code == 400 and "location" not in page.headers
    assert says in text_of(page.text)


def test_private_addresses_are_not_fetched_unless_allowed(
    client: TestClient, document_host: DocumentHost, settings: Settings, new_passport: Callable[..., PassportHandle]  # noqa: F811
) -> None:
    url = document_host.publish("/apps/private.json", GOOD)
    before = len(document_host.hits)
    browser = _browser(client, settings, new_passport)
    page = browser.get("/authorize", params={"response_type": "code", "client_id": url, "redirect_uri": REDIRECT_URI,
                                             "code_challenge": pkce()[1], "code_challenge_method": "S256"})
    assert page.status_code == 400 and "private or local network" in text_of(page.text)
    assert len(document_host.hits) == before  # no request left this server
    for refused in ("http://127.0.0.1/client.json", "https://127.0.0.1:1/", "https://user:pw@example.org/c.json"):
        answer = browser.get("/authorize", params={"response_type": "code", "client_id": refused, "redirect_uri": REDIRECT_URI})
        assert answer.status_code == 400


def test_fetches_are_rate_limited_per_address(
    runtime: Runtime, document_host: DocumentHost, settings: Settings, new_passport: Callable[..., PassportHandle]  # noqa: F811
) -> None:
    limited = runtime.settings.model_copy(
        update={"mcp_client_metadata_allow_private_addresses": True, "mcp_client_metadata_ca_file": document_host.ca_file,
                "mcp_client_metadata_fetches_per_ip_per_hour": 2}
    )
    app = create_app(limited, runtime=dataclasses.replace(runtime, settings=limited), migrate=False)
    url = document_host.publish("/apps/limited.json", GOOD)
    with TestClient(app):
        browser = _browser(TestClient(app), settings, new_passport)
        params = {"response_type": "code", "client_id": url, "redirect_uri": REDIRECT_URI, "code_challenge": pkce()[1], "code_challenge_method": "S256"}
        before = len(document_host.hits)
        answers = [browser.get("/authorize", params=params).status_code for _ in range(3)]
        assert answers == [200, 200, 429] and len(document_host.hits) == before + 2
