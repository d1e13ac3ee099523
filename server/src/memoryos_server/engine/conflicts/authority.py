"""Which of two services' contradicting claims stands (SPEC §7, provenance).

In order: the writer's authority for the memory's category (higher wins), then the
observation time (the newer wins), then the extraction's confidence (higher wins). When all
three are equal nothing decides, and a person must: ``winner`` is None and the caller opens a
review. A claim whose writer is no longer registered has no authority (below any priority).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

NO_AUTHORITY = -1  # a claim whose writer was removed


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    service: str
    priority: int  # the writer's authority for the category, NO_AUTHORITY when unregistered
    observed_at: datetime
    confidence: float


@dataclass(frozen=True, slots=True)
class Verdict:
    winner: Literal["new", "existing"] | None  # None: a tie, for a person to settle
    reason: str


def settle(new: ClaimFacts, existing: ClaimFacts, *, category: str) -> Verdict:
    """The verdict between a new claim and the existing one it contradicts, with the reason in
    words (kept in the loser's history)."""
    if new.priority != existing.priority:
        winner, loser = (new, existing) if new.priority > existing.priority else (existing, new)
        return Verdict(
            "new" if winner is new else "existing",
            f"{_authority(winner, category)} outranks {_authority(loser, category)}",
        )
    same = f"same authority for {category} ({_priority(new.priority)})"
    if new.observed_at != existing.observed_at:
        winner, loser = (new, existing) if new.observed_at > existing.observed_at else (existing, new)
        return Verdict(
            "new" if winner is new else "existing",
            f"{same}; {winner.service} observed it later ({winner.observed_at.isoformat()}) "
            f"than {loser.service} ({loser.observed_at.isoformat()})",
        )
    if round(new.confidence, 6) != round(existing.confidence, 6):
        winner, loser = (new, existing) if new.confidence > existing.confidence else (existing, new)
        return Verdict(
            "new" if winner is new else "existing",
            f"{same}, observed at the same time; {winner.service}'s claim was extracted with more "
            f"confidence ({winner.confidence:.2f} against {loser.confidence:.2f})",
        )
    return Verdict(
        None,
        f"{same}, observed at the same time ({new.observed_at.isoformat()}), extracted with the same "
        f"confidence: {existing.service} and {new.service} disagree and a person must decide",
    )


def _authority(claim: ClaimFacts, category: str) -> str:
    return f"{claim.service} (authority {_priority(claim.priority)} for {category})"


def _priority(priority: int) -> str:
    return "none: no longer a registered writer" if priority == NO_AUTHORITY else str(priority)
