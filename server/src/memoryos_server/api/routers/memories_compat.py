"""Routes the published SDK (memoryo-sdk 0.1.1) calls beyond SPEC §5's list.

Registered before the memory routes, so ``/v1/memories/edtech-profile`` is not read as a
memory id.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import Field

from memoryos_server.api.deps import ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, Out, ok
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.common import Lenient
from memoryos_server.errors import ClarificationNotFound
from memoryos_server.services.permissions import Permission

router = APIRouter(prefix="/v1/memories", tags=["memories"], route_class=AuthenticatedRoute)

Outcome = Literal[
    "used_successfully", "used_partially", "ignored", "not_useful", "user_corrected", "clarification_needed"
]


class FeedbackIn(Lenient):
    retrieval_id: str = Field(min_length=1, max_length=100)
    outcome: Outcome
    used_memory_ids: list[str] = Field(default_factory=list, max_length=50)
    correction: str | None = Field(default=None, min_length=1, max_length=4000)
    agent_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)


class SourceReviewAnswerIn(Lenient):
    external_user_id: str | None = Field(default=None, max_length=255)
    version: str = Field(min_length=1, max_length=100)
    action: Literal["keep_current", "restate", "dismiss"]


class FeedbackOut(Out):
    feedback_id: str
    retrieval_id: str
    outcome: Outcome
    correction_job_id: None = Field(description="Corrections are not re-extracted: always null")


@router.post("/retrieval-feedback", summary="Record how the agent used a retrieval", response_model=Envelope[FeedbackOut])
def retrieval_feedback(body: FeedbackIn, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    recorded = services.feedback.record(
        session,
        principal,
        retrieval_id=body.retrieval_id,
        outcome=body.outcome,
        used_memory_ids=body.used_memory_ids,
        agent_confidence=body.agent_confidence,
        has_correction=body.correction is not None,
    )
    return ok(
        FeedbackOut(
            feedback_id=recorded.feedback_id, retrieval_id=recorded.retrieval_id, outcome=recorded.outcome, correction_job_id=None
        )
    )


@router.post(
    "/source-reviews/{review_id}/answer",
    summary="Answer a source review (none are issued: always 404)",
    response_model=Envelope[None],
)
def answer_source_review(
    review_id: Annotated[str, Path(max_length=100)], body: SourceReviewAnswerIn, principal: TenantPrincipal
) -> dict[str, Any]:
    # Retrieval never returns source reviews (`source_reviews` is always empty), so no id exists.
    principal.require(Permission.MEMORY_WRITE)
    raise ClarificationNotFound("no such source review")


@router.get(
    "/edtech-profile",
    summary="The EdTech domain profile (no domain schema is enabled: null)",
    response_model=Envelope[None],
)
def edtech_profile(
    principal: TenantPrincipal,
    external_user_id: Annotated[str | None, Query(max_length=255)] = None,
) -> dict[str, Any]:
    principal.require(Permission.MEMORY_READ)
    return ok(None)
