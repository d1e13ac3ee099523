"""The SDK's errors, under the module path of the published SDK (``memoryos.errors``)."""

from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthError,
    BadRequestError,
    ConflictError,
    CrossAgentAuthError,
    MemoryOSError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WriteNotPermitted,
    error_class_for,
    map_sdk_error,
)

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthError",
    "BadRequestError",
    "ConflictError",
    "CrossAgentAuthError",
    "MemoryOSError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "WriteNotPermitted",
    "error_class_for",
    "map_sdk_error",
]
