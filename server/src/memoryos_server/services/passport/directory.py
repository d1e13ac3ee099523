"""The organisation directory: a tenant's OAuth connector registration, and the public list.

A tenant registers one entry (``POST /v1/tenant/directory/register``, an upsert): how people
recognise it (name, category, website, logo) and its OAuth server (client id and secret,
authorization, token and userinfo URLs, scopes). The secret is stored only encrypted, under a
key derived from the master key for this purpose, and is never shown again.

This server calls the token and userinfo URLs itself, so they must be https (http only on this
machine, and only with ``allow_insecure_oauth``) and must resolve to public addresses
(``services/outbound.py``); the check is made here and again at every call. The authorization
URL is only where the person's browser goes: https, with the same exception.

The logo is fetched once per registration (PNG, JPEG or WebP, at most 256 KB), stored, and
served from our own origin; without one the pages show the organisation's initials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from memoryos_server.crypto import DataKey, derive_key, public_id
from memoryos_server.errors import DirectoryEntryNotFound, OutboundCallFailed, ValidationFailed
from memoryos_server.services.audit import AuditService
from memoryos_server.services.ids import is_plain_id
from memoryos_server.services.logos import FetchedLogo, LogoFetcher, initials
from memoryos_server.services.outbound import LOOPBACK_NAMES, OutboundHttp
from memoryos_server.services.passport.agents import check_text
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import DirectoryEntry
from memoryos_server.storage.repositories.passport import DirectoryRepository

DIRECTORY_PREFIX = "org_"
TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_post", "client_secret_basic")
# RFC 6749 §3.3: a scope token is printable ASCII but space, '"' and '\'.
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")
_MAX_SCOPES = 20
_SECRET_AAD = "memoryos:directory-client-secret:"


@dataclass(frozen=True)
class DirectoryRegistration:
    """What a tenant registers (seed 001's body, plus ``link_token_enabled`` and how the token
    endpoint authenticates us). ``oauth_client_secret`` None on an update keeps the stored one."""

    display_name: str
    oauth_client_id: str
    oauth_authorization_url: str
    oauth_token_url: str
    oauth_userinfo_url: str
    oauth_client_secret: str | None = None
    category: str | None = None
    website_url: str | None = None
    logo_url: str | None = None
    oauth_scopes: tuple[str, ...] = ("openid",)
    token_endpoint_auth_method: str = "client_secret_post"
    is_public: bool = True
    link_token_enabled: bool = True


@dataclass(frozen=True)
class Registered:
    directory_id: str
    status: str
    created: bool
    logo_stored: bool
    logo_problem: str | None


@dataclass(frozen=True)
class DirectoryEntryView:
    """The tenant's own entry, as its dashboard shows it: everything but the secret."""

    id: str
    display_name: str
    category: str | None
    website_url: str | None
    logo_url: str | None
    has_logo: bool
    oauth_client_id: str
    has_client_secret: bool
    oauth_authorization_url: str
    oauth_token_url: str
    oauth_userinfo_url: str
    oauth_scopes: list[str]
    token_endpoint_auth_method: str
    is_public: bool
    link_token_enabled: bool
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Organisation:
    """A directory entry as anyone may see it."""

    id: str
    display_name: str
    category: str | None
    website_url: str | None
    has_logo: bool
    link_token_enabled: bool

    @property
    def initials(self) -> str:
        return initials(self.display_name)

    @property
    def logo_path(self) -> str | None:
        return f"/directory/{self.id}/logo" if self.has_logo else None


@dataclass(frozen=True)
class ConnectorConfig:
    """What the OAuth flow needs of an entry, the secret decrypted: kept in memory only."""

    directory_id: str
    tenant_id: int
    display_name: str
    client_id: str
    client_secret: str
    authorization_url: str
    token_url: str
    userinfo_url: str
    scopes: tuple[str, ...]
    token_endpoint_auth_method: str


def _problem(field: str, message: str, kind: str = "value") -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", details=[{"loc": ["body", field], "msg": message, "type": kind}])


class DirectoryService:
    def __init__(self, runtime: Runtime, *, outbound: OutboundHttp, logos: LogoFetcher, audit: AuditService) -> None:
        self.rt = runtime
        self.outbound = outbound
        self.logos = logos
        self.audit = audit
        self._secrets = DataKey(derive_key(runtime.master.key, "directory-client-secrets"))

    # --- the tenant ------------------------------------------------------------------------------

    def register(self, session: Session, principal: Principal, registration: DirectoryRegistration) -> Registered:
        """Create or replace the tenant's entry (one per tenant; its id stays the same).

        Everything that calls out (the URLs' addresses, the logo) happens before the first
        statement, so no database lock is held while another server takes its time.
        """
        tenant_id = principal.require(Permission.CONNECTORS_MANAGE)
        fields = self._checked(registration)
        for name in ("oauth_token_url", "oauth_userinfo_url"):
            try:
                self.outbound.check_destination(fields[name])
            except OutboundCallFailed as refused:
                raise _problem(name, str(refused), "url") from refused
        logo = self.logos.fetch(fields["logo_url"])

        repo = DirectoryRepository(session)
        entry = repo.of_tenant(tenant_id)
        created = entry is None
        secret = registration.oauth_client_secret
        if entry is None:
            if secret is None:
                raise _problem("oauth_client_secret", "is required when registering", "missing")
            fresh = DirectoryEntry(id=public_id(DIRECTORY_PREFIX), tenant_id=tenant_id)
            self._apply(fresh, fields, registration, secret, logo, kept_logo=False)
            entry = repo.insert_for_tenant(fresh)
            if entry is None:  # a concurrent registration of the same tenant won: update that one
                created = False
                entry = repo.of_tenant(tenant_id)
                assert entry is not None
        if not created:
            kept_logo = entry.logo_url == fields["logo_url"] and logo.problem is not None
            self._apply(entry, fields, registration, secret, logo, kept_logo=kept_logo)
        session.flush()
        self.audit.record(
            session,
            action="directory.registered",
            actor_type=principal.kind,
            actor_id=principal.credential_id,
            tenant_id=tenant_id,
            detail={"directory_id": entry.id, "created": created, "is_public": entry.is_public},
        )
        stored = entry.logo_content_type is not None
        return Registered(entry.id, entry.status, created, stored, logo.problem)

    def own(self, session: Session, principal: Principal) -> DirectoryEntryView:
        tenant_id = principal.require(Permission.CONNECTORS_MANAGE)
        entry = DirectoryRepository(session).of_tenant(tenant_id)
        if entry is None or entry.status != "active":
            raise DirectoryEntryNotFound("this organisation has no directory entry")
        return self._view(entry)

    def remove(self, session: Session, principal: Principal) -> DirectoryEntryView:
        """Take the entry out of the directory. The row stays (``removed``): connections made
        through it keep its name, and a flow in progress is refused at its callback."""
        tenant_id = principal.require(Permission.CONNECTORS_MANAGE)
        entry = DirectoryRepository(session).of_tenant(tenant_id)
        if entry is None or entry.status != "active":
            raise DirectoryEntryNotFound("this organisation has no directory entry")
        entry.status = "removed"
        session.flush()
        self.audit.record(
            session,
            action="directory.removed",
            actor_type=principal.kind,
            actor_id=principal.credential_id,
            tenant_id=tenant_id,
            detail={"directory_id": entry.id},
        )
        return self._view(entry)

    # --- everyone --------------------------------------------------------------------------------

    def listed(self, session: Session, search: str | None = None) -> list[Organisation]:
        text = (search or "").strip()[:100]
        return [self._public(entry) for entry in DirectoryRepository(session).listed(text or None)]

    def organisation(self, session: Session, directory_id: str) -> Organisation:
        """One active entry, listed or not (a tenant may link its unlisted entry itself)."""
        return self._public(self._active(session, directory_id))

    def logo(self, session: Session, directory_id: str) -> tuple[bytes, str] | None:
        if not is_plain_id(directory_id):
            return None
        return DirectoryRepository(session).logo(directory_id)

    def connector(self, session: Session, directory_id: str) -> ConnectorConfig:
        """The entry's OAuth settings with the secret decrypted, for the flow (never shown)."""
        entry = self._active(session, directory_id)
        if entry.oauth_client_secret_ct is None:
            raise DirectoryEntryNotFound("this organisation is not in the directory")
        secret = self._secrets.decrypt_text(entry.oauth_client_secret_ct, aad=(_SECRET_AAD + entry.id).encode())
        return ConnectorConfig(
            directory_id=entry.id,
            tenant_id=entry.tenant_id,
            display_name=entry.display_name,
            client_id=entry.oauth_client_id or "",
            client_secret=secret,
            authorization_url=entry.oauth_authorization_url or "",
            token_url=entry.oauth_token_url or "",
            userinfo_url=entry.oauth_userinfo_url or "",
            scopes=tuple(entry.oauth_scopes or ()),
            token_endpoint_auth_method=entry.token_endpoint_auth_method,
        )

    # --- helpers ---------------------------------------------------------------------------------

    def _active(self, session: Session, directory_id: str) -> DirectoryEntry:
        entry = DirectoryRepository(session).active(directory_id) if is_plain_id(directory_id) else None
        if entry is None:
            raise DirectoryEntryNotFound("this organisation is not in the directory")
        return entry

    def _checked(self, registration: DirectoryRegistration) -> dict[str, str | None]:
        insecure = self.rt.settings.allow_insecure_oauth
        fields: dict[str, str | None] = {
            "display_name": _required(check_text(registration.display_name, "display_name", max_length=200), "display_name"),
            "category": check_text(registration.category, "category", max_length=60),
            "oauth_client_id": _required(check_text(registration.oauth_client_id, "oauth_client_id", max_length=400), "oauth_client_id"),
            "website_url": check_connector_url(registration.website_url, "website_url", allow_insecure=insecure),
            "logo_url": check_connector_url(registration.logo_url, "logo_url", allow_insecure=insecure),
        }
        for name in ("oauth_authorization_url", "oauth_token_url", "oauth_userinfo_url"):
            fields[name] = _required(check_connector_url(getattr(registration, name), name, allow_insecure=insecure), name)
        if registration.oauth_client_secret is not None:
            _required(check_text(registration.oauth_client_secret, "oauth_client_secret", max_length=2000), "oauth_client_secret")
        if registration.token_endpoint_auth_method not in TOKEN_ENDPOINT_AUTH_METHODS:
            raise _problem("token_endpoint_auth_method", f"must be one of {', '.join(TOKEN_ENDPOINT_AUTH_METHODS)}", "enum")
        fields["token_endpoint_auth_method"] = registration.token_endpoint_auth_method
        scopes = registration.oauth_scopes
        if len(scopes) > _MAX_SCOPES or not all(_SCOPE.match(scope) for scope in scopes):
            raise _problem("oauth_scopes", f"must be at most {_MAX_SCOPES} OAuth scope names (no spaces or quotes)")
        return fields

    def _apply(
        self,
        entry: DirectoryEntry,
        fields: dict[str, str | None],
        registration: DirectoryRegistration,
        secret: str | None,
        logo: FetchedLogo,
        *,
        kept_logo: bool,
    ) -> None:
        for name in (
            "display_name", "category", "website_url", "logo_url", "oauth_client_id", "oauth_authorization_url",
            "oauth_token_url", "oauth_userinfo_url", "token_endpoint_auth_method",
        ):  # fmt: skip
            setattr(entry, name, fields[name])
        entry.oauth_scopes = list(registration.oauth_scopes)
        entry.is_public = registration.is_public
        entry.link_token_enabled = registration.link_token_enabled
        entry.status = "active"
        if secret is not None:
            entry.oauth_client_secret_ct = self._secrets.encrypt(secret, aad=(_SECRET_AAD + entry.id).encode())
        if logo.stored:
            entry.logo_image, entry.logo_content_type = logo.image, logo.content_type
        elif not kept_logo:  # no logo, or a new one that could not be fetched: initials until it can
            entry.logo_image, entry.logo_content_type = None, None

    @staticmethod
    def _public(entry: DirectoryEntry) -> Organisation:
        return Organisation(
            id=entry.id,
            display_name=entry.display_name,
            category=entry.category,
            website_url=entry.website_url,
            has_logo=entry.logo_content_type is not None,
            link_token_enabled=entry.link_token_enabled,
        )

    @staticmethod
    def _view(entry: DirectoryEntry) -> DirectoryEntryView:
        return DirectoryEntryView(
            id=entry.id,
            display_name=entry.display_name,
            category=entry.category,
            website_url=entry.website_url,
            logo_url=entry.logo_url,
            has_logo=entry.logo_content_type is not None,
            oauth_client_id=entry.oauth_client_id or "",
            has_client_secret=entry.oauth_client_secret_ct is not None,
            oauth_authorization_url=entry.oauth_authorization_url or "",
            oauth_token_url=entry.oauth_token_url or "",
            oauth_userinfo_url=entry.oauth_userinfo_url or "",
            oauth_scopes=list(entry.oauth_scopes or []),
            token_endpoint_auth_method=entry.token_endpoint_auth_method,
            is_public=entry.is_public,
            link_token_enabled=entry.link_token_enabled,
            status=entry.status,
            created_at=entry.created_at,
            updated_at=entry.updated_at,
        )


def _required(value: str | None, field: str) -> str:
    if not value:
        raise _problem(field, "is required", "missing")
    return value


def check_connector_url(value: str | None, field: str, *, allow_insecure: bool) -> str | None:
    """An absolute https URL without credentials or fragment; http only for this machine
    (localhost, 127.0.0.1, ::1) and only when ``allow_insecure_oauth`` is set."""
    text = check_text(value, field, max_length=2000)
    if text is None:
        return None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError as exc:
        raise _problem(field, "is not a URL", "url") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise _problem(field, "must be an absolute https URL", "url")
    if parts.scheme == "http" and not (allow_insecure and host in LOOPBACK_NAMES):
        hint = " (http on this machine needs MEMORYOS_ALLOW_INSECURE_OAUTH=true)" if host in LOOPBACK_NAMES else ""
        raise _problem(field, f"must use https{hint}", "url")
    if parts.username or parts.password:
        raise _problem(field, "must not carry a user name or password", "url")
    if parts.fragment:
        raise _problem(field, "must not have a fragment", "url")
    return text
