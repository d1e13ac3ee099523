"""MCP clients, their authorization codes and token families (docs/mcp.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from memoryos_server.storage.models import GlobalAgent, McpAuthorizationCode, McpClient, McpToken, McpTokenFamily
from memoryos_server.storage.repositories.base import Repository


class McpClientRepository(Repository):
    def by_client_id(self, client_id: str) -> tuple[McpClient, GlobalAgent] | None:
        """A client whose agent row still stands (not deleted)."""
        row = self.session.execute(
            select(McpClient, GlobalAgent)
            .join(GlobalAgent, GlobalAgent.id == McpClient.agent_id)
            .where(McpClient.client_id == client_id, GlobalAgent.deleted_at.is_(None))
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else None

    def by_pk(self, client_pk: int) -> McpClient | None:
        return self.one_or_none(select(McpClient).where(McpClient.id == client_pk))

    def by_agent_ids(self, agent_ids: Sequence[str]) -> dict[str, McpClient]:
        if not agent_ids:
            return {}
        rows = self.all(select(McpClient).where(McpClient.agent_id.in_(list(set(agent_ids)))))
        return {row.agent_id: row for row in rows}

    def insert_or_get(self, agent: GlobalAgent, client: McpClient) -> tuple[McpClient, GlobalAgent]:
        """Insert a client with its agent row, or return the pair a concurrent request inserted
        first (two first sights of one metadata document URL)."""
        try:
            with self.session.begin_nested():
                self.session.add(agent)
                self.session.flush()
                client.agent_id = agent.id
                self.session.add(client)
                self.session.flush()
            return client, agent
        except IntegrityError:
            winner = self.by_client_id(client.client_id)
            if winner is None:
                raise
            return winner


class McpCodeRepository(Repository):
    def by_hash(self, code_hash: str) -> McpAuthorizationCode | None:
        return self.one_or_none(select(McpAuthorizationCode).where(McpAuthorizationCode.code_hash == code_hash))

    def consume(self, code_id: int, now: datetime) -> bool:
        """Mark the code used; False when it was used already (single use under races too)."""
        result = self.session.execute(
            update(McpAuthorizationCode)
            .where(McpAuthorizationCode.id == code_id, McpAuthorizationCode.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0))


class McpTokenRepository(Repository):
    def by_hash(self, token_hash: str) -> tuple[McpToken, McpTokenFamily] | None:
        row = self.session.execute(
            select(McpToken, McpTokenFamily)
            .join(McpTokenFamily, McpTokenFamily.id == McpToken.family_id)
            .where(McpToken.token_hash == token_hash)
            .limit(1)
        ).first()
        return (row[0], row[1]) if row else None

    def family(self, family_id: int) -> McpTokenFamily | None:
        return self.one_or_none(select(McpTokenFamily).where(McpTokenFamily.id == family_id))

    def rotate(self, token_id: int, now: datetime) -> bool:
        """Mark a refresh token used; False when it had been used already (a replay)."""
        result = self.session.execute(
            update(McpToken).where(McpToken.id == token_id, McpToken.used_at.is_(None)).values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    def revoke_family(self, family_id: int, now: datetime, reason: str) -> None:
        self.session.execute(
            update(McpTokenFamily)
            .where(McpTokenFamily.id == family_id, McpTokenFamily.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )

    def revoke_pair(self, user_id: int, agent_id: str, now: datetime, reason: str) -> None:
        """End every family one client holds for one person (the grant was revoked)."""
        self.session.execute(
            update(McpTokenFamily)
            .where(
                McpTokenFamily.universal_user_id == user_id,
                McpTokenFamily.agent_id == agent_id,
                McpTokenFamily.revoked_at.is_(None),
            )
            .values(revoked_at=now, revoked_reason=reason)
        )

    def drop_expired_access(self, family_id: int, now: datetime) -> None:
        """Expired access tokens of a family serve nothing any more (refresh tokens stay: a used
        one must still be recognised as a replay)."""
        self.session.execute(
            delete(McpToken).where(McpToken.family_id == family_id, McpToken.kind == "access", McpToken.expires_at <= now)
        )

    def purge_user(self, user_id: int) -> None:
        """Every code and token of one person (deleting a passport)."""
        families = select(McpTokenFamily.id).where(McpTokenFamily.universal_user_id == user_id)
        self.session.execute(delete(McpToken).where(McpToken.family_id.in_(families)))
        self.session.execute(delete(McpAuthorizationCode).where(McpAuthorizationCode.universal_user_id == user_id))
        self.session.execute(delete(McpTokenFamily).where(McpTokenFamily.universal_user_id == user_id))
