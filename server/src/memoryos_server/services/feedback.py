"""Retrieval feedback from the published SDK's ``Memory.feedback``.

A retrieval is not stored (reads never write), so feedback cannot be tied back to an
end-user's memories. It is kept as a tenant audit event with the outcome and counts only:
the correction text is user data that has no owner key to be encrypted under here, so it is
not stored, and no retrospective extraction is queued (``correction_job_id`` is null).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from memoryos_server.services.audit import AuditService
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal

OUTCOMES = (
    "used_successfully",
    "used_partially",
    "ignored",
    "not_useful",
    "user_corrected",
    "clarification_needed",
)


@dataclass(frozen=True)
class FeedbackRecorded:
    feedback_id: str
    retrieval_id: str
    outcome: str


class RetrievalFeedbackService:
    def __init__(self, audit: AuditService) -> None:
        self.audit = audit

    def record(
        self,
        session: Session,
        principal: Principal,
        *,
        retrieval_id: str,
        outcome: str,
        used_memory_ids: Sequence[str],
        agent_confidence: float | None,
        has_correction: bool,
    ) -> FeedbackRecorded:
        tenant_id = principal.require(Permission.MEMORY_READ)
        feedback_id = f"fbk_{uuid.uuid4().hex}"
        self.audit.record(
            session,
            action="retrieval.feedback",
            actor_type=principal.kind,
            actor_id=principal.credential_id,
            tenant_id=tenant_id,
            detail={
                "feedback_id": feedback_id,
                "retrieval_id": retrieval_id,
                "outcome": outcome,
                "used_memory_count": len(used_memory_ids),
                "agent_confidence": agent_confidence,
                "had_correction": has_correction,
            },
        )
        return FeedbackRecorded(feedback_id, retrieval_id, outcome)
