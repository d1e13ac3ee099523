"""The Passport over MCP: the clients that registered themselves, their authorization codes,
and the tokens they hold (docs/mcp.md).

Every secret here (authorization codes, access and refresh tokens, client secrets) is stored only
as a keyed hash. A token family is what one authorization code started: its refresh tokens rotate
on use, and presenting a used one again revokes the whole family.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from memoryos_server.storage.models.base import Base
from memoryos_server.storage.types import BigIntPK, UTCDateTime


class McpClient(Base):
    """An MCP client: registered dynamically (RFC 7591) or known by its metadata document URL.

    Its grants, pairwise identities and activity hang on ``agent_id``, a ``global_agents`` row of
    kind ``mcp_client``, so every rule of a grant holds for it as for any agent."""

    __tablename__ = "mcp_clients"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(512), unique=True)  # mcpc_… or an https URL
    agent_id: Mapped[str] = mapped_column(ForeignKey("global_agents.id", ondelete="CASCADE"), unique=True)
    registration: Mapped[str] = mapped_column(String(20))  # dynamic | metadata_document
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    scope: Mapped[str | None] = mapped_column(String(2000))
    client_uri: Mapped[str | None] = mapped_column(String(2000))
    software_id: Mapped[str | None] = mapped_column(String(200))
    software_version: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    metadata_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class McpAuthorizationCode(Base):
    """The code an approval hands to the client's redirect URI: single use, bound to the client,
    the redirect URI, the PKCE challenge and the resource."""

    __tablename__ = "mcp_authorization_codes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("mcp_clients.id", ondelete="CASCADE"), index=True)
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(2000))  # what the person granted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    family_id: Mapped[int | None] = mapped_column(ForeignKey("mcp_token_families.id", ondelete="SET NULL"))


class McpTokenFamily(Base):
    """The tokens one authorization code started, for one client, person and resource."""

    __tablename__ = "mcp_token_families"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("mcp_clients.id", ondelete="CASCADE"), index=True)
    universal_user_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("global_agents.id", ondelete="CASCADE"), index=True)
    resource: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class McpToken(Base):
    """An access or refresh token of a family, as a keyed hash. ``scope`` is set only when the
    client asked for less than the grant on a refresh; otherwise the grant, as it stands at each
    call, is what the token may do."""

    __tablename__ = "mcp_tokens"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family_id: Mapped[int] = mapped_column(ForeignKey("mcp_token_families.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh
    scope: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # a refresh token, rotated
