"""Liveness, readiness and metrics. Public on purpose: no data, no secrets."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from memoryos_server.api.deps import RuntimeDep
from memoryos_server.api.envelope import error_response, ok
from memoryos_server.services.health import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, object]:
    return ok({"status": "ok"})


@router.get("/readyz", summary="The database answers and its schema is current", response_model=None)
def readyz(runtime: RuntimeDep) -> JSONResponse | dict[str, object]:
    state = readiness(runtime)
    if state.problem == "database_unavailable":
        return error_response(503, "database_unavailable", "SRV_503", message="the database does not answer")
    if not state.ready:
        return error_response(503, state.problem or "not_ready", "SRV_503", details=state.details)
    return ok({"status": "ready", **state.details})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
