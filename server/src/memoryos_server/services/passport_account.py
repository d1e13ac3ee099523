"""A passport as a whole: everything it holds, as one document, and deleting all of it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.services.audit import AuditService
from memoryos_server.services.connections import ConnectionService
from memoryos_server.services.grants import GrantService
from memoryos_server.services.memory import MemoryService
from memoryos_server.services.memory.views import memory_view, version_view
from memoryos_server.services.passport import PassportService
from memoryos_server.services.passport_scopes import PassportScopes
from memoryos_server.storage.models import UniversalUser
from memoryos_server.storage.repositories.memories import UNIVERSAL, MemoryRepository
from memoryos_server.storage.types import utcnow


class PassportAccountService:
    def __init__(
        self,
        memory: MemoryService,
        *,
        passport: PassportService,
        scopes: PassportScopes,
        grants: GrantService,
        connections: ConnectionService,
        audit: AuditService,
    ) -> None:
        self.memory = memory
        self.passport = passport
        self.scopes = scopes
        self.grants = grants
        self.connections = connections
        self.audit = audit

    def export(self, session: Session, user: UniversalUser) -> dict[str, Any]:
        """Everything the passport holds, decrypted: memories with every version, questions,
        grants, connections and the activity trail."""
        scope = self.scopes.passport_user(user)
        assert scope.owner is not None
        repo = MemoryRepository(session, UNIVERSAL)
        rows = repo.all_for_owner(user.id)
        versions = repo.versions_for([row.id for row in rows])
        codec = self.memory.codec(scope.owner)
        memories = [
            {"memory": memory_view(codec, row), "versions": [version_view(codec, row.id, v) for v in versions.get(row.id, [])]}
            for row in rows
        ]
        questions = self.memory.questions(session, scope, status=None, limit=10_000).items
        activity, _, _ = self.audit.activity(session, user, cursor=None, limit=100_000)
        return {
            "user": user,
            "exported_at": utcnow(),
            "memories": memories,
            "questions": questions,
            "grants": self.grants.list(session, user),
            "connections": self.connections.list(session, user),
            "activity": activity,
        }

    def delete(self, user: UniversalUser) -> str:
        """Crypto-shred, then delete every row (``PassportService.delete_passport``, which runs
        its own two transactions), and drop what this worker caches about the owner."""
        owner = self.scopes.passport_user(user).owner
        assert owner is not None
        public_id = self.passport.delete_passport(user.id)
        self.memory.forget_owner(owner)
        return public_id
