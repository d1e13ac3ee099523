"""Rows to decrypted views."""

from __future__ import annotations

from typing import Any

from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.types import MemoryView, VersionSource, VersionView
from memoryos_server.storage.index import categories_of


def memory_view(codec: MemoryCodec, row: Any, *, content: str | None = None) -> MemoryView:
    return MemoryView(
        id=row.id,
        content=content if content is not None else codec.open(row.id, row.content_ct),
        category=row.category,
        also_categories=tuple(categories_of(row.doubt_mask or 0)),
        importance=float(row.importance),
        original_importance=float(row.original_importance),
        confidence=float(row.confidence),
        status=row.status,
        disputed=bool(row.disputed),
        flagged=bool(row.flagged),
        unconfirmed=bool(row.unconfirmed),
        metadata=codec.open_json(row.id, row.metadata_ct) or {},
        source=codec.open_json(row.id, row.source_ct),
        agent_id=row.agent_id,
        conversation_id=codec.open_conversation(row.id, row.conversation_ct),
        version=int(row.version or 1),
        access_count=int(row.access_count or 0),
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_accessed=row.last_accessed,
        valid_at=row.valid_at,
        archived_at=row.archived_at,
        source_event_id=getattr(row, "source_event_id", None),
    )


def version_view(
    codec: MemoryCodec, memory_id: str, row: Any, *, actor_name: str | None = None, source: VersionSource | None = None
) -> VersionView:
    return VersionView(
        version=int(row.version),
        event=row.event,
        content=codec.open(memory_id, row.content_ct),
        category=row.category,
        importance=float(row.importance),
        status=row.status,
        actor=row.actor,
        created_at=row.created_at,
        actor_name=actor_name,
        note=row.note,
        source=source,
    )
