"""MCP clients: registered dynamically (RFC 7591) or known by a metadata document URL.

An MCP client is an agent without an organisation. Each one gets a ``global_agents`` row of kind
``mcp_client`` (no tenant, no key: its key hash is one no key maps to), so a person's grant to it,
the pairwise identity, the activity and the memory versions it writes are an agent's, and every
rule that holds for agents holds for it. What the OAuth side needs (redirect URIs, how it
authenticates at the token endpoint, a secret's hash) is in ``mcp_clients``.

Nothing a client says about itself is verified: its name is shown to the person as the client's
own claim, beside where the answer will be sent, under a warning.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from memoryos_server.crypto import random_token
from memoryos_server.errors import OAuthError
from memoryos_server.services.passport.agents import AGENT_KIND_MCP_CLIENT
from memoryos_server.services.passport.mcp_auth.documents import ClientMetadataFetcher, is_metadata_document_url
from memoryos_server.services.passport.mcp_auth.scopes import parse_scope
from memoryos_server.services.ratelimit import RateLimiter
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import GlobalAgent, McpClient
from memoryos_server.storage.repositories.mcp import McpClientRepository
from memoryos_server.storage.types import utcnow

CLIENT_ID_PREFIX = "mcpc_"
CLIENT_SECRET_PREFIX = "mcpcs_"
AUTH_METHODS = ("none", "client_secret_post", "client_secret_basic")
REGISTRATION_DYNAMIC = "dynamic"
REGISTRATION_DOCUMENT = "metadata_document"
UNREGISTERED = "unregistered"  # the verification status of an MCP client's agent row
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_REDIRECT_URIS = 10
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*$")
# Schemes a browser must never be sent to with a code: they run or read something locally.
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob", "filesystem", "ftp", "ws", "wss"})
_HOUR = 3600


@dataclass(frozen=True)
class ClientView:
    client: McpClient
    agent: GlobalAgent

    @property
    def client_id(self) -> str:
        return self.client.client_id

    @property
    def name(self) -> str:
        return self.agent.name


@dataclass(frozen=True)
class Registered:
    view: ClientView
    client_secret: str | None  # shown once


def _invalid(error: str, description: str) -> OAuthError:
    return OAuthError(error, description)


def check_registered_redirect_uri(value: Any) -> str:
    """A redirect URI a client may register: https; http only on a loopback address (RFC 8252
    §7.3); or a native app's private-use scheme (§7.1). Never a fragment."""
    if not isinstance(value, str) or not value or len(value) > 2000 or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in value):
        raise _invalid("invalid_redirect_uri", "each redirect URI must be a URL of at most 2000 characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError as exc:
        raise _invalid("invalid_redirect_uri", f"{value[:100]!r} is not a URL") from exc
    scheme = parts.scheme.lower()
    problem = None
    if parts.fragment:
        problem = "must not have a fragment"
    elif parts.username or parts.password:
        problem = "must not carry a user name or password"
    elif scheme == "https":
        problem = None if parts.hostname else "needs a host"
    elif scheme == "http":
        problem = None if parts.hostname in LOOPBACK_HOSTS else "may use http only on a loopback address (127.0.0.1, [::1], localhost)"
    elif scheme in _FORBIDDEN_SCHEMES or not _SCHEME.match(scheme):
        problem = "uses a scheme a browser must not be sent to"
    if problem:
        raise _invalid("invalid_redirect_uri", f"the redirect URI {value[:100]!r} {problem}")
    return value


def redirect_uri_matches(registered: str, requested: str) -> bool:
    """Exact match; for a loopback http URI any port (RFC 8252 §7.3: a native app listens on
    whichever port it could open), the rest still exact."""
    if requested == registered:
        return True
    try:
        want, got = urlsplit(registered), urlsplit(requested)
        got.port  # noqa: B018
    except ValueError:
        return False
    return (
        want.scheme == "http"
        and got.scheme == "http"
        and want.hostname in LOOPBACK_HOSTS
        and got.hostname == want.hostname
        and not got.username
        and not got.password
        and got.path == want.path
        and got.query == want.query
        and not got.fragment
    )


def _text(value: Any, name: str, *, max_length: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_length or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise _invalid("invalid_client_metadata", f"{name} must be text of at most {max_length} characters")
    return value.strip() or None


def _url(value: Any, name: str) -> str | None:
    text = _text(value, name, max_length=2000)
    if text is not None and urlsplit(text).scheme not in ("https", "http"):
        raise _invalid("invalid_client_metadata", f"{name} must be an http(s) URL")
    return text


def _redirect_uris(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _invalid("invalid_redirect_uri", "redirect_uris must list at least one redirect URI")
    if len(value) > MAX_REDIRECT_URIS:
        raise _invalid("invalid_redirect_uri", f"at most {MAX_REDIRECT_URIS} redirect URIs")
    return list(dict.fromkeys(check_registered_redirect_uri(item) for item in value))


def _grant_types(metadata: dict[str, Any]) -> None:
    grant_types = metadata.get("grant_types", ["authorization_code"])
    response_types = metadata.get("response_types", ["code"])
    if not isinstance(grant_types, list) or "authorization_code" not in grant_types:
        raise _invalid("invalid_client_metadata", "grant_types must include authorization_code")
    if not isinstance(response_types, list) or "code" not in response_types:
        raise _invalid("invalid_client_metadata", "response_types must include code")


def _scope(value: Any) -> str | None:
    scope = _text(value, "scope", max_length=2000)
    if scope is not None:
        parse_scope(scope)  # invalid_scope names what is wrong
    return scope


class McpClientService:
    def __init__(self, runtime: Runtime, *, limiter: RateLimiter, documents: ClientMetadataFetcher) -> None:
        self.rt = runtime
        self.limiter = limiter
        self.documents = documents

    # --- dynamic registration (RFC 7591) -----------------------------------------------------------

    def register(self, metadata: Any, *, ip: str | None) -> Registered:
        """Register a client from its metadata, within the per-address limit.

        Runs its own transaction, after the limit is counted (the counter's own write would wait
        for an open write transaction on SQLite)."""
        if ip:
            bucket = f"mcp-register:ip:{self.limiter.client_key(ip)}"
            self.limiter.hit(bucket, limit=self.rt.settings.mcp_registrations_per_ip_per_hour, window_seconds=_HOUR)
        if not isinstance(metadata, dict):
            raise _invalid("invalid_client_metadata", "the body must be a JSON object")
        redirect_uris = _redirect_uris(metadata.get("redirect_uris"))
        method = metadata.get("token_endpoint_auth_method") or "client_secret_basic"  # RFC 7591 §2's default
        if method not in AUTH_METHODS:
            raise _invalid("invalid_client_metadata", f"token_endpoint_auth_method must be one of {', '.join(AUTH_METHODS)}")
        _grant_types(metadata)
        name = _text(metadata.get("client_name"), "client_name", max_length=200)
        secret = None if method == "none" else random_token(CLIENT_SECRET_PREFIX)
        client = McpClient(
            client_id=random_token(CLIENT_ID_PREFIX, nbytes=18),
            registration=REGISTRATION_DYNAMIC,
            secret_hash=self.secret_hash(secret) if secret else None,
            token_endpoint_auth_method=method,
            redirect_uris=redirect_uris,
            scope=_scope(metadata.get("scope")),
            client_uri=_url(metadata.get("client_uri"), "client_uri"),
            software_id=_text(metadata.get("software_id"), "software_id", max_length=200),
            software_version=_text(metadata.get("software_version"), "software_version", max_length=200),
            created_at=utcnow(),
        )
        with self.rt.db.session() as session:
            view = ClientView(*McpClientRepository(session).insert_or_get(self._agent_row(name, REGISTRATION_DYNAMIC), client))
        return Registered(view, secret)

    # --- finding a client ----------------------------------------------------------------------------

    def get(self, session: Session, client_id: str) -> ClientView | None:
        """A client as it is stored (the token and revocation endpoints: no fetching there)."""
        if not client_id or len(client_id) > 512:
            return None
        found = McpClientRepository(session).by_client_id(client_id)
        if found is None or found[1].kind != AGENT_KIND_MCP_CLIENT or not found[1].is_active:
            return None
        return ClientView(*found)

    def for_authorization(self, client_id: str, *, refresh: bool = True, ip: str | None = None) -> ClientView | None:
        """The client an authorization request names. A metadata document URL is fetched again
        (its redirect URIs and name as they are now) and stored, unless ``refresh`` is false and
        it was fetched before; a registered id is looked up.

        Owns its transactions: no transaction is open while the document is fetched."""
        if not refresh or not is_metadata_document_url(client_id):
            with self.rt.db.session(write=False) as session:
                known = self.get(session, client_id)
            if known is not None or not is_metadata_document_url(client_id):
                return known
        if is_metadata_document_url(client_id):
            # Anyone can send a browser here with any URL: what it makes us fetch is limited too.
            if ip:
                bucket = f"mcp-metadata:ip:{self.limiter.client_key(ip)}"
                self.limiter.hit(bucket, limit=self.rt.settings.mcp_client_metadata_fetches_per_ip_per_hour, window_seconds=_HOUR)
            document = self.documents.fetch(client_id)
            return self._store_document(client_id, document)
        return None

    def _store_document(self, url: str, document: dict[str, Any]) -> ClientView:
        if document.get("client_id") != url:
            raise OAuthError("invalid_client", "the client's metadata document names another client_id than its own URL")
        method = document.get("token_endpoint_auth_method") or "none"
        if method != "none":
            raise OAuthError("invalid_client", "a client known by its metadata document authenticates with none (it has no secret)")
        redirect_uris = _redirect_uris(document.get("redirect_uris"))
        _grant_types(document)
        name = _text(document.get("client_name"), "client_name", max_length=200)
        now = utcnow()
        with self.rt.db.session() as session:
            repo = McpClientRepository(session)
            found = repo.by_client_id(url)
            if found is None:
                client = McpClient(
                    client_id=url,
                    registration=REGISTRATION_DOCUMENT,
                    token_endpoint_auth_method="none",
                    redirect_uris=redirect_uris,
                    created_at=now,
                )
                found = repo.insert_or_get(self._agent_row(name, REGISTRATION_DOCUMENT, fallback=urlsplit(url).hostname), client)
            client, agent = found
            client.redirect_uris = redirect_uris
            client.scope = _scope(document.get("scope"))
            client.client_uri = _url(document.get("client_uri"), "client_uri")
            client.software_id = _text(document.get("software_id"), "software_id", max_length=200)
            client.software_version = _text(document.get("software_version"), "software_version", max_length=200)
            client.metadata_fetched_at = now
            agent.name = name or agent.name
            session.flush()
            if not agent.is_active:
                raise OAuthError("invalid_client", "this client is switched off")
            return ClientView(client, agent)

    # --- client authentication at the token and revocation endpoints ------------------------------

    def authenticate(self, session: Session, *, client_id: str | None, client_secret: str | None) -> ClientView:
        """The client a token or revocation request comes from: its id, and its secret unless it
        registered as a public client (``none``). Anything wrong is ``invalid_client`` (401)."""
        view = self.get(session, client_id or "")
        expected = view.client.secret_hash if view is not None else None
        if view is None or (view.client.token_endpoint_auth_method != "none" and not (
            client_secret and expected and self.rt.hasher.matches(client_secret, expected, purpose="mcp_client_secret")
        )):
            raise OAuthError("invalid_client", "client authentication failed", status=401)
        return view

    def secret_hash(self, secret: str) -> str:
        return self.rt.hasher.hash(secret, purpose="mcp_client_secret")

    def _agent_row(self, name: str | None, registration: str, *, fallback: str | None = None) -> GlobalAgent:
        return GlobalAgent(
            id=str(uuid.uuid4()),
            kind=AGENT_KIND_MCP_CLIENT,
            owner_tenant_id=None,
            name=name or fallback or "An unnamed MCP client",
            redirect_uris=[],
            default_categories=[],
            verification_status=UNREGISTERED,
            is_active=True,
            # No key signs in as an MCP client: a random hash no key maps to fills the column.
            key_hash=self.rt.hasher.hash(random_token("mcp_client_"), purpose="agent_key"),
            key_prefix="",
            created_by=f"mcp:{registration}",
        )
