"""Provenance: the services that write claims about a tenant's end-users, and each claim's event.

A service writer is registered by the tenant (``service_key`` is what ``source.service``
names) with its authority per category, and may be bound to one API key. A source event is one
add that carried a ``source``: who claimed it, when it was observed and received, a keyed
digest of what it said (to tell a replay from a different payload), and the first answer (to
replay it). Scope, evidence and the answer are ciphertext under the owner's data key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from memoryos_server.storage.models.base import Base, Timestamped
from memoryos_server.storage.types import BigIntPK, UTCDateTime


class ServiceWriter(Timestamped, Base):
    __tablename__ = "service_writers"
    __table_args__ = (UniqueConstraint("tenant_id", "service_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    service_key: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    default_priority: Mapped[int] = mapped_column(Integer)
    # {category: priority} for the categories that differ from the default.
    category_priorities: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Claims are accepted only through this key when set; a deleted key leaves none bound.
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))


class SourceEvent(Base):
    __tablename__ = "source_events"
    # One event id per service and tenant: the same id again is a replay or a conflict.
    __table_args__ = (UniqueConstraint("tenant_id", "service_key", "event_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # sev_…
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    service_key: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(255))
    observed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # HMAC-SHA-256 under the owner's data key of what the event says (messages, how to read
    # them, scope, evidence): equal payloads match, and nothing can be confirmed from it.
    payload_hash: Mapped[str] = mapped_column(String(64))
    scope_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    answer_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # the add's first answer, replayed
    job_id: Mapped[str | None] = mapped_column(String(40))
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    actor: Mapped[str | None] = mapped_column(String(120))


Index("ix_source_events_tenant_received", SourceEvent.tenant_id, SourceEvent.received_at, SourceEvent.id)
