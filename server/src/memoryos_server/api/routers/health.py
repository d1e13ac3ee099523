"""Liveness, readiness and metrics. Public on purpose: no data, no secrets."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from memoryos_server.api.deps import RuntimeDep
from memoryos_server.api.envelope import error_response, ok
from memoryos_server.storage.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, object]:
    return ok({"status": "ok"})


@router.get("/readyz", summary="The database answers and its schema is current", response_model=None)
def readyz(runtime: RuntimeDep) -> JSONResponse | dict[str, object]:
    try:
        with runtime.db.session(write=False) as session:
            session.execute(text("SELECT 1"))
        revision = current_revision(runtime.db)
    except Exception:  # noqa: BLE001 — readiness reports any database failure as "not ready"
        return error_response(503, "database_unavailable", "SRV_503", message="the database does not answer")
    if revision != head_revision():
        return error_response(503, "migrations_pending", "SRV_503", details={"current": revision})
    return ok({"status": "ready", "database": runtime.db.dialect, "schema_revision": revision})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
