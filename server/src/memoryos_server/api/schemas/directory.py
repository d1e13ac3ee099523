"""Schemas of the organisation directory and the OAuth connector (SPEC §5, seed 001 "Step 2C")."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from memoryos_server.api.envelope import Out, Timestamp
from memoryos_server.api.schemas.common import Strict
from memoryos_server.services.passport.directory import DirectoryEntryView, DirectoryRegistration, Organisation

Url = str  # checked by the directory service: https (http on this machine only when allowed)


class DirectoryRegisterIn(Strict):
    """Seed 001's body, plus ``link_token_enabled`` and ``token_endpoint_auth_method``."""

    display_name: str = Field(min_length=1, max_length=200)
    category: str | None = Field(default=None, max_length=60, description="e.g. saas, bank, retail")
    website_url: Url | None = Field(default=None, max_length=2000)
    logo_url: Url | None = Field(
        default=None, max_length=2000, description="Fetched once (PNG, JPEG or WebP, ≤ 256 KB) and served from MemoryOS"
    )
    oauth_client_id: str = Field(min_length=1, max_length=400)
    oauth_client_secret: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Stored encrypted, never shown again. Required the first time; left out on an update, the stored one is kept.",
    )
    oauth_authorization_url: Url = Field(max_length=2000)
    oauth_token_url: Url = Field(max_length=2000)
    oauth_userinfo_url: Url = Field(max_length=2000)
    oauth_scopes: list[str] = Field(default_factory=lambda: ["openid"], max_length=20)
    token_endpoint_auth_method: Literal["client_secret_post", "client_secret_basic"] = Field(
        default="client_secret_post", description="How MemoryOS authenticates at your token URL"
    )
    is_public: bool = Field(default=True, description="Listed in the directory (an unlisted entry still works by its id)")
    link_token_enabled: bool = Field(default=True, description="You also connect accounts with secure links (link tokens)")

    def registration(self) -> DirectoryRegistration:
        return DirectoryRegistration(
            display_name=self.display_name,
            category=self.category,
            website_url=self.website_url,
            logo_url=self.logo_url,
            oauth_client_id=self.oauth_client_id,
            oauth_client_secret=self.oauth_client_secret,
            oauth_authorization_url=self.oauth_authorization_url,
            oauth_token_url=self.oauth_token_url,
            oauth_userinfo_url=self.oauth_userinfo_url,
            oauth_scopes=tuple(self.oauth_scopes),
            token_endpoint_auth_method=self.token_endpoint_auth_method,
            is_public=self.is_public,
            link_token_enabled=self.link_token_enabled,
        )


class DirectoryRegisteredOut(Out):
    directory_id: str = Field(description="org_…")
    status: str = Field(description="active")
    created: bool = Field(description="False when an existing entry was replaced")
    logo_stored: bool
    logo_problem: str | None = Field(description="Why the logo could not be stored (the pages show initials meanwhile)")


class DirectoryEntryOut(Out):
    """The organisation's own entry: everything but the client secret."""

    id: str
    display_name: str
    category: str | None
    website_url: str | None
    logo_url: str | None = Field(description="The URL the logo was fetched from")
    has_logo: bool
    oauth_client_id: str
    has_client_secret: bool
    oauth_authorization_url: str
    oauth_token_url: str
    oauth_userinfo_url: str
    oauth_scopes: list[str]
    token_endpoint_auth_method: str
    redirect_uri: str = Field(description="Register this callback with your OAuth server")
    is_public: bool
    link_token_enabled: bool
    status: str
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, view: DirectoryEntryView, *, redirect_uri: str) -> DirectoryEntryOut:
        return cls(
            id=view.id,
            display_name=view.display_name,
            category=view.category,
            website_url=view.website_url,
            logo_url=view.logo_url,
            has_logo=view.has_logo,
            oauth_client_id=view.oauth_client_id,
            has_client_secret=view.has_client_secret,
            oauth_authorization_url=view.oauth_authorization_url,
            oauth_token_url=view.oauth_token_url,
            oauth_userinfo_url=view.oauth_userinfo_url,
            oauth_scopes=view.oauth_scopes,
            token_endpoint_auth_method=view.token_endpoint_auth_method,
            redirect_uri=redirect_uri,
            is_public=view.is_public,
            link_token_enabled=view.link_token_enabled,
            status=view.status,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class OrganisationOut(Out):
    """A directory entry as anyone sees it: no OAuth settings, no secret."""

    id: str = Field(description="org_…, the org_directory_id of POST /v1/uui/oauth/initiate")
    display_name: str
    category: str | None
    website_url: str | None
    logo_url: str | None = Field(description="The logo, served by MemoryOS; null: show initials")
    initials: str
    link_token_enabled: bool

    @classmethod
    def fields_of(cls, organisation: Organisation, *, base_url: str) -> dict[str, object]:
        return {
            "id": organisation.id,
            "display_name": organisation.display_name,
            "category": organisation.category,
            "website_url": organisation.website_url,
            "logo_url": base_url + organisation.logo_path if organisation.logo_path else None,
            "initials": organisation.initials,
            "link_token_enabled": organisation.link_token_enabled,
        }

    @classmethod
    def of(cls, organisation: Organisation, *, base_url: str) -> OrganisationOut:
        return cls(**cls.fields_of(organisation, base_url=base_url))  # type: ignore[arg-type]


class PassportOrganisationOut(OrganisationOut):
    connected: bool = Field(description="This passport has an account there connected")


class OAuthInitiateIn(Strict):
    org_directory_id: str = Field(min_length=1, max_length=64)


class AuthorizationUrlOut(Out):
    authorization_url: str = Field(
        description="Open it in the browser signed in with this session: the callback checks the session that started it"
    )
