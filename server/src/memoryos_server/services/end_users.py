"""A tenant's end-users: list, get, export, delete (crypto-shredding first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.services.identity import IdentityService, external_user_id_of
from memoryos_server.services.ids import row_number_cursor
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.services.seen import SeenLog
from memoryos_server.services.tenant_audit import TenantAuditService
from memoryos_server.storage.models import User
from memoryos_server.storage.repositories.identity import UserRepository
from memoryos_server.storage.repositories.memories import TENANT, MemoryRepository


@dataclass(frozen=True)
class EndUserSummary:
    public_id: str
    external_user_id: str
    memory_count: int
    active_memory_count: int
    created_at: datetime
    last_seen_at: datetime | None


class EndUserService:
    def __init__(self, runtime: Runtime, *, identity: IdentityService, seen: SeenLog, audit: TenantAuditService) -> None:
        self.rt = runtime
        self.identity = identity
        self.seen = seen
        self.audit = audit

    def list(
        self, session: Session, principal: Principal, *, cursor: str | None, limit: int
    ) -> tuple[list[EndUserSummary], int | None, int]:
        tenant_id = principal.require(Permission.USERS_READ)
        after_id = row_number_cursor(cursor)
        users = UserRepository(session)
        rows = list(users.end_users(tenant_id, after_id=after_id, limit=limit + 1))
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        rows = rows[:limit]
        counts = users.memory_counts([row.id for row in rows])
        return [self._summary(row, counts.get(row.id, (0, 0))) for row in rows], next_cursor, users.count_end_users(tenant_id)

    # ``external_user_id`` below: the tenant's own id for the end-user, or its usr_ public id.

    def get(self, session: Session, principal: Principal, external_user_id: str) -> EndUserSummary:
        principal.require(Permission.USERS_READ)
        user = self.identity.existing_end_user(session, principal, external_user_id)
        counts = UserRepository(session).memory_counts([user.id])
        return self._summary(user, counts.get(user.id, (0, 0)))

    def export(self, session: Session, principal: Principal, external_user_id: str) -> dict[str, Any]:
        """Every memory of the end-user with its full version history, decrypted."""
        principal.require(Permission.USERS_EXPORT)
        user = self.identity.existing_end_user(session, principal, external_user_id)
        return {
            "tenant_id": principal.tenant_public_id,
            "proxy_user_id": user.public_id,
            "external_user_id": external_user_id_of(self.rt.vault, user),
            "exported_at": datetime.now().astimezone().isoformat(),
            "memories": export_memories(self.rt, session, user),
        }

    def delete(self, principal: Principal, external_user_id: str) -> tuple[str, str | None]:
        """Destroy the user's data key and commit that first; then delete their rows, and on
        SQLite fold the write-ahead log into the (securely deleting) database file.

        If the second step never happens (a crash), what remains is ciphertext nobody can read.
        The organisation's audit trail records the erasure (who, how many memories) in the
        first step's transaction. Returns the user's public id and the tenant's own id for them.
        """
        with self.rt.db.session() as session:
            tenant_id = principal.require(Permission.USERS_DELETE)
            user = self.identity.existing_end_user(session, principal, external_user_id)
            active, total = UserRepository(session).memory_counts([user.id]).get(user.id, (0, 0))
            # Read while the key still opens it: the tenant's own id is sealed under that key.
            user_id, public_id, own_id = user.id, user.public_id, external_user_id_of(self.rt.vault, user)
            self.rt.vault.destroy_key(user)
            self.audit.end_user_deleted(
                session, principal, tenant_id=tenant_id, user_public_id=public_id, memories=total, active_memories=active
            )
        with self.rt.db.session() as session:
            MemoryRepository(session, TENANT).purge_owner(user_id, job_family="tenant")
            row = UserRepository(session).by_id(user_id)
            if row is not None:
                UserRepository(session).delete(row)
        self.rt.db.release_deleted()
        return public_id, own_id

    def _summary(self, user: User, counts: tuple[int, int]) -> EndUserSummary:
        active, total = counts
        return EndUserSummary(
            public_id=user.public_id,
            external_user_id=external_user_id_of(self.rt.vault, user) or "",
            memory_count=total,
            active_memory_count=active,
            created_at=user.created_at,
            last_seen_at=self.seen.last_seen(user),
        )


def export_memories(runtime: Runtime, session: Session, owner: User) -> list[dict[str, Any]]:
    repo = MemoryRepository(session, TENANT)
    memories = repo.all_for_owner(owner.id)
    versions = repo.versions_for([m.id for m in memories])
    key = runtime.vault.key(owner)
    exported = []
    for memory in memories:
        exported.append(
            {
                "id": memory.id,
                "content": key.decrypt_text(memory.content_ct, aad=memory.id.encode()),
                "category": memory.category,
                "importance_score": memory.importance,
                "confidence": memory.confidence,
                "is_archived": memory.status == "archived",
                "status": memory.status,
                "disputed": memory.disputed,
                "created_at": memory.created_at.isoformat(),
                "updated_at": memory.updated_at.isoformat(),
                "metadata": key.decrypt_json(memory.metadata_ct, aad=memory.id.encode()) or {},
                # A service writer's claim: its source event, and where it came from.
                "source_event_id": memory.source_event_id,
                "provenance": key.decrypt_json(memory.source_ct, aad=memory.id.encode()) if memory.source_event_id else None,
                "versions": [
                    {
                        "version": v.version,
                        "event": v.event,
                        "content": key.decrypt_text(v.content_ct, aad=memory.id.encode()),
                        "category": v.category,
                        "importance_score": v.importance,
                        "status": v.status,
                        "actor": v.actor,
                        "note": v.note,
                        "source_event_id": v.source_event_id,
                        "created_at": v.created_at.isoformat(),
                    }
                    for v in versions.get(memory.id, [])
                ],
            }
        )
    return exported
