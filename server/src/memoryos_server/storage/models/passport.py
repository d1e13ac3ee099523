"""Memory Passport: universal users, agents, grants, pairwise UUIs, codes, links, connections."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from memoryos_server.storage.models.base import Base, Timestamped
from memoryos_server.storage.types import BigIntPK, UTCDateTime


class UniversalUser(Timestamped, Base):
    __tablename__ = "universal_users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # uup_…, never shown to agents
    email: Mapped[str] = mapped_column(String(320), unique=True)  # lower-cased
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PassportSession(Base):
    """A signed-in browser or client. The session id is a secret held only as a keyed hash;
    ``public_id`` is what the person's session list shows and acts on."""

    __tablename__ = "passport_sessions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # pss_…
    session_hash: Mapped[str] = mapped_column(String(64), unique=True)
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    device: Mapped[str | None] = mapped_column(String(80))  # "Chrome on Linux": a summary, never the raw User-Agent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OtpChallenge(Base):
    """The live one-time code of one email address, and its failure/lock state."""

    __tablename__ = "otp_challenges"

    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RateLimitCounter(Base):
    """Fixed-window counters shared by every worker (used when Redis is not configured)."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(default=0)


class GlobalAgent(Timestamped, Base):
    """An app a person may grant access to. ``kind`` is ``tenant`` (registered by an organisation,
    which owns it and holds its key) or ``mcp_client`` (an MCP client that registered itself
    over OAuth: no organisation, no key; see ``mcp_clients`` and docs/mcp.md). The logo is the
    image fetched once from ``logo_url`` when it was saved, served from our own origin."""

    __tablename__ = "global_agents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # public UUID
    kind: Mapped[str] = mapped_column(String(16), default="tenant", server_default="tenant")
    owner_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(2000))
    website_url: Mapped[str | None] = mapped_column(String(2000))
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    logo_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_content_type: Mapped[str | None] = mapped_column(String(40))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    default_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    verification_status: Mapped[str] = mapped_column(String(12), default="pending")
    verification_note: Mapped[str | None] = mapped_column(String(2000))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str | None] = mapped_column(String(120))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Grant(Timestamped, Base):
    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("universal_user_id", "agent_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # grt_…
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("global_agents.id", ondelete="CASCADE"), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    access_type: Mapped[str] = mapped_column(String(12))  # read_only | read_write
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | revoked
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PairwiseIdentity(Base):
    """The UUI one agent knows one passport user by. Stored as a keyed hash only."""

    __tablename__ = "pairwise_identities"
    __table_args__ = (UniqueConstraint("universal_user_id", "agent_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("global_agents.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsentCode(Base):
    """A one-time code on the consent redirect, exchanged by the agent's backend for its UUI."""

    __tablename__ = "consent_codes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("global_agents.id", ondelete="CASCADE"), index=True)
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LinkToken(Base):
    """A secure-link connector token (plink_…): single use, bound to tenant, agent and account."""

    __tablename__ = "link_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("global_agents.id", ondelete="CASCADE"))
    account_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OrgConnection(Base):
    """A passport user's link to an account at a tenant. Holds a keyed hash of the account id only."""

    __tablename__ = "org_connections"
    __table_args__ = (UniqueConstraint("universal_user_id", "tenant_id", "account_hash"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # con_…
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))  # secure_link | oauth
    account_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


Index("ix_org_connections_tenant_account", OrgConnection.tenant_id, OrgConnection.account_hash)


class DirectoryEntry(Timestamped, Base):
    """A tenant's public OAuth connector registration (one per tenant). The client secret is
    stored only encrypted; the logo is the image fetched once at registration, served from our
    origin. ``status`` is ``active`` or ``removed`` (kept so connections still name it)."""

    __tablename__ = "directory_entries"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # org_…
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(60))
    website_url: Mapped[str | None] = mapped_column(String(2000))
    logo_url: Mapped[str | None] = mapped_column(String(2000))
    oauth_client_id: Mapped[str | None] = mapped_column(String(400))
    oauth_client_secret_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    oauth_authorization_url: Mapped[str | None] = mapped_column(String(2000))
    oauth_token_url: Mapped[str | None] = mapped_column(String(2000))
    oauth_userinfo_url: Mapped[str | None] = mapped_column(String(2000))
    oauth_scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # client_secret_post | client_secret_basic
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(24), default="client_secret_post", server_default="client_secret_post"
    )
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    link_token_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(12), default="active")
    logo_image: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_content_type: Mapped[str | None] = mapped_column(String(40))


class OAuthState(Base):
    """State of one outgoing OAuth connector flow: bound to a passport session, with PKCE."""

    __tablename__ = "oauth_states"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    session_hash: Mapped[str] = mapped_column(String(64))
    directory_id: Mapped[str] = mapped_column(ForeignKey("directory_entries.id", ondelete="CASCADE"))
    code_verifier_ct: Mapped[bytes] = mapped_column(LargeBinary)
    nonce_hash: Mapped[str | None] = mapped_column(String(64))  # OpenID Connect, when openid is asked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Who did what to which memories, when. Passport users see the events about themselves."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    universal_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("universal_users.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(36))
    actor_type: Mapped[str] = mapped_column(String(16))  # agent | api_key | user | passport_user | operator
    actor_id: Mapped[str | None] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    memory_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
