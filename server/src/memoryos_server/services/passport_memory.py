"""A passport user's own memories and Pending Questions, the export and the deletion.

The same memory service as everywhere (``MemoryOwner.universal``); this layer only names the
owner (the signed-in user, never an id from the request), the actor written into versions,
and the audit events the user's activity shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.errors import BadRequest, ClarificationNotFound
from memoryos_server.services.audit import AuditService
from memoryos_server.services.connections import ConnectionService
from memoryos_server.services.grants import GrantService
from memoryos_server.services.ids import is_plain_id, row_number_cursor
from memoryos_server.services.memory import AnswerOutcome, MemoryOwner, MemoryService, MemoryView, Page, VersionView
from memoryos_server.services.memory.views import memory_view, version_view
from memoryos_server.services.passport import PassportService
from memoryos_server.storage.models import UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.memories import UNIVERSAL, MemoryRepository
from memoryos_server.storage.repositories.passport import UniversalMemoryListing
from memoryos_server.storage.types import utcnow

SORTS = ("newest", "oldest", "importance")
_STATUSES = ("active", "archived")


def _actor(user: UniversalUser) -> str:
    return f"passport_user:{user.public_id}"


class PassportMemoryService:
    def __init__(
        self,
        memory: MemoryService,
        *,
        passport: PassportService,
        grants: GrantService,
        connections: ConnectionService,
    ) -> None:
        self.memory = memory
        self.passport = passport
        self.grants = grants
        self.connections = connections
        self.audit = AuditService()

    @staticmethod
    def owner(user: UniversalUser) -> MemoryOwner:
        return MemoryOwner.universal(user)

    # --- memories ------------------------------------------------------------------------------

    def list(
        self,
        session: Session,
        user: UniversalUser,
        *,
        categories: Sequence[str] | None = None,
        cursor: str | None = None,
        limit: int = 50,
        sort: str = "newest",
    ) -> Page:
        """Active and archived memories. ``newest`` pages by a keyset cursor; ``oldest`` and
        ``importance`` by position (``o<offset>``), fine for one person's memories."""
        if sort not in SORTS:
            raise BadRequest("invalid_sort", f"sort must be one of {', '.join(SORTS)}")
        owner = self.owner(user)
        if sort == "newest":
            return self.memory.list(session, owner=owner, categories=categories, cursor=cursor, limit=limit)
        offset = _offset(cursor)
        rows = list(
            UniversalMemoryListing(session).page(
                user.id, categories=categories, statuses=_STATUSES, order=sort, offset=offset, limit=limit + 1
            )
        )
        codec = self.memory.codec(owner)
        items = [memory_view(codec, row) for row in rows[:limit]]
        next_cursor = f"o{offset + limit}" if len(rows) > limit else None
        total = MemoryRepository(session, UNIVERSAL).count_for_owner(user.id, categories=categories, statuses=_STATUSES)
        return Page(items, next_cursor, limit, total)

    def get(self, session: Session, user: UniversalUser, memory_id: str) -> MemoryView:
        return self.memory.get(session, owner=self.owner(user), memory_id=memory_id)

    def history(self, session: Session, user: UniversalUser, memory_id: str) -> list[VersionView]:
        return self.memory.history(session, owner=self.owner(user), memory_id=memory_id)

    def authors(self, session: Session, versions: Sequence[VersionView]) -> dict[str, str]:
        """The name of the agent behind each version an agent wrote (``agent:<id>``), deleted
        agents included, so a history says "By: Study Buddy" rather than "an agent"."""
        agent_of = {v.actor: v.actor.split(":", 1)[1].split(" ", 1)[0] for v in versions if v.actor and v.actor.startswith("agent:")}
        agents = AgentRepository(session).any_by_ids(sorted(set(agent_of.values())))
        return {actor: agents[agent_id].name for actor, agent_id in agent_of.items() if agent_id in agents}

    def flag(self, session: Session, user: UniversalUser, memory_id: str, *, flagged: bool) -> MemoryView:
        view = self.memory.flag(session, owner=self.owner(user), memory_id=memory_id, flagged=flagged, actor=_actor(user))
        self._record(session, user, "memory.flagged" if flagged else "memory.unflagged", view)
        return view

    def correct(self, session: Session, user: UniversalUser, memory_id: str, *, corrected_content: str) -> MemoryView:
        text = corrected_content.strip()
        if not text:
            raise BadRequest("empty_correction", "corrected_content must not be empty")
        view = self.memory.update(
            session, owner=self.owner(user), memory_id=memory_id, actor=_actor(user), content=text, event="CORRECT"
        )
        self._record(session, user, "memory.corrected", view)
        return view

    def delete(self, session: Session, user: UniversalUser, memory_id: str) -> None:
        """For good: the memory and its history go (the user asked for it, not an agent)."""
        view = self.memory.get(session, owner=self.owner(user), memory_id=memory_id)
        self.memory.delete(session, owner=self.owner(user), memory_id=memory_id, actor=_actor(user), hard=True)
        self._record(session, user, "memory.deleted", view)

    # --- Pending Questions -------------------------------------------------------------------------

    def questions(
        self, session: Session, user: UniversalUser, *, status: str | None = "open", cursor: str | None = None, limit: int = 50
    ) -> Page:
        return self.memory.questions(session, owner=self.owner(user), status=status, cursor=cursor, limit=limit)

    def answer(self, session: Session, user: UniversalUser, question_id: str, *, answer: str) -> AnswerOutcome:
        if not is_plain_id(question_id):
            raise ClarificationNotFound("no such question")
        outcome = self.memory.answer(session, owner=self.owner(user), conflict_id=question_id, answer=answer, actor=_actor(user))
        self.audit.record(
            session,
            action="question.answered",
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            memory_ids=[*outcome.kept_memory_ids, *outcome.archived_memory_ids],
            detail={"question_id": question_id, "answer": answer},
        )
        return outcome

    # --- everything, and nothing ----------------------------------------------------------------------

    def export(self, session: Session, user: UniversalUser) -> dict[str, Any]:
        """Everything the passport holds, decrypted: memories with every version, questions,
        grants, connections and the activity trail."""
        owner = self.owner(user)
        repo = MemoryRepository(session, UNIVERSAL)
        rows = repo.all_for_owner(user.id)
        versions = repo.versions_for([row.id for row in rows])
        codec = self.memory.codec(owner)
        memories = [
            {"memory": memory_view(codec, row), "versions": [version_view(codec, row.id, v) for v in versions.get(row.id, [])]}
            for row in rows
        ]
        questions = self.memory.questions(session, owner=owner, status=None, limit=10_000).items
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

    def delete_passport(self, user_id: int) -> str:
        """Crypto-shred, then delete every row (see ``PassportService.delete_passport``), and
        drop what this worker caches about the owner."""
        with self.passport.rt.db.session(write=False) as session:
            owner = self.owner(self.passport.user(session, user_id))
        public_id = self.passport.delete_passport(user_id)
        self.memory.forget_owner(owner)
        return public_id

    def _record(self, session: Session, user: UniversalUser, action: str, view: MemoryView) -> None:
        self.audit.record(
            session,
            action=action,
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            memory_ids=[view.id],
            categories=[view.category],
        )


def _offset(cursor: str | None) -> int:
    return row_number_cursor(cursor, prefix="o") or 0
