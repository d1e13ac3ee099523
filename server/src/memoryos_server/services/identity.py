"""Sign-up, login, tenant credentials, authentication and end-user resolution (SPEC §4)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from dataclasses import dataclass
from typing import Any

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from memoryos_server.crypto import public_id, random_token
from memoryos_server.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BadRequest,
    ClientNotFound,
    EncryptionKeyDestroyed,
    EndUserRequired,
    KeyNotFound,
    PermissionDenied,
    SignupDisabled,
    UserNotFound,
)
from memoryos_server.services.permissions import SERVICE_ROLE, Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.ratelimit import RateLimiter
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import ApiKey, Membership, OAuthClient, Tenant, User
from memoryos_server.storage.repositories.identity import (
    ApiKeyRepository,
    MembershipRepository,
    OAuthClientRepository,
    RevokedTokenRepository,
    TenantRepository,
    UserRepository,
)
from memoryos_server.storage.types import utcnow
from memoryos_server.storage.vault import EXTERNAL_ID_AAD, EXTERNAL_ID_HASH_PURPOSE, Vault

_JWT_ALGORITHM = "HS256"
_END_USER_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")
WORKSPACE_SUFFIX = "#workspace"  # cannot collide with an end-user: composite ids use ':'
MEMBER_MARK = "#member:"  # "{tenant}#member:{usr}": a dashboard human's own memories in one tenant


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"


def normalise_email(email: str) -> str:
    return email.strip().lower()


class IdentityService:
    def __init__(self, runtime: Runtime, *, limiter: RateLimiter) -> None:
        self.rt = runtime
        self.limiter = limiter
        self._key_use_cache: dict[str, datetime] = {}  # safe to lose: only limits writes

    # --- dashboard accounts ------------------------------------------------------------------

    def signup(self, *, email: str, password: str, organization_name: str, ip: str | None = None) -> tuple[User, Tenant]:
        """A new organisation and its owner, within the attempt limits of the address and email."""
        if not self.rt.settings.signup_enabled:
            raise SignupDisabled("sign-up is disabled on this server")
        settings = self.rt.settings
        login_email = normalise_email(email)
        limits = [(f"signup:email:{self.limiter.key(login_email, purpose='signup_email')}", settings.signup_attempts_per_email)]
        if ip:
            limits.append((f"signup:ip:{self.limiter.client_key(ip)}", settings.signup_attempts_per_ip))
        self._count_attempt(limits)
        with self.rt.db.session() as session:
            return self._signup(session, login_email, email, password, organization_name)

    def _signup(self, session: Session, login_email: str, email: str, password: str, organization_name: str) -> tuple[User, Tenant]:
        users = UserRepository(session)
        if users.by_login_email(login_email) is not None:
            raise AlreadyExists("an account with this email exists")
        tenant = self._create_tenant(session, organization_name)
        user = self.create_dashboard_user(session, email=email, password=password, tenant=tenant)
        MembershipRepository(session).add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))
        return user, tenant

    def create_dashboard_user(
        self, session: Session, *, email: str, password: str, tenant: Tenant | None, platform_role: str = "user"
    ) -> User:
        user = User(
            public_id=public_id("usr_"),
            tenant_id=tenant.id if tenant else None,
            kind="dashboard",
            email=email.strip(),
            login_email=normalise_email(email),
            password_hash=self.rt.passwords.hash(password),
            role=platform_role,
        )
        self.rt.vault.new_key_for(user)
        users = UserRepository(session)
        # Callers check for the address first, but two requests with one new address can both
        # pass that check (PostgreSQL runs them side by side); the loser's insert then fails on
        # the unique login email, inside a savepoint so the row that won can still be looked up.
        try:
            with session.begin_nested():
                users.add(user)
        except IntegrityError:
            if users.by_login_email(user.login_email or "") is None:  # not that race: a real error
                raise
            raise AlreadyExists("an account with this email exists") from None
        return user

    def _create_tenant(self, session: Session, name: str) -> Tenant:
        tenant = Tenant(public_id=public_id("ten_"), name=name.strip())
        return TenantRepository(session).add(tenant)

    def login(self, *, email: str, password: str, tenant_id: str | None = None, ip: str | None = None) -> IssuedToken:
        """Email and password for a JWT, within the failure limits of the address and the client.

        The counters commit on their own, outside the login's transaction, so a failed attempt
        stays counted when that transaction rolls back.
        """
        settings = self.rt.settings
        address = normalise_email(email)
        limits = [(f"login:email:{self.limiter.key(address, purpose='login_email')}", settings.login_failures_per_email)]
        if ip:
            limits.append((f"login:ip:{self.limiter.client_key(ip)}", settings.login_failures_per_ip))
        with self._failures_counted(limits):
            with self.rt.db.session() as session:
                return self._login(session, address, password, tenant_id)

    def _login(self, session: Session, address: str, password: str, tenant_id: str | None) -> IssuedToken:
        user = UserRepository(session).by_login_email(address)
        if not self.rt.passwords.verify(user.password_hash if user else None, password) or user is None:
            raise AuthenticationFailed("wrong email or password")
        memberships = MembershipRepository(session)
        tenant: Tenant | None = None
        if tenant_id:
            tenant = TenantRepository(session).by_public_id(tenant_id)
            if tenant is None or memberships.get(tenant.id, user.id) is None:
                raise AuthenticationFailed("wrong email or password")
        else:
            first = memberships.first_for_user(user.id)
            tenant = TenantRepository(session).by_id(first.tenant_id) if first else None
        user.last_seen_at = utcnow()
        return self.issue_user_token(user, tenant)

    def issue_user_token(self, user: User, tenant: Tenant | None) -> IssuedToken:
        ttl = self.rt.settings.jwt_ttl_seconds
        claims = {"sub": user.public_id, "tid": tenant.public_id if tenant else None, "typ": "user"}
        return IssuedToken(self._sign(claims, ttl), ttl)

    def organisations(self, session: Session, principal: Principal) -> list[tuple[Tenant, str]]:
        """The organisations a signed-in person belongs to, with their role in each."""
        if principal.kind != "user" or principal.user_id is None:
            raise AuthenticationFailed("sign in with a password to list your organisations")
        return [(tenant, m.role) for m, tenant in MembershipRepository(session).organisations_of(principal.user_id)]

    def switch_tenant(self, session: Session, principal: Principal, tenant_public_id: str) -> IssuedToken:
        """A token for another organisation of the signed-in person (a member of it, now)."""
        if principal.kind != "user" or principal.user_id is None:
            raise AuthenticationFailed("sign in with a password to switch organisations")
        user = UserRepository(session).by_id(principal.user_id)
        tenant = TenantRepository(session).by_public_id(tenant_public_id)
        if user is None or tenant is None or MembershipRepository(session).get(tenant.id, user.id) is None:
            raise PermissionDenied("you are not a member of that organisation")
        return self.issue_user_token(user, tenant)

    def revoke_token(self, session: Session, token: str | None) -> None:
        """End a member's token now rather than at its expiry (a dashboard sign-out, a switch
        of organisation): every later use fails. A token that is not valid anyway is ignored."""
        if not token:
            return
        try:
            claims = self._verify(token)
        except AuthenticationFailed:
            return
        if claims.get("typ") != "user" or not isinstance(claims.get("jti"), str):
            return
        expires = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
        RevokedTokenRepository(session).revoke(claims["jti"], expires, utcnow())

    def describe(self, session: Session, principal: Principal) -> dict[str, Any]:
        """What /v1/auth/me shows about the caller."""
        data: dict[str, Any] = {
            "kind": principal.kind,
            "tenant_id": principal.tenant_public_id,
            "role": principal.role,
            "credential_id": principal.credential_id,
            "creator_role": principal.creator_role,
        }
        if principal.user_id is not None:
            user = UserRepository(session).by_id(principal.user_id)
            if user is not None:
                data.update(user_id=user.public_id, email=user.email, platform_role=user.role)
        if principal.tenant_id is not None:
            tenant = TenantRepository(session).by_id(principal.tenant_id)
            data["tenant_name"] = tenant.name if tenant else None
        return data

    def change_password(self, principal: Principal, *, current: str, new: str, ip: str | None = None) -> None:
        """Within the attempt limit of the caller's address (each attempt hashes twice)."""
        if ip:
            limit = self.rt.settings.password_change_attempts_per_ip
            self._count_attempt([(f"password:ip:{self.limiter.client_key(ip)}", limit)])
        with self.rt.db.session() as session:
            user = UserRepository(session).by_id(principal.user_id or -1)
            if user is None or not self.rt.passwords.verify(user.password_hash, current):
                raise AuthenticationFailed("wrong password")
            user.password_hash = self.rt.passwords.hash(new)

    # --- tenant API keys ------------------------------------------------------------------------

    def create_api_key(self, session: Session, principal: Principal, *, name: str) -> tuple[ApiKey, str]:
        tenant_id = principal.require(Permission.KEYS_MANAGE)
        raw = random_token("mem_")
        key = ApiKey(
            public_id=public_id("key_"),
            tenant_id=tenant_id,
            name=name,
            key_hash=self.rt.hasher.hash(raw, purpose="api_key"),
            key_prefix=raw[:12],
            created_by_user_id=principal.user_id,
        )
        return ApiKeyRepository(session).add(key), raw

    def list_api_keys(self, session: Session, principal: Principal) -> list[ApiKey]:
        return list(ApiKeyRepository(session).for_tenant(principal.require(Permission.KEYS_MANAGE)))

    def revoke_api_key(self, session: Session, principal: Principal, key_public_id: str) -> ApiKey:
        key = ApiKeyRepository(session).by_public_id(principal.require(Permission.KEYS_MANAGE), key_public_id)
        if key is None:
            raise KeyNotFound("no such API key")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
        return key

    # --- OAuth clients (client-credentials grant) --------------------------------------------------

    def create_oauth_client(self, session: Session, principal: Principal, *, name: str) -> tuple[OAuthClient, str]:
        tenant_id = principal.require(Permission.KEYS_MANAGE)
        secret = random_token("cs_")
        client = OAuthClient(
            public_id=public_id("cli_"),
            tenant_id=tenant_id,
            name=name,
            secret_hash=self.rt.hasher.hash(secret, purpose="oauth_client"),
            created_by_user_id=principal.user_id,
        )
        return OAuthClientRepository(session).add(client), secret

    def list_oauth_clients(self, session: Session, principal: Principal) -> list[OAuthClient]:
        return list(OAuthClientRepository(session).for_tenant(principal.require(Permission.KEYS_MANAGE)))

    def revoke_oauth_client(self, session: Session, principal: Principal, client_public_id: str) -> OAuthClient:
        client = OAuthClientRepository(session).in_tenant(principal.require(Permission.KEYS_MANAGE), client_public_id)
        if client is None:
            raise ClientNotFound("no such OAuth client")
        if client.revoked_at is None:
            client.revoked_at = utcnow()
        return client

    def client_credentials_token(self, *, client_id: str, client_secret: str, ip: str | None = None) -> IssuedToken:
        """RFC 6749 §4.4, within the failure limits of the client id and of the caller's address."""
        settings = self.rt.settings
        limits = [(f"token:client:{self.limiter.key(client_id, purpose='oauth_client_id')}", settings.token_failures_per_client)]
        if ip:
            limits.append((f"token:ip:{self.limiter.client_key(ip)}", settings.token_failures_per_ip))
        with self._failures_counted(limits):
            with self.rt.db.session() as session:
                return self._client_credentials_token(session, client_id, client_secret)

    def _client_credentials_token(self, session: Session, client_id: str, client_secret: str) -> IssuedToken:
        client = OAuthClientRepository(session).by_public_id(client_id)
        valid = client is not None and client.revoked_at is None
        # Hash even for unknown clients so timing does not reveal which client ids exist.
        secret_ok = self.rt.hasher.matches(
            client_secret, client.secret_hash if client else "0" * 64, purpose="oauth_client"
        )
        if not (valid and secret_ok) or client is None:
            raise AuthenticationFailed("invalid client credentials")
        _creator_role(session, client.tenant_id, client.created_by_user_id)  # its creator left: no token
        tenant = TenantRepository(session).by_id(client.tenant_id)
        assert tenant is not None
        client.last_used_at = utcnow()
        ttl = self.rt.settings.oauth_token_ttl_seconds
        return IssuedToken(self._sign({"sub": client.public_id, "tid": tenant.public_id, "typ": "client"}, ttl), ttl)

    # --- brute-force limits ---------------------------------------------------------------------------

    @contextmanager
    def _failures_counted(self, limits: list[tuple[str, int]]) -> Iterator[None]:
        """Refuse with ``RateLimited`` once any bucket holds its limit of failures; count a failure.

        Each attempt is counted before it runs — so no more than the limit can be in flight at
        once, and a refused attempt costs no password hashing — and refunded when it succeeds
        or fails for another reason than its credentials. The buckets are the same whether the
        account exists or not, so neither a 429 nor its timing tells an account apart.
        """
        hits = self.limiter.hit_all(limits, window_seconds=self.rt.settings.auth_failure_window_seconds)
        try:
            yield
        except AuthenticationFailed:
            raise
        except BaseException:
            self.limiter.refund_all(hits)
            raise
        self.limiter.refund_all(hits)

    def _count_attempt(self, limits: list[tuple[str, int]]) -> None:
        """Count one attempt in every bucket, before any work; ``RateLimited`` past any limit,
        with none of the buckets counted then. For work that costs the same (a password hash)
        whether it succeeds or not, so successes count too and nothing is refunded. Run before
        the work's own session: on SQLite the counters' write would wait for it."""
        self.limiter.hit_all(limits, window_seconds=self.rt.settings.auth_attempt_window_seconds)

    # --- authentication -----------------------------------------------------------------------------

    def authenticate_request(self, *, authorization: str | None, x_api_key: str | None) -> Principal:
        """Authenticate in a read-only transaction; note key use in a separate, rare write."""
        with self.rt.db.session(write=False) as session:
            principal = self.authenticate(session, authorization=authorization, x_api_key=x_api_key)
        if principal.kind == "api_key":
            self._note_key_use(principal.credential_id)
        return principal

    def _note_key_use(self, key_public_id: str) -> None:
        now = utcnow()
        last = self._key_use_cache.get(key_public_id)
        # At most one write a minute per key per worker: a write per request would serialise SQLite.
        if last is not None and (now - last).total_seconds() < 60:
            return
        self._key_use_cache[key_public_id] = now
        with self.rt.db.session() as session:
            ApiKeyRepository(session).touch(key_public_id, now)

    def authenticate(self, session: Session, *, authorization: str | None, x_api_key: str | None) -> Principal:
        scheme, _, credential = (authorization or "").partition(" ")
        scheme, credential = scheme.lower(), credential.strip()
        if authorization and x_api_key and x_api_key.strip() != credential:
            # Two credentials that disagree (another tenant's key, a key beside a token): which
            # one the caller meant is not for the server to guess.
            raise AuthenticationFailed("two different credentials: send one, in Authorization or in X-API-Key")
        if scheme == "apikey" and credential:
            return self._from_api_key(session, credential)
        if scheme == "bearer" and credential:
            return self._from_bearer(session, credential)
        if x_api_key and not authorization:
            return self._from_api_key(session, x_api_key.strip())
        raise AuthenticationFailed("missing or invalid credentials")

    def _from_api_key(self, session: Session, raw: str) -> Principal:
        if not raw.startswith("mem_"):
            raise AuthenticationFailed("missing or invalid credentials")
        found = ApiKeyRepository(session).credential(self.rt.hasher.hash(raw, purpose="api_key"))
        if found is None or found[0].revoked_at is not None:
            raise AuthenticationFailed("missing or invalid credentials")
        key, tenant_public_id, creator_role = found
        _still_a_member(key.created_by_user_id, creator_role)
        return Principal(
            "api_key", key.tenant_id, tenant_public_id, SERVICE_ROLE, key.public_id, creator_role=creator_role
        )

    def _from_bearer(self, session: Session, token: str) -> Principal:
        claims = self._verify(token)
        tenants = TenantRepository(session)
        tenant = tenants.by_public_id(claims["tid"]) if claims.get("tid") else None
        if claims.get("tid") and tenant is None:
            raise AuthenticationFailed("missing or invalid credentials")
        if claims["typ"] == "client":
            client = OAuthClientRepository(session).by_public_id(claims["sub"])
            if client is None or client.revoked_at is not None or tenant is None or client.tenant_id != tenant.id:
                raise AuthenticationFailed("missing or invalid credentials")
            creator_role = _creator_role(session, client.tenant_id, client.created_by_user_id)
            return Principal(
                "oauth_client", tenant.id, tenant.public_id, SERVICE_ROLE, client.public_id, creator_role=creator_role
            )
        if claims["typ"] != "user":
            raise AuthenticationFailed("missing or invalid credentials")
        if isinstance(claims.get("jti"), str) and RevokedTokenRepository(session).is_revoked(claims["jti"]):
            raise AuthenticationFailed("missing or invalid credentials")  # signed out
        user = UserRepository(session).by_public_id(claims["sub"])
        if user is None or user.kind != "dashboard":
            raise AuthenticationFailed("missing or invalid credentials")
        if tenant is None:
            return Principal("user", None, None, "none", user.public_id, user.id, user.role)
        membership = MembershipRepository(session).get(tenant.id, user.id)
        if membership is None:  # removed from the organisation since the token was issued
            raise AuthenticationFailed("missing or invalid credentials")
        return Principal("user", tenant.id, tenant.public_id, membership.role, user.public_id, user.id, user.role)

    def _sign(self, claims: dict[str, Any], ttl: int) -> str:
        now = int(time.time())
        payload = {**claims, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex, "iss": "memoryos"}
        return jwt.encode(payload, self.rt.jwt_key, algorithm=_JWT_ALGORITHM)

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self.rt.jwt_key,
                algorithms=[_JWT_ALGORITHM],
                issuer="memoryos",
                options={"require": ["exp", "iat", "sub", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise AuthenticationFailed("missing or invalid credentials") from exc
        return claims

    # --- end-users ----------------------------------------------------------------------------------

    def resolve_end_user(
        self, session: Session, principal: Principal, *, header_value: str | None, body_value: str | None
    ) -> User:
        """The end-user a memory route acts for (seed 002's resolution rule)."""
        if principal.kind == "user":
            # A JWT caller is their own end-user; X-End-User-ID is ignored (and never logged).
            member = self.member_owner(session, principal, create=True)
            assert member is not None
            return member
        end_user_id = header_value if header_value else body_value
        if end_user_id is None or not end_user_id.strip():
            raise EndUserRequired()
        return self.end_user(session, principal, end_user_id.strip(), create=True)

    def end_user(self, session: Session, principal: Principal, end_user_id: str, *, create: bool) -> User:
        if not _END_USER_ID.match(end_user_id):
            raise BadRequest("invalid_end_user_id", "an end-user id is 1–255 printable characters")
        assert principal.tenant_id is not None and principal.tenant_public_id is not None
        external_id = f"{principal.tenant_public_id}:{end_user_id}"
        user = self._owner_row(session, principal.tenant_id, "end_user", external_id, create=create)
        if user is None:
            raise UserNotFound("no such end-user")
        return user

    def member_owner(self, session: Session, principal: Principal, *, create: bool) -> User | None:
        """The row that owns a dashboard human's own memories in the tenant of their JWT.

        One row per (person, tenant), with its own data key: what someone writes signed in to
        one organisation is never read, searched or deleted signed in to another. The ``#``
        cannot occur right after a tenant id in an end-user's ``"{tenant}:{id}"``, so no
        ``X-End-User-ID`` can name this row. ``None`` when never written (and not ``create``).
        """
        if principal.kind != "user" or principal.tenant_id is None or principal.tenant_public_id is None:
            raise AuthenticationFailed("missing or invalid credentials")
        external_id = f"{principal.tenant_public_id}{MEMBER_MARK}{principal.credential_id}"
        return self._owner_row(session, principal.tenant_id, "member", external_id, create=create)

    def existing_end_user(self, session: Session, principal: Principal, reference: str) -> User:
        """The end-user that GET, export and DELETE /v1/users/{reference} act on.

        ``reference`` is the tenant's own id for the end-user or, failing that, the end-user's
        ``usr_`` public id. Any printable text is a valid end-user id, but a URL path cannot
        carry every one of them (a ``/`` splits the path even when sent as ``%2F``; ``..`` is
        resolved away by clients), so the public id, listed by ``GET /v1/users``, keeps every
        end-user reachable — and erasable. The tenant's own id wins where the two coincide.
        """
        try:
            return self.end_user(session, principal, reference, create=False)
        except UserNotFound:
            if not reference.startswith("usr_"):
                raise
        user = UserRepository(session).by_public_id(reference)
        if user is None or user.kind != "end_user" or user.tenant_id != principal.tenant_id:
            raise UserNotFound("no such end-user")
        return user

    def existing_workspace_owner(self, session: Session, tenant_public_id: str) -> User | None:
        """The workspace's owner row, if its first memory was ever written."""
        return UserRepository(session).by_external_id_hash(self.external_id_hash(f"{tenant_public_id}{WORKSPACE_SUFFIX}"))

    def workspace_owner(self, session: Session, tenant_id: int, tenant_public_id: str) -> User:
        """The row that owns (and holds the data key of) a tenant's workspace memories."""
        owner = self._owner_row(session, tenant_id, "workspace", f"{tenant_public_id}{WORKSPACE_SUFFIX}", create=True)
        assert owner is not None
        return owner

    def _owner_row(self, session: Session, tenant_id: int, kind: str, external_id: str, *, create: bool) -> User | None:
        """The user row that owns memories under ``external_id``: made on first sight (with a
        data key of its own) when ``create``, one row even when two requests race to make it;
        else ``None`` until then."""
        users = UserRepository(session)
        digest = self.external_id_hash(external_id)
        existing = users.by_external_id_hash(digest)
        if existing is not None or not create:
            return existing
        candidate = User(public_id=public_id("usr_"), tenant_id=tenant_id, kind=kind, external_id_hash=digest, role="user")
        self.rt.vault.new_key_for(candidate)
        candidate.external_id_ct = self.rt.vault.encrypt(candidate, external_id, aad=EXTERNAL_ID_AAD)
        return users.insert_if_absent(candidate)

    def external_id_hash(self, external_id: str) -> str:
        """The keyed hash an owner row is found by: its name in the tenant is never stored as text."""
        return self.rt.hasher.hash(external_id, purpose=EXTERNAL_ID_HASH_PURPOSE)


def _creator_role(session: Session, tenant_id: int, creator_user_id: int | None) -> str | None:
    """The current role of the member who created a key or OAuth client, read at every use.

    A creator who is no longer a member leaves the credential with no authority at all: it
    fails as a revoked one does (401), as that member's own JWT would.
    """
    if creator_user_id is None:
        return None
    membership = MembershipRepository(session).get(tenant_id, creator_user_id)
    return _still_a_member(creator_user_id, membership.role if membership is not None else None)


def _still_a_member(creator_user_id: int | None, role: str | None) -> str | None:
    """``role``, the creator's current one; a credential whose creator has no role any more fails."""
    if creator_user_id is not None and role is None:
        raise AuthenticationFailed("missing or invalid credentials")
    return role


def external_user_id_of(vault: Vault, user: User) -> str | None:
    """The tenant's own id for an end-user (the part after ``{tenant}:``), opened from its seal;
    ``None`` for a row without one, or once the row's data key has been destroyed."""
    if user.external_id_ct is None:
        return None
    try:
        external_id = vault.decrypt(user, user.external_id_ct, aad=EXTERNAL_ID_AAD)
    except EncryptionKeyDestroyed:
        return None
    return external_id.split(":", 1)[1] if ":" in external_id else None

