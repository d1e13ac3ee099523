"""The OAuth connector: a person proves they own an account at an organisation by signing in
there, and that account is connected to their passport (SPEC §6, seed 001 "Step 2C").

``start`` makes the authorization-code request (RFC 6749 §4.1) with PKCE (S256, RFC 7636) and,
when ``openid`` is asked, an OpenID Connect ``nonce``. Its ``state`` is 256 random bits, stored
as a keyed hash, bound to the passport session that asked, good once and for 10 minutes.

``complete`` is the callback. It runs three steps, on purpose not one transaction (like the
sign-in codes, it owns its transactions): it claims the state (used once, whatever follows);
then, holding no database lock, it exchanges the code at the organisation's token URL and calls
its userinfo URL with the access token (``services/outbound.py``: 10 s, 64 KB, public addresses
only); then it connects the account. Only a keyed hash of (organisation, ``sub``) is kept —
the same value a secure link for that ``external_user_id`` carries, so user resolve finds the
person either way — and the tokens are dropped as soon as userinfo has answered. Any failure
connects nothing.

An ID token, when the token endpoint returns one, is read without checking its signature: it
came straight from the token endpoint over the connection this server opened (OpenID Connect
Core §3.1.3.7: TLS then stands for the issuer check). Its ``nonce`` must be ours, its ``aud``
must name our client id and its ``sub`` must be the one userinfo gives.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from sqlalchemy.orm import Session

from memoryos_server.crypto import DataKey, derive_key, random_token
from memoryos_server.errors import (
    ConnectorFailed,
    DirectoryEntryNotFound,
    OAuthStateInvalid,
    OutboundCallFailed,
    PassportSessionRequired,
    ProviderDenied,
)
from memoryos_server.services.outbound import OutboundHttp
from memoryos_server.services.passport.connections import ConnectionService
from memoryos_server.services.passport.directory import ConnectorConfig, DirectoryService
from memoryos_server.services.passport.service import PassportCaller, PassportService
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import OAuthState
from memoryos_server.storage.repositories.identity import TenantRepository
from memoryos_server.storage.repositories.passport import OAuthStateRepository
from memoryos_server.storage.types import utcnow

log = logging.getLogger("memoryos.connectors")

CALLBACK_PATH = "/oauth/callback"
_OUR_PARAMETERS = frozenset(
    {"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method", "nonce"}
)
_ACCOUNT_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

_FAILURES = {
    "address_refused": "{name}'s sign-in server is at an address MemoryOS does not call",
    "unresolvable": "{name}'s sign-in server could not be found",
    "unreachable": "{name}'s sign-in server could not be reached",
    "timeout": "{name}'s sign-in server did not answer in time",
    "too_large": "{name}'s sign-in server sent a far larger answer than a sign-in needs",
    "invalid_response": "{name}'s sign-in server sent an answer MemoryOS could not read",
    "invalid_url": "{name}'s sign-in server address is not valid",
    "refused": "{name} did not accept the sign-in",
    "no_subject": "{name} did not say which account you signed in to",
    "id_token_mismatch": "{name}'s answer did not match this sign-in",
}


@dataclass(frozen=True)
class ConnectedAccount:
    connection_id: str
    directory_id: str
    organisation_name: str
    created: bool  # False: the account was already connected, and is now confirmed by OAuth


@dataclass(frozen=True)
class _Flow:
    """What the callback took from a claimed state: kept in memory for the one request."""

    connector: ConnectorConfig
    code_verifier: str
    nonce_hash: str | None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def code_challenge(verifier: str) -> str:
    """PKCE S256: BASE64URL(SHA256(verifier)) without padding (RFC 7636 §4.2)."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


class OAuthConnectorService:
    def __init__(
        self,
        runtime: Runtime,
        *,
        passport: PassportService,
        directory: DirectoryService,
        connections: ConnectionService,
        outbound: OutboundHttp,
    ) -> None:
        self.rt = runtime
        self.passport = passport
        self.directory = directory
        self.connections = connections
        self.outbound = outbound
        self._box = DataKey(derive_key(runtime.master.key, "oauth-flow-secrets"))

    @property
    def redirect_uri(self) -> str:
        return self.rt.settings.resolved_consent_base_url + CALLBACK_PATH

    # --- the start ---------------------------------------------------------------------------------

    def start(self, session: Session, caller: PassportCaller, directory_id: str) -> str:
        """The organisation's authorization URL for this person, with a fresh state."""
        connector = self.directory.connector(session, directory_id)
        state = random_token("", nbytes=32)
        verifier = random_token("", nbytes=48)  # 65 characters of [A-Za-z0-9]: RFC 7636 §4.1
        nonce = random_token("", nbytes=24) if "openid" in connector.scopes else None
        now = utcnow()
        repo = OAuthStateRepository(session)
        repo.delete_expired(now)
        state_hash = self._hash(state, "oauth_state")
        repo.add(
            OAuthState(
                state_hash=state_hash,
                session_hash=self.passport.session_hash(caller.session_token),
                directory_id=connector.directory_id,
                code_verifier_ct=self._box.encrypt(verifier, aad=state_hash.encode()),
                nonce_hash=self._hash(nonce, "oauth_nonce") if nonce else None,
                created_at=now,
                expires_at=now + timedelta(seconds=self.rt.settings.oauth_state_ttl_seconds),
            )
        )
        parameters = {
            "response_type": "code",
            "client_id": connector.client_id,
            "redirect_uri": self.redirect_uri,
            "state": state,
            "code_challenge": code_challenge(verifier),
            "code_challenge_method": "S256",
        }
        if connector.scopes:
            parameters["scope"] = " ".join(connector.scopes)
        if nonce:
            parameters["nonce"] = nonce
        return _with_query(connector.authorization_url, parameters)

    # --- the callback ------------------------------------------------------------------------------

    def complete(self, *, session_token: str | None, state: str | None, code: str | None, error: str | None) -> ConnectedAccount:
        """Finish a flow from the organisation's redirect. Its own transactions (above)."""
        flow = self._claim(session_token, state)
        connector = flow.connector
        name = connector.display_name
        if error is not None:
            provider_error = error if _ERROR_CODE.match(error) else "invalid_request"
            if provider_error == "access_denied":
                message = f"You chose not to connect your {name} account, so nothing was connected."
            else:
                message = f"{name} turned the request down ({provider_error}), so nothing was connected."
            raise ProviderDenied(provider_error, message)
        if not code or len(code) > 2000:
            raise self._failed(connector, "authorize", "invalid_response")
        access_token, id_claims = self._exchange(flow, code)
        subject = self._subject(connector, access_token, id_claims)
        del access_token  # the tokens go no further than this request
        return self._connect(connector, session_token, subject)

    def _claim(self, session_token: str | None, state: str | None) -> _Flow:
        """Check the state and use it up, in a transaction of its own (committed: a state works
        once even if what follows fails)."""
        if not state or len(state) > 200:
            raise OAuthStateInvalid("this sign-in link is not one MemoryOS made, or was already used.")
        now = utcnow()
        with self.rt.db.session() as session:
            try:
                self.passport.authenticate(session, session_token)
            except PassportSessionRequired as exc:
                raise OAuthStateInvalid(
                    "this browser is not signed in to the Memory Passport that started connecting the account."
                ) from exc
            repo = OAuthStateRepository(session)
            row = repo.by_hash(self._hash(state, "oauth_state"))
            session_hash = self.passport.session_hash(session_token or "")
            if row is None or row.used_at is not None or not secrets.compare_digest(row.session_hash, session_hash):
                raise OAuthStateInvalid("this sign-in link is not one MemoryOS made for you, or was already used.")
            if row.expires_at <= now or not repo.consume(row.id, now):
                raise OAuthStateInvalid("this sign-in took longer than 10 minutes, or was already finished.")
            verifier = self._box.decrypt_text(row.code_verifier_ct, aad=row.state_hash.encode())
            connector = self.directory.connector(session, row.directory_id)
            return _Flow(connector, verifier, row.nonce_hash)

    def _exchange(self, flow: _Flow, code: str) -> tuple[str, dict[str, Any] | None]:
        """The authorization code for an access token (and the ID token's claims, if any)."""
        connector = flow.connector
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": flow.code_verifier,
        }
        headers = {"Accept": "application/json"}
        if connector.token_endpoint_auth_method == "client_secret_basic":
            # RFC 6749 §2.3.1: each part form-encoded, then HTTP Basic.
            pair = f"{quote(connector.client_id, safe='')}:{quote(connector.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        else:
            form["client_id"] = connector.client_id
            form["client_secret"] = connector.client_secret
        body = self._call(connector, "token", "POST", connector.token_url, headers=headers, data=form)
        access_token = body.get("access_token")
        token_type = body.get("token_type", "Bearer")
        if not isinstance(access_token, str) or not access_token or len(access_token) > 8192:
            raise self._failed(connector, "token", "invalid_response")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise self._failed(connector, "token", "invalid_response")
        id_token = body.get("id_token")
        claims = self._id_token_claims(connector, flow, id_token) if id_token is not None else None
        return access_token, claims

    def _id_token_claims(self, connector: ConnectorConfig, flow: _Flow, id_token: object) -> dict[str, Any]:
        if not isinstance(id_token, str) or id_token.count(".") != 2:
            raise self._failed(connector, "token", "id_token_mismatch")
        payload = id_token.split(".")[1]
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, RecursionError, binascii.Error) as exc:
            raise self._failed(connector, "token", "id_token_mismatch") from exc
        if not isinstance(claims, dict):
            raise self._failed(connector, "token", "id_token_mismatch")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        nonce = claims.get("nonce")
        nonce_ok = flow.nonce_hash is None or (
            isinstance(nonce, str) and secrets.compare_digest(self._hash(nonce, "oauth_nonce"), flow.nonce_hash)
        )
        if connector.client_id not in audiences or not nonce_ok or not isinstance(claims.get("sub"), str):
            raise self._failed(connector, "token", "id_token_mismatch")
        return claims

    def _subject(self, connector: ConnectorConfig, access_token: str, id_claims: dict[str, Any] | None) -> str:
        """``sub`` from the userinfo URL, called with the access token."""
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        body = self._call(connector, "userinfo", "GET", connector.userinfo_url, headers=headers)
        subject = body.get("sub")
        if not isinstance(subject, str) or not _ACCOUNT_ID.match(subject):
            raise self._failed(connector, "userinfo", "no_subject")
        if id_claims is not None and id_claims.get("sub") != subject:
            raise self._failed(connector, "userinfo", "id_token_mismatch")
        return subject

    def _call(self, connector: ConnectorConfig, step: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            reply = self.outbound.request(method, url, **kwargs)
            if reply.status != 200:
                raise self._failed(connector, step, "refused", detail=str(reply.status))
            if reply.content_type and reply.content_type != "application/json" and not reply.content_type.endswith("+json"):
                raise OutboundCallFailed("invalid_response", f"the answer is {reply.content_type}, not JSON")
            return reply.json_object()
        except OutboundCallFailed as failed:
            raise self._failed(connector, step, failed.reason) from failed

    def _connect(self, connector: ConnectorConfig, session_token: str | None, subject: str) -> ConnectedAccount:
        with self.rt.db.session() as session:
            try:
                user = self.passport.authenticate(session, session_token)
            except PassportSessionRequired as exc:
                raise OAuthStateInvalid("you were signed out of your Memory Passport before the account was connected.") from exc
            current = self.directory.connector(session, connector.directory_id)  # removed meanwhile: not found
            if current.tenant_id != connector.tenant_id:
                raise DirectoryEntryNotFound("this organisation is not in the directory")
            tenant = TenantRepository(session).by_id(connector.tenant_id)
            if tenant is None:
                raise DirectoryEntryNotFound("this organisation is not in the directory")
            connection, created = self.connections.connect_verified_account(
                session,
                user,
                tenant_id=tenant.id,
                account_hash=self.connections.account_hash(tenant.public_id, subject),
                method="oauth",
            )
            return ConnectedAccount(connection.id, connector.directory_id, current.display_name, created)

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _failed(connector: ConnectorConfig, step: str, reason: str, *, detail: str | None = None) -> ConnectorFailed:
        # The organisation, the step and the reason; never a URL's query, a code or a token.
        log.warning("OAuth connector %s: %s failed (%s%s)", connector.directory_id, step, reason, f" {detail}" if detail else "")
        text = _FAILURES.get(reason, _FAILURES["invalid_response"]).format(name=connector.display_name)
        return ConnectorFailed(step, reason, f"{text}, so your account was not connected.")

    def _hash(self, value: str, purpose: str) -> str:
        return self.rt.hasher.hash(value, purpose=purpose)


def _with_query(url: str, parameters: dict[str, str]) -> str:
    """``url`` with ``parameters`` added to its own query (ours replace any of the same name)."""
    parts = urlsplit(url)
    kept = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in _OUR_PARAMETERS]
    query = urlencode([*kept, *parameters.items()], quote_via=quote)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
