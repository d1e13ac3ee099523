"""This server as the OAuth 2.1 authorization server of its own MCP endpoint (docs/mcp.md).

- ``/authorize``: the request is checked here (client, redirect URI, PKCE S256, scope, resource);
  the person answers on the consent screen; approving creates the grant (``GrantService``, as for
  any agent) and a single-use authorization code bound to the client, the redirect URI, the PKCE
  challenge and the resource.
- ``/token``: the code (with its verifier) becomes an access token and a refresh token, the first
  of a *family*. A refresh token works once: using it returns a new pair; presenting a used one
  again revokes the whole family (someone holds a copy). A code presented twice revokes what it
  started, too.
- ``/revoke`` (RFC 7009): revokes the token's whole family.
- Every call to ``/mcp`` presents its access token: it must be known, unexpired, of a family not
  revoked, minted for this server's resource, and the grant behind it must be active *now*, so
  revoking it, its expiry or deleting the passport fails the very next call, and what the grant
  allows at that moment is what the call may do.

Tokens and codes are random and stored only as keyed hashes; they never appear in a log. The
token and revocation endpoints run transactions of their own: a refused request can still have
to be recorded (a replayed code or refresh token revokes its family, and that must hold).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from memoryos_server.crypto import random_token
from memoryos_server.errors import OAuthError
from memoryos_server.services.passport.agents import AGENT_KIND_MCP_CLIENT
from memoryos_server.services.passport.agent_access import AgentAccessService
from memoryos_server.services.passport.grants import GrantService, IssuedGrant
from memoryos_server.services.passport.mcp_auth.clients import ClientView, McpClientService, redirect_uri_matches
from memoryos_server.services.passport.mcp_auth.scopes import ScopeRequest, parse_scope, scope_string, supported_scopes
from memoryos_server.services.ratelimit import RateLimiter
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import GlobalAgent, Grant, McpAuthorizationCode, McpClient, McpToken, McpTokenFamily, UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.mcp import McpClientRepository, McpCodeRepository, McpTokenRepository
from memoryos_server.storage.repositories.passport import UniversalUserRepository
from memoryos_server.storage.types import utcnow

T = TypeVar("T")

ACCESS_TOKEN_PREFIX = "mcpat_"
REFRESH_TOKEN_PREFIX = "mcprt_"
CODE_PREFIX = "mcpac_"
_MINUTE = 60
_S256_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def normalise_resource(value: str) -> str:
    """A resource URL in one spelling: lower-case scheme and host, no default port, no trailing slash."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return value
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}.get(scheme)
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), parts.query, ""))


def _location(uri: str, params: dict[str, str | None]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((key, value) for key, value in params.items() if value is not None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


class AuthorizeRefusal(OAuthError):
    """A refused authorization request whose client and redirect URI are known: the answer goes
    back to the client (RFC 6749 §4.1.2.1), with the ``state`` it sent and our ``iss`` (RFC 9207)."""

    def __init__(self, error: str, description: str, *, redirect_uri: str, state: str | None, issuer: str) -> None:
        super().__init__(error, description)
        self.location = _location(
            redirect_uri, {"error": error, "error_description": description, "state": state, "iss": issuer}
        )


@dataclass(frozen=True)
class AuthorizationRequest:
    """An authorization request that passed every check, ready for the person to answer."""

    client: ClientView
    redirect_uri: str
    state: str | None
    code_challenge: str
    scope: ScopeRequest
    resource: str
    params: dict[str, str]  # as received: the consent form carries them back unchanged

    @property
    def redirect_host(self) -> str:
        parts = urlsplit(self.redirect_uri)
        return parts.netloc or f"{parts.scheme}:"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    scope: str


@dataclass(frozen=True)
class McpCaller:
    """An MCP client presenting a valid access token: whose passport, which grant, and any
    narrower scope the client asked for on a refresh."""

    user: UniversalUser
    agent: GlobalAgent
    client: McpClient
    family: McpTokenFamily
    grant: Grant
    limit: ScopeRequest | None
    token_expires_at: datetime


class McpAuthorizationServer:
    def __init__(
        self,
        runtime: Runtime,
        *,
        limiter: RateLimiter,
        clients: McpClientService,
        grants: GrantService,
        agent_access: AgentAccessService,
    ) -> None:
        self.rt = runtime
        self.limiter = limiter
        self.clients = clients
        self.grants = grants
        self.agent_access = agent_access

    # --- who we are ------------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.rt.settings.resolved_public_url

    @property
    def resource(self) -> str:
        return self.rt.settings.mcp_resource_url

    @property
    def resource_metadata_url(self) -> str:
        return f"{self.issuer}/.well-known/oauth-protected-resource/mcp"

    def authorization_server_metadata(self) -> dict[str, Any]:
        """RFC 8414."""
        issuer = self.issuer
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{self.rt.settings.resolved_consent_base_url}/authorize",
            "token_endpoint": f"{issuer}/token",
            "registration_endpoint": f"{issuer}/register",
            "revocation_endpoint": f"{issuer}/revoke",
            "scopes_supported": supported_scopes(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "service_documentation": f"{issuer}/docs",
        }

    def protected_resource_metadata(self) -> dict[str, Any]:
        """RFC 9728."""
        return {
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": supported_scopes(),
            "bearer_methods_supported": ["header"],
            "resource_name": "MemoryOS Memory Passport",
            "resource_documentation": f"{self.issuer}/docs",
        }

    # --- /authorize --------------------------------------------------------------------------------------

    def check_authorization(self, params: Mapping[str, str], *, refresh: bool = True, ip: str | None = None) -> AuthorizationRequest:
        """The request's client and redirect URI first (refusals are shown to the person: there is
        nowhere safe to send them), then everything else (refusals go back to the client).

        ``refresh``: fetch a metadata-document client's document again (the screen is shown);
        the person's answer is checked against what was fetched for that screen."""
        client_id = params.get("client_id") or ""
        if not client_id:
            raise OAuthError("invalid_request", "the request names no client_id")
        client = self.clients.for_authorization(client_id, refresh=refresh, ip=ip)
        if client is None:
            raise OAuthError("invalid_client", "no such client: it may have registered with another server")
        requested = params.get("redirect_uri")
        registered = list(client.client.redirect_uris or [])
        if requested is None or requested == "":
            if len(registered) != 1:
                raise OAuthError("invalid_request", "name the redirect_uri: the client registered several")
            redirect_uri = registered[0]
        elif any(redirect_uri_matches(uri, requested) for uri in registered):
            redirect_uri = requested
        else:
            raise OAuthError("invalid_request", "this redirect_uri is not registered for the client")
        state = params.get("state") or None

        def refuse(error: str, description: str) -> AuthorizeRefusal:
            return AuthorizeRefusal(error, description, redirect_uri=redirect_uri, state=state, issuer=self.issuer)

        if params.get("response_type") != "code":
            raise refuse("unsupported_response_type", "only response_type=code is supported")
        challenge = params.get("code_challenge") or ""
        if params.get("code_challenge_method") != "S256":
            raise refuse("invalid_request", "PKCE is required, with code_challenge_method=S256")
        if not _S256_CHALLENGE.match(challenge):
            raise refuse("invalid_request", "code_challenge must be the base64url SHA-256 of the verifier (43 characters)")
        try:
            scope = parse_scope(params.get("scope") or client.client.scope)
        except OAuthError as error:
            raise refuse("invalid_scope", error.description) from None
        resource = params.get("resource")
        if resource and normalise_resource(resource) != normalise_resource(self.resource):
            raise refuse("invalid_target", f"this server issues tokens only for {self.resource}")
        return AuthorizationRequest(client, redirect_uri, state, challenge, scope, self.resource, dict(params))

    def approve(
        self,
        session: Session,
        user: UniversalUser,
        request: AuthorizationRequest,
        *,
        categories: list[str],
        access_type: str,
        duration_days: int | None,
        keep_expiry: bool,
    ) -> tuple[IssuedGrant, str]:
        """The person said yes (with their own choices): the grant, and where the browser goes —
        the client's redirect URI with a fresh authorization code."""
        issued = self.grants.create_or_replace(
            session,
            user,
            agent_id=request.client.agent.id,
            categories=categories,
            access_type=access_type,
            duration_days=duration_days,
            keep_expiry=keep_expiry,
            mcp_client=True,
        )
        grant = issued.view.grant
        code = random_token(CODE_PREFIX)
        now = utcnow()
        McpCodeRepository(session).add(
            McpAuthorizationCode(
                code_hash=self._hash(code, "mcp_code"),
                client_pk=request.client.client.id,
                universal_user_id=user.id,
                redirect_uri=request.redirect_uri,
                code_challenge=request.code_challenge,
                resource=request.resource,
                scope=scope_string(grant.categories, grant.access_type),
                created_at=now,
                expires_at=now + timedelta(seconds=self.rt.settings.mcp_authorization_code_ttl_seconds),
            )
        )
        return issued, _location(request.redirect_uri, {"code": code, "state": request.state, "iss": self.issuer})

    def deny(self, request: AuthorizationRequest) -> str:
        """The person said no: nothing is stored, and the client hears ``access_denied``."""
        return _location(
            request.redirect_uri,
            {"error": "access_denied", "error_description": "the person declined", "state": request.state, "iss": self.issuer},
        )

    # --- /token --------------------------------------------------------------------------------------------

    def token(self, form: Mapping[str, str], *, authorization: str | None, ip: str | None) -> IssuedTokens:
        client_id, client_secret = _client_credentials(form, authorization)
        self._count_request(ip, client_id)
        grant_type = form.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            raise OAuthError("unsupported_grant_type", "use authorization_code or refresh_token")

        def work(session: Session) -> IssuedTokens:
            client = self.clients.authenticate(session, client_id=client_id, client_secret=client_secret)
            if grant_type == "authorization_code":
                return self._exchange_code(session, client, form)
            return self._refresh(session, client, form)

        return self._recorded(work)

    def _exchange_code(self, session: Session, client: ClientView, form: Mapping[str, str]) -> IssuedTokens:
        codes = McpCodeRepository(session)
        raw = form.get("code") or ""
        row = codes.by_hash(self._hash(raw, "mcp_code")) if raw.startswith(CODE_PREFIX) else None
        if row is None or row.client_pk != client.client.id:
            raise OAuthError("invalid_grant", "the authorization code is unknown")
        now = utcnow()
        if row.used_at is not None or not codes.consume(row.id, now):
            # Presented a second time: whoever holds it, the tokens it started are not safe.
            if row.family_id is not None:
                McpTokenRepository(session).revoke_family(row.family_id, now, "code_replayed")
            raise OAuthError("invalid_grant", "the authorization code was already used")
        if row.expires_at <= now:
            raise OAuthError("invalid_grant", "the authorization code has expired")
        if form.get("redirect_uri") != row.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the one the code was issued for")
        if not _pkce_matches(form.get("code_verifier") or "", row.code_challenge):
            raise OAuthError("invalid_grant", "the code_verifier does not match the code_challenge")
        self._check_resource(form.get("resource"), row.resource)
        user, agent, grant = self._live_grant(session, row.universal_user_id, client.agent.id)
        family = McpTokenRepository(session).add(
            McpTokenFamily(
                client_pk=client.client.id,
                universal_user_id=user.id,
                agent_id=agent.id,
                resource=row.resource,
                created_at=now,
            )
        )
        row.family_id = family.id
        return self._issue(session, family, grant, None, now)

    def _refresh(self, session: Session, client: ClientView, form: Mapping[str, str]) -> IssuedTokens:
        tokens = McpTokenRepository(session)
        raw = form.get("refresh_token") or ""
        found = tokens.by_hash(self._hash(raw, "mcp_refresh_token")) if raw.startswith(REFRESH_TOKEN_PREFIX) else None
        if found is None or found[0].kind != "refresh" or found[1].client_pk != client.client.id:
            raise OAuthError("invalid_grant", "the refresh token is unknown")
        token, family = found
        now = utcnow()
        if family.revoked_at is not None:
            raise OAuthError("invalid_grant", "the refresh token was revoked")
        if token.used_at is not None:
            # A refresh token works once; a second use means a copy exists: end the family.
            tokens.revoke_family(family.id, now, "refresh_token_reused")
            raise OAuthError("invalid_grant", "the refresh token was already used; this authorization is revoked")
        if token.expires_at <= now:
            raise OAuthError("invalid_grant", "the refresh token has expired")
        # Refusals that say nothing about who holds the token leave it usable.
        self._check_resource(form.get("resource"), family.resource)
        _, _, grant = self._live_grant(session, family.universal_user_id, family.agent_id)
        limit = None
        if form.get("scope"):
            try:
                limit = parse_scope(form["scope"])
            except OAuthError as error:
                raise OAuthError("invalid_scope", error.description) from None
            granted = ScopeRequest(tuple(grant.categories), grant.access_type == "read_write")
            if not granted.allows(limit):
                raise OAuthError("invalid_scope", "the scope asks for more than the person granted")
        if not tokens.rotate(token.id, now):  # used by a concurrent request meanwhile: a replay too
            tokens.revoke_family(family.id, now, "refresh_token_reused")
            raise OAuthError("invalid_grant", "the refresh token was already used; this authorization is revoked")
        tokens.drop_expired_access(family.id, now)
        return self._issue(session, family, grant, limit, now)

    def _issue(
        self, session: Session, family: McpTokenFamily, grant: Grant, limit: ScopeRequest | None, now: datetime
    ) -> IssuedTokens:
        settings = self.rt.settings
        access, refresh = random_token(ACCESS_TOKEN_PREFIX), random_token(REFRESH_TOKEN_PREFIX)
        limited = scope_string(limit.categories, limit.access_type) if limit is not None else None
        tokens = McpTokenRepository(session)
        for raw, kind, ttl, purpose in (
            (access, "access", settings.mcp_access_token_ttl_seconds, "mcp_access_token"),
            (refresh, "refresh", settings.mcp_refresh_token_ttl_seconds, "mcp_refresh_token"),
        ):
            tokens.add(
                McpToken(
                    token_hash=self._hash(raw, purpose),
                    family_id=family.id,
                    kind=kind,
                    scope=limited,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
        scope = limited or scope_string(grant.categories, grant.access_type)
        return IssuedTokens(access, settings.mcp_access_token_ttl_seconds, refresh, scope)

    # --- /revoke (RFC 7009) -----------------------------------------------------------------------------

    def revoke(self, form: Mapping[str, str], *, authorization: str | None, ip: str | None) -> None:
        """Revoke the token's family. An unknown token, or another client's, is answered the same
        way as a revoked one (RFC 7009 §2.2): nothing tells a caller which tokens exist."""
        client_id, client_secret = _client_credentials(form, authorization)
        self._count_request(ip, client_id)

        def work(session: Session) -> None:
            client = self.clients.authenticate(session, client_id=client_id, client_secret=client_secret)
            raw = form.get("token") or ""
            tokens = McpTokenRepository(session)
            for prefix, purpose in ((ACCESS_TOKEN_PREFIX, "mcp_access_token"), (REFRESH_TOKEN_PREFIX, "mcp_refresh_token")):
                found = tokens.by_hash(self._hash(raw, purpose)) if raw.startswith(prefix) else None
                if found is not None and found[1].client_pk == client.client.id:
                    tokens.revoke_family(found[1].id, utcnow(), "revoked_by_client")

        self._recorded(work)

    # --- /mcp: every call --------------------------------------------------------------------------------

    def authenticate(self, session: Session, raw_token: str | None) -> McpCaller | None:
        """The caller behind an access token, if the token is good and its grant active now."""
        raw = (raw_token or "").strip()
        if not raw.startswith(ACCESS_TOKEN_PREFIX) or len(raw) > 200:
            return None
        found = McpTokenRepository(session).by_hash(self._hash(raw, "mcp_access_token"))
        now = utcnow()
        if found is None or found[0].kind != "access" or found[0].expires_at <= now:
            return None
        token, family = found
        if family.revoked_at is not None or normalise_resource(family.resource) != normalise_resource(self.resource):
            return None
        user = UniversalUserRepository(session).by_id(family.universal_user_id)
        agent = AgentRepository(session).live(family.agent_id)
        client = McpClientRepository(session).by_pk(family.client_pk)
        if user is None or user.wrapped_key is None or agent is None or client is None:
            return None
        if agent.kind != AGENT_KIND_MCP_CLIENT or not agent.is_active:
            return None
        state = self.agent_access.grant_state(session, agent, user, now=now)
        if not state.active or state.grant is None:
            return None
        limit = parse_scope(token.scope) if token.scope else None
        return McpCaller(user, agent, client, family, state.grant, limit, token.expires_at)

    def verify(self, raw_token: str | None) -> McpCaller | None:
        """``authenticate`` in a short read transaction of its own (the endpoint's gate)."""
        with self.rt.db.session(write=False) as session:
            return self.authenticate(session, raw_token)

    # --- internals -----------------------------------------------------------------------------------------

    def _live_grant(self, session: Session, user_id: int, agent_id: str) -> tuple[UniversalUser, GlobalAgent, Grant]:
        user = UniversalUserRepository(session).by_id(user_id)
        agent = AgentRepository(session).live(agent_id)
        if user is None or user.wrapped_key is None or agent is None or not agent.is_active:
            raise OAuthError("invalid_grant", "the authorization is no longer valid")
        state = self.agent_access.grant_state(session, agent, user)
        if not state.active or state.grant is None:
            raise OAuthError("invalid_grant", "the person's grant is no longer active")
        return user, agent, state.grant

    def _check_resource(self, requested: str | None, bound: str) -> None:
        if requested and normalise_resource(requested) != normalise_resource(bound):
            raise OAuthError("invalid_target", f"this authorization is for {bound}")
        if normalise_resource(bound) != normalise_resource(self.resource):
            raise OAuthError("invalid_target", f"this server issues tokens only for {self.resource}")

    def _count_request(self, ip: str | None, client_id: str | None) -> None:
        settings = self.rt.settings
        limits = []
        if ip:
            limits.append((f"mcp-token:ip:{self.limiter.client_key(ip)}", settings.mcp_token_requests_per_ip_per_minute))
        if client_id:
            key = self.limiter.key(client_id, purpose="mcp_client_id")
            limits.append((f"mcp-token:client:{key}", settings.mcp_token_requests_per_client_per_minute))
        self.limiter.hit_all(limits, window_seconds=_MINUTE)

    def _recorded(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a transaction that commits even when it refuses: what it did before
        refusing (a replay's revocation, a code spent on a wrong verifier) must hold."""
        failure: OAuthError | None = None
        with self.rt.db.session() as session:
            try:
                result = work(session)
            except OAuthError as error:
                failure = error
        if failure is not None:
            raise failure
        return result

    def _hash(self, raw: str, purpose: str) -> str:
        return self.rt.hasher.hash(raw, purpose=purpose)


def _pkce_matches(verifier: str, challenge: str) -> bool:
    if not _VERIFIER.match(verifier):
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).decode("ascii").rstrip("=")
    return hmac.compare_digest(digest, challenge)


def _client_credentials(form: Mapping[str, str], authorization: str | None) -> tuple[str | None, str | None]:
    """(client_id, client_secret) from HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or the form."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "basic" and value.strip():
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError("invalid_client", "the Basic credentials are malformed", status=401) from None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            raise OAuthError("invalid_client", "the Basic credentials are malformed", status=401)
        return unquote(client_id), unquote(secret)
    return form.get("client_id") or None, form.get("client_secret") or None
