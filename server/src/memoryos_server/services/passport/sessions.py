"""Where a passport user is signed in: their sessions, listed and ended one by one or all but
the current one.

A session id is a secret held only as a keyed hash; a session is listed and ended by its
``public_id`` (``pss_…``), which signs nobody in. The current session is recognised by the
hash of the caller's own token, so nothing secret is ever shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from memoryos_server.errors import SessionNotFound
from memoryos_server.services.audit import AuditService
from memoryos_server.services.passport.service import SESSION_PUBLIC_PREFIX, PassportService
from memoryos_server.storage.models import PassportSession, UniversalUser
from memoryos_server.storage.repositories.passport import PassportSessionRepository
from memoryos_server.storage.types import utcnow


@dataclass(frozen=True)
class SessionView:
    id: str  # the public id
    device: str | None
    signed_in_at: datetime
    last_used_at: datetime | None
    expires_at: datetime
    current: bool


class PassportSessionService:
    def __init__(self, passport: PassportService, *, audit: AuditService) -> None:
        self.passport = passport
        self.audit = audit

    def list(self, session: Session, user: UniversalUser, *, current_token: str | None) -> list[SessionView]:
        """The sessions that still sign in: the current one first, then the most recently used."""
        current = self._hash(current_token)
        rows = PassportSessionRepository(session).live_for_user(user.id, utcnow())
        views = [_view(row, current=row.session_hash == current) for row in rows]
        return sorted(views, key=lambda view: (not view.current, -(view.last_used_at or view.signed_in_at).timestamp()))

    def get(self, session: Session, user: UniversalUser, session_id: str, *, current_token: str | None) -> SessionView:
        row = self._live(session, user, session_id)
        return _view(row, current=row.session_hash == self._hash(current_token))

    def sign_out(self, session: Session, user: UniversalUser, session_id: str, *, current_token: str | None) -> SessionView:
        """End one session (the current one too, if asked: that is signing out here)."""
        row = self._live(session, user, session_id)
        view = _view(row, current=row.session_hash == self._hash(current_token))
        row.revoked_at = utcnow()
        session.flush()
        self.audit.record(
            session,
            action="session.ended",
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            detail={"session_id": view.id, "device": view.device, "current": view.current},
        )
        return view

    def sign_out_others(self, session: Session, user: UniversalUser, *, current_token: str) -> list[SessionView]:
        """End every session but the caller's own; the ones ended."""
        current = self._hash(current_token)
        now = utcnow()
        rows = [row for row in PassportSessionRepository(session).live_for_user(user.id, now) if row.session_hash != current]
        if not rows:
            return []
        ended = [_view(row, current=False) for row in rows]
        for row in rows:
            row.revoked_at = now
        session.flush()
        self.audit.record(
            session,
            action="sessions.ended_others",
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            detail={"count": len(ended), "devices": sorted({view.device for view in ended if view.device})},
        )
        return ended

    def _hash(self, token: str | None) -> str | None:
        return self.passport.session_hash(token) if token else None

    @staticmethod
    def _live(session: Session, user: UniversalUser, session_id: str) -> PassportSession:
        row = (
            PassportSessionRepository(session).live_of_user(user.id, session_id, utcnow())
            if session_id.startswith(SESSION_PUBLIC_PREFIX) and len(session_id) <= 40
            else None
        )
        if row is None:
            raise SessionNotFound("no such session, or it has ended")
        return row


def _view(row: PassportSession, *, current: bool) -> SessionView:
    return SessionView(
        id=row.public_id,
        device=row.device,
        signed_in_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        current=current,
    )
