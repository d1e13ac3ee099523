"""The body conventions of SPEC §5: request_id + timestamp on every body, payload in ``data``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

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


# --- the same conventions as response models: what /openapi.json declares for every route ------------

T = TypeVar("T")


def _iso(value: datetime) -> str:
    return value.isoformat()


# A moment as the API writes it: ISO 8601 with its offset, exactly as ``datetime.isoformat``.
Timestamp = Annotated[
    datetime, PlainSerializer(_iso, return_type=str), WithJsonSchema({"type": "string", "format": "date-time"})
]


class Out(BaseModel):
    """A response body or a part of one; ``extra="forbid"`` so a field nobody declared fails the
    test that checks real answers against /openapi.json instead of slipping out."""

    # from_attributes: a view whose fields carry the same names validates as it is.
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class Envelope(Out, Generic[T]):
    """``{request_id, timestamp, data}``: every success body but the two add routes'."""

    request_id: str
    timestamp: str
    data: T


class Pagination(Out):
    next_cursor: str | None
    limit: int
    total: int


class Paged(Envelope[list[T]], Generic[T]):
    pagination: Pagination


class ErrorOut(Out):
    """Every error: ``{error, code, request_id, timestamp, details, message?}`` (SPEC §5)."""

    error: str = Field(description="snake_case name of the error, e.g. end_user_required")
    code: str = Field(description="AUTH_001, REQ_422, …")
    request_id: str
    timestamp: str
    details: Any = Field(default=None, description="Field errors for REQ_422; other context elsewhere")
    message: str | None = None


_ERRORS = {
    400: "Bad request (REQ_400), e.g. malformed JSON or end_user_required",
    401: "Missing or bad credential (AUTH_001, UUI_401, UUI_OTP_401)",
    403: "Not allowed (AUTH_003, UAT_001, UAT_002, PLINK_403, PROV_403)",
    404: "Not found (MEM_404, AGN_404, GNT_404, JOB_404, USR_404, PROV_404, …)",
    409: "Conflict with the current state (CLR_409, GNT_409, REQ_409, PROV_409)",
    410: "Gone: a one-time link used or expired (PLINK_410)",
    413: "Body too large (REQ_413)",
    422: "Validation failed (REQ_422; PROV_422 for a service writer or an add's source): details lists each field's error",
    429: "Rate limited (RATE_429), with Retry-After",
    500: "An unexpected failure on our side (SRV_500), with the request id to quote",
    503: "Temporarily unavailable (SRV_503)",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description} for status, description in _ERRORS.items()
}
