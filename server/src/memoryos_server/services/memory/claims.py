"""Claims: memories a registered service writer stated about an end-user, and who wins when two
services contradict each other.

An add with a ``source`` carries a ``Claim`` (its source event, made by ``services/provenance.py``
before the add runs). Every memory it writes points to that event and keeps a copy of its
provenance. When extraction finds that a claim contradicts an existing memory that is itself
another claim, ``ClaimJudge`` applies the rule of ``engine.conflicts.authority``: the writer's
authority for the category, then the newer observation, then the extraction's confidence; a
tie goes to a person. A contradiction with anything that is not a claim (the end-user's own
words) is left to the owner, as any other contradiction is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.conflicts.authority import NO_AUTHORITY, ClaimFacts, Verdict, settle
from memoryos_server.storage.repositories.provenance import ServiceWriterRepository, SourceEventRepository


@dataclass(frozen=True)
class Claim:
    """What an add from a service writer stamps on its memories."""

    source_event_id: str
    service: str
    observed_at: datetime
    # The memory's copy of its source (service, event_id, observed_at, received_at, scope,
    # evidence, payload digest): ``provenance`` in every read.
    provenance: dict[str, Any]

    def as_payload(self) -> dict[str, Any]:
        """For a queued job's payload (JSON)."""
        return {
            "source_event_id": self.source_event_id,
            "service": self.service,
            "observed_at": self.observed_at.isoformat(),
            "provenance": self.provenance,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any] | None) -> Claim | None:
        if not payload:
            return None
        return cls(
            source_event_id=payload["source_event_id"],
            service=payload["service"],
            observed_at=datetime.fromisoformat(payload["observed_at"]),
            provenance=payload["provenance"],
        )


def priority_of(writer: Any, category: str) -> int:
    """A writer's authority for ``category``: its rule for the category, else its default."""
    rules = writer.category_priorities or {}
    return int(rules.get(category, writer.default_priority))


class ClaimJudge:
    """Settles a new claim against an existing memory of one tenant, reading the writers'
    current rules (a rule changed later applies to later contradictions)."""

    def __init__(self, session: Session, tenant_id: int) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._writers: dict[str, Any] | None = None

    def settle(self, claim: Claim, *, category: str, confidence: float, existing: Any) -> Verdict | None:
        """The verdict between ``claim`` (a candidate of ``category``) and ``existing`` (a memory
        row); None when ``existing`` is no service's claim."""
        event_id = getattr(existing, "source_event_id", None)
        if event_id is None:
            return None
        event = SourceEventRepository(self.session).by_ids(self.tenant_id, [event_id]).get(event_id)
        if event is None:
            return None
        new = ClaimFacts(claim.service, self._priority(claim.service, category), claim.observed_at, confidence)
        old = ClaimFacts(
            event.service_key, self._priority(event.service_key, category), event.observed_at, float(existing.confidence)
        )
        return settle(new, old, category=category)

    def _priority(self, service: str, category: str) -> int:
        if self._writers is None:
            self._writers = {w.service_key: w for w in ServiceWriterRepository(self.session).for_tenant(self.tenant_id)}
        writer = self._writers.get(service)
        return priority_of(writer, category) if writer is not None else NO_AUTHORITY
