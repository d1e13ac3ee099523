"""Liveness, readiness and metrics. Public on purpose: no data, no secrets."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from memoryos_server.api.deps import RuntimeDep
from memoryos_server.api.envelope import Envelope, ErrorOut, Out, error_response, ok
from memoryos_server.services.health import readiness

router = APIRouter(tags=["operations"])
PUBLIC: dict[str, Any] = {"security": []}


class AliveOut(Out):
    status: Literal["ok"]


class ReadyOut(Out):
    status: Literal["ready"]
    database: str = Field(description="sqlite or postgresql")
    schema_revision: str | None


@router.get("/healthz", summary="The process is alive", response_model=Envelope[AliveOut], openapi_extra=PUBLIC)
def healthz() -> dict[str, Any]:
    return ok(AliveOut(status="ok"))


@router.get(
    "/readyz",
    summary="The database answers and its schema is current",
    response_model=Envelope[ReadyOut],
    responses={503: {"model": ErrorOut, "description": "database_unavailable or migrations_pending (SRV_503)"}},
    openapi_extra=PUBLIC,
)
def readyz(runtime: RuntimeDep) -> Any:
    state = readiness(runtime)
    if state.problem == "database_unavailable":
        return error_response(503, "database_unavailable", "SRV_503", message="the database does not answer")
    if not state.ready:
        return error_response(503, state.problem or "not_ready", "SRV_503", details=state.details)
    return ok(ReadyOut(status="ready", **state.details))


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}, "description": "Prometheus text format"}},
    openapi_extra=PUBLIC,
)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
