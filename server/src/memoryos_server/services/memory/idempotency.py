"""Replaying the first answer to a repeated add (``Idempotency-Key``, or ``idempotency_key``).

The first request inserts its record before doing any work, inside the caller's transaction:
a concurrent repeat's insert then collides on the unique (scope, key) index, waits for the
first transaction to end (PostgreSQL; SQLite has one writer anyway), and replays what it
stored. The stored answer is the exact response body, encrypted with the owner's key,
behind a keyed fingerprint of what the request asks to write (``add_request``): the same key
with other messages is refused (422 ``idempotency_key_reused``) instead of answering for a
request that was never made.
Keys are scoped to the owner and the kind of caller (a tenant's backend, whichever of its keys
it uses; one agent), so a retry after a key rotation still replays.
A request that fails stores nothing, so it may be retried with the same key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.types import ChatMessage
from memoryos_server.errors import BadRequest, IdempotencyKeyReused, ServiceUnavailable
from memoryos_server.services.memory.owner import MemoryOwner, job_family
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import IdempotencyRecord
from memoryos_server.storage.repositories.jobs import IdempotencyRepository
from memoryos_server.storage.types import utcnow

MAX_KEY_LENGTH = 255
# Stored plaintext: this marker, the request's fingerprint (64 hex characters), the body.
_FORMAT = b"v2:"
_FINGERPRINT_LENGTH = 64


class Idempotency:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def scope(self, owner: MemoryOwner, caller: str) -> str:
        """``{family}:{owner id}:{caller}`` — the prefix ``purge_owner`` deletes by."""
        return f"{job_family(owner)}:{owner.id}:{caller}"[:120]

    def once(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        caller: str,
        key: str | None,
        request: Mapping[str, Any],
        produce: Callable[[], bytes],
    ) -> tuple[bytes, bool]:
        """The answer for this key: ``produce()``'s, or the first one's. True when replayed.
        ``request`` is what the caller asked for (JSON-able); a repeat must ask the same."""
        if key is None:
            return produce(), False
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise BadRequest("invalid_idempotency_key", f"an idempotency key is 1–{MAX_KEY_LENGTH} characters")
        now = utcnow()
        scope = self.scope(owner, caller)
        key_hash = self.rt.hasher.hash(key, purpose="idempotency")
        fingerprint = self.rt.hasher.hash(
            json.dumps(request, sort_keys=True, separators=(",", ":"), default=str), purpose="idempotency-request"
        ).encode()
        aad = f"idempotency:{scope}:{key_hash}".encode()
        data_key = self.rt.vault.key(owner.row)
        repo = IdempotencyRepository(session)
        found = repo.find(scope, key_hash, now=now)
        if found is not None and found.response_ct:
            return _replay(data_key.decrypt(found.response_ct, aad=aad), fingerprint), True
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
            return _replay(data_key.decrypt(winner.response_ct, aad=aad), fingerprint), True
        body = produce()
        record.response_ct = data_key.encrypt(_FORMAT + fingerprint + body, aad=aad)
        session.flush()
        return body, False


def _replay(stored: bytes, fingerprint: bytes) -> bytes:
    if not stored.startswith(_FORMAT):
        return stored  # stored before requests were fingerprinted: the body alone
    start = len(_FORMAT)
    if stored[start : start + _FINGERPRINT_LENGTH] != fingerprint:
        raise IdempotencyKeyReused("this idempotency key was used with a different request")
    return stored[start + _FINGERPRINT_LENGTH :]


def add_request(messages: Sequence[ChatMessage], **options: Any) -> dict[str, Any]:
    """What an add asks to be written, as an idempotency fingerprint sees it: the messages and
    how to read them. Provenance (metadata, source, agent and conversation ids) stays out:
    clients stamp it anew on a retry (the published SDK's ``Memory.source`` draws a fresh
    event id and time on every call)."""
    return {"messages": [[m.role, m.content, m.occurred_at] for m in messages], **options}
