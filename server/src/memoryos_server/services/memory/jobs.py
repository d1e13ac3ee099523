"""Extraction jobs: queued for the worker (LLM extraction) or recorded as already done (inline).

Payloads and results are encrypted with the owner's data key (``aad = job id``): a job row
holds the messages of an add until the worker has run it.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.types import ChatMessage
from memoryos_server.services.memory.claims import Claim
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.ingest import AddContext
from memoryos_server.services.memory.owner import MemoryOwner, job_family
from memoryos_server.services.memory.types import AddEvent, JobView
from memoryos_server.storage.models import Job

# A worker that has not finished a job within this long is presumed dead; another takes it.
LEASE = timedelta(minutes=10)
MAX_BACKOFF_SECONDS = 300
# A job that ended without writing because its permission was gone when the worker ran it.
BLOCKED = "blocked"


def new_job_id() -> str:
    return f"job_{secrets.token_hex(12)}"


def _aad(job_id: str) -> bytes:
    return f"job:{job_id}".encode()


def record_completed(
    session: Session,
    owner: MemoryOwner,
    codec: MemoryCodec,
    *,
    events: list[AddEvent],
    skipped: int,
    extractor: str,
    agent_id: str | None,
    now: datetime,
) -> Job:
    """The job of an add whose extraction ran inline: complete from the start."""
    job_id = new_job_id()
    created = [e.id for e in events if e.event in ("ADD", "CONFLICT")]
    job = Job(
        id=job_id,
        family=job_family(owner),
        tenant_id=owner.tenant_id if owner.is_tenant_family else None,
        owner_id=owner.id,
        agent_id=agent_id,
        status="completed",
        result_ct=codec.key.encrypt_json({"results": [e.as_dict() for e in events]}, aad=_aad(job_id)),
        extractor=extractor[:32],
        attempts=1,
        memories_created=len(created),
        skipped=skipped,
        created_memory_ids=created,
        available_at=now,
        started_at=now,
        completed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    return job


def enqueue(
    session: Session,
    owner: MemoryOwner,
    codec: MemoryCodec,
    *,
    messages: list[ChatMessage],
    infer: bool,
    category: str | None,
    allowed_categories: list[str] | None,
    context: AddContext,
    now: datetime,
) -> Job:
    job_id = new_job_id()
    payload = {
        "messages": [
            {"role": m.role, "content": m.content, "occurred_at": m.occurred_at.isoformat() if m.occurred_at else None}
            for m in messages
        ],
        "infer": infer,
        "category": category,
        "allowed_categories": allowed_categories,
        "context": {
            "actor": context.actor,
            "agent_id": context.agent_id,
            "api_key_id": context.api_key_id,
            "conversation_id": context.conversation_id,
            "metadata": context.metadata,
            "source": context.source,
            "claim": context.claim.as_payload() if context.claim is not None else None,
        },
    }
    job = Job(
        id=job_id,
        family=job_family(owner),
        tenant_id=owner.tenant_id if owner.is_tenant_family else None,
        owner_id=owner.id,
        agent_id=context.agent_id,
        status="queued",
        payload_ct=codec.key.encrypt_json(payload, aad=_aad(job_id)),
        attempts=0,
        memories_created=0,
        skipped=0,
        created_memory_ids=[],
        available_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    return job


def open_payload(codec: MemoryCodec, job: Job) -> dict[str, Any]:
    payload: dict[str, Any] = codec.key.decrypt_json(job.payload_ct, aad=_aad(job.id))
    return payload


def payload_messages(payload: dict[str, Any]) -> list[ChatMessage]:
    return [
        ChatMessage(
            role=m["role"],
            content=m["content"],
            occurred_at=datetime.fromisoformat(m["occurred_at"]) if m.get("occurred_at") else None,
        )
        for m in payload["messages"]
    ]


def payload_context(payload: dict[str, Any]) -> AddContext:
    c = payload["context"]
    return AddContext(
        actor=c["actor"],
        agent_id=c.get("agent_id"),
        api_key_id=c.get("api_key_id"),
        conversation_id=c.get("conversation_id"),
        metadata=c.get("metadata"),
        source=c.get("source"),
        claim=Claim.from_payload(c.get("claim")),
    )


def complete(
    job: Job,
    codec: MemoryCodec,
    *,
    events: list[AddEvent],
    skipped: int,
    extractor: str,
    fell_back: bool,
    fallback_reason: str | None,
    now: datetime,
) -> None:
    created = [e.id for e in events if e.event in ("ADD", "CONFLICT")]
    job.status = "completed"
    job.extractor = extractor[:32]
    job.memories_created = len(created)
    job.created_memory_ids = created
    job.skipped = skipped
    job.error = None
    job.payload_ct = None  # the messages are not kept once extracted
    job.result_ct = codec.key.encrypt_json(
        {"results": [e.as_dict() for e in events], "fell_back": fell_back, "fallback_reason": fallback_reason},
        aad=_aad(job.id),
    )
    job.locked_until = None
    job.completed_at = now
    job.updated_at = now


def block(job: Job, codec: MemoryCodec, *, reason: str, now: datetime) -> None:
    """The job ends without writing: the permission it was queued under no longer holds.

    ``reason`` (``grant_revoked``, ``grant_expired``, …) is kept in ``error``; the status
    ``blocked`` tells it apart from a failure.
    """
    job.status = BLOCKED
    job.error = reason[:500]
    job.memories_created = 0
    job.created_memory_ids = []
    job.payload_ct = None  # nothing will ever extract these messages now
    job.result_ct = codec.key.encrypt_json({"results": []}, aad=_aad(job.id))
    job.locked_until = None
    job.completed_at = now
    job.updated_at = now


def blocked_reason(view: JobView) -> str | None:
    return view.error if view.status == BLOCKED else None


def fail(job: Job, *, error: str, max_attempts: int, now: datetime) -> None:
    """A failed attempt waits (exponential backoff) for another, until the last: then dead."""
    job.error = error[:500]
    job.locked_until = None
    job.updated_at = now
    if job.attempts >= max_attempts:
        # The messages stay (encrypted with their owner's key) until an operator retries the
        # job or drops it (services/operator.py): a dead job can then be run again once the
        # cause is fixed.
        job.status = "dead"
        job.completed_at = now
        return
    job.status = "failed"
    job.available_at = now + timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2 ** max(job.attempts, 1)))


def view(job: Job, codec: MemoryCodec | None) -> JobView:
    results: list[AddEvent] | None = None
    if job.result_ct is not None and codec is not None:
        stored = codec.key.decrypt_json(job.result_ct, aad=_aad(job.id)) or {}
        results = [AddEvent(r["id"], r["event"], r["memory"], r["category"]) for r in stored.get("results", [])]
    return JobView(
        job_id=job.id,
        family=job.family,
        status=job.status,
        extractor=job.extractor,
        attempts=int(job.attempts or 0),
        memories_created=int(job.memories_created or 0),
        created_memory_ids=list(job.created_memory_ids or []),
        skipped=int(job.skipped or 0),
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        results=results,
    )
