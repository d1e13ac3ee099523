"""Replaying the first answer to a repeated add (``Idempotency-Key``, or ``idempotency_key``).

The first request inserts its record before doing any work, inside the caller's transaction:
a concurrent repeat's insert then collides on the unique (scope, key) index, waits for the
first transaction to end (PostgreSQL; SQLite has one writer anyway), and replays what it
stored. The stored answer is the exact response body, encrypted with the owner's key.
A request that fails stores nothing, so it may be retried with the same key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from memoryos_server.errors import BadRequest, ServiceUnavailable
from memoryos_server.services.memory.owner import MemoryOwner, job_family
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import IdempotencyRecord
from memoryos_server.storage.repositories.jobs import IdempotencyRepository
from memoryos_server.storage.types import utcnow

MAX_KEY_LENGTH = 255


class Idempotency:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def scope(self, owner: MemoryOwner, caller: str) -> str:
        """``{family}:{owner id}:{caller}`` — the prefix ``purge_owner`` deletes by."""
        return f"{job_family(owner)}:{owner.id}:{caller}"[:120]

    def once(
        self, session: Session, *, owner: MemoryOwner, caller: str, key: str | None, produce: Callable[[], bytes]
    ) -> tuple[bytes, bool]:
        """The answer for this key: ``produce()``'s, or the first one's. True when replayed."""
        if key is None:
            return produce(), False
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise BadRequest("invalid_idempotency_key", f"an idempotency key is 1–{MAX_KEY_LENGTH} characters")
        now = utcnow()
        scope = self.scope(owner, caller)
        key_hash = self.rt.hasher.hash(key, purpose="idempotency")
        aad = f"idempotency:{scope}:{key_hash}".encode()
        data_key = self.rt.vault.key(owner.row)
        repo = IdempotencyRepository(session)
        found = repo.find(scope, key_hash, now=now)
        if found is not None and found.response_ct:
            return data_key.decrypt(found.response_ct, aad=aad), True
        record = IdempotencyRecord(
            scope=scope,
            key_hash=key_hash,
            response_ct=b"",
            created_at=now,
            expires_at=now + timedelta(seconds=self.rt.settings.idempotency_ttl_seconds),
        )
        if not repo.claim(record, now=now):
            winner = repo.find(scope, key_hash, now=now)
            if winner is None or not winner.response_ct:
                raise ServiceUnavailable("a request with this idempotency key is still running; try again")
            return data_key.decrypt(winner.response_ct, aad=aad), True
        body = produce()
        record.response_ct = data_key.encrypt(body, aad=aad)
        session.flush()
        return body, False
