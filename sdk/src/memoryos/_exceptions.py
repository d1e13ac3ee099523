"""Every error the SDK raises on purpose.

::

    MemoryOSError                 .status_code .code .request_id .details .error
    ├── AuthError                 401 (bad tenant credential, no passport session, wrong code)
    ├── PermissionDeniedError     403
    │   ├── CrossAgentAuthError   403 UAT_001: agent key or UUI missing, unknown or mismatched
    │   └── WriteNotPermitted     403 UAT_002: the agent's grant is read-only or absent
    ├── NotFoundError             404
    ├── ConflictError             409
    ├── ValidationError           422 (``details`` holds the field errors)
    ├── BadRequestError           400 (e.g. ``end_user_required``)
    ├── RateLimitError            429 (``.retry_after`` in seconds, from ``Retry-After``)
    ├── ServerError               5xx
    └── APIConnectionError        the request never got an HTTP answer
        └── APITimeoutError

The first four names and their status codes are those of the published SDK, so
``except AuthError`` catches exactly the 401s it always did. The class is chosen by the
HTTP status first and refined by the error code only where both agree, so a server that
sends a code with an unexpected status still yields the class its status implies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


class MemoryOSError(Exception):
    """Base class of every SDK error."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        details: Any | None = None,
        error: str | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.details = details
        #: The server's snake_case error name, e.g. ``"write_not_permitted"``.
        self.error = error
        self.response = response

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"code={self.code!r}, request_id={self.request_id!r})"
        )


class AuthError(MemoryOSError):
    """401: the credential was missing, wrong or expired."""


class PermissionDeniedError(MemoryOSError):
    """403: the caller is known but may not do this."""


class CrossAgentAuthError(PermissionDeniedError):
    """403 ``UAT_001``: the agent key or the UUI is missing, unknown, or belongs to another agent."""


class WriteNotPermitted(PermissionDeniedError):
    """403 ``UAT_002``: the agent has no active ``read_write`` grant for this user."""


class NotFoundError(MemoryOSError):
    """404."""


class ConflictError(MemoryOSError):
    """409, e.g. a clarification that was already answered."""


class ValidationError(MemoryOSError):
    """422: the server rejected the request body; ``details`` lists the fields."""


class BadRequestError(MemoryOSError):
    """400, e.g. ``end_user_required``."""


class RateLimitError(MemoryOSError):
    """429 after the SDK's own retries ran out (or the server asked for a long wait)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        details: Any | None = None,
        error: str | None = None,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message,
            status_code=status_code,
            code=code,
            request_id=request_id,
            details=details,
            error=error,
            response=response,
        )
        #: Seconds the server asked the client to wait, when it said so.
        self.retry_after = retry_after


class ServerError(MemoryOSError):
    """5xx after the SDK's own retries ran out."""


class APIConnectionError(MemoryOSError):
    """The request got no HTTP answer (refused connection, DNS failure, broken stream)."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


_BY_STATUS: dict[int, type[MemoryOSError]] = {
    400: BadRequestError,
    401: AuthError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}

_BY_STATUS_AND_CODE: dict[tuple[int, str], type[MemoryOSError]] = {
    (403, "UAT_001"): CrossAgentAuthError,
    (403, "UAT_002"): WriteNotPermitted,
}


def error_class_for(status_code: int | None, code: str | None) -> type[MemoryOSError]:
    """The exception class for an HTTP status and a MemoryOS error code."""
    if status_code is None:
        return MemoryOSError
    if code is not None and (status_code, code) in _BY_STATUS_AND_CODE:
        return _BY_STATUS_AND_CODE[(status_code, code)]
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, MemoryOSError)


def map_sdk_error(
    *,
    status_code: int | None,
    message: str,
    code: str | None = None,
    request_id: str | None = None,
    details: Any | None = None,
    error: str | None = None,
    retry_after: float | None = None,
    response: httpx.Response | None = None,
) -> MemoryOSError:
    """Build the error for a failed response (same keyword interface as the published SDK)."""
    error_cls = error_class_for(status_code, code)
    fields: dict[str, Any] = {
        "status_code": status_code,
        "code": code,
        "request_id": request_id,
        "details": details,
        "error": error,
        "response": response,
    }
    if issubclass(error_cls, RateLimitError):
        return error_cls(message, retry_after=retry_after, **fields)
    return error_cls(message, **fields)
