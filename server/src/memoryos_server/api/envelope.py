"""The body conventions of SPEC §5: request_id + timestamp on every body, payload in ``data``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from memoryos_server.request_context import current_request_id


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def ok(data: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"request_id": current_request_id(), "timestamp": now_iso()}
    if data is not None or not extra:
        body["data"] = data
    body.update(extra)
    return body


def page(items: list[Any], *, next_cursor: str | None, limit: int, total: int, **extra: Any) -> dict[str, Any]:
    return ok(items, pagination={"next_cursor": next_cursor, "limit": limit, "total": total}, **extra)


def flat(**fields: Any) -> dict[str, Any]:
    """For the two add routes, whose fields are top-level."""
    return {"request_id": current_request_id(), "timestamp": now_iso(), **fields}


def error_body(error: str, code: str, *, details: Any = None, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": error,
        "code": code,
        "request_id": current_request_id(),
        "timestamp": now_iso(),
        "details": details,
    }
    if message:
        body["message"] = message
    return body


def error_response(
    status: int, error: str, code: str, *, details: Any = None, message: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(error, code, details=details, message=message), status_code=status, headers=headers)
