"""Per-request context: the request id, readable from anywhere in the request's task."""

from __future__ import annotations

import secrets
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("memoryos_request_id", default=None)


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def peek_request_id() -> str | None:
    """The id of the request being handled, or None outside one."""
    return _request_id.get()


def current_request_id() -> str:
    value = _request_id.get()
    return value if value else new_request_id()


def set_request_id(value: str) -> object:
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]
