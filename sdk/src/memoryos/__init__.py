"""MemoryOS Python SDK.

``Memory`` / ``AsyncMemory`` for tenant-scoped memory (tenant API key), and
``UniversalMemory`` / ``AsyncUniversalMemory`` (also in :mod:`memoryos.universal`) for
Memory Passport agents. Every failure is a :class:`MemoryOSError` subclass.
"""

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
)
from ._memory import AsyncMemory, Memory
from ._models import (
    AddResult,
    AddResultItem,
    ClaimResolution,
    ConsentExchangeResult,
    ConversationMessage,
    EvidenceReference,
    Grant,
    MemoryClarification,
    MemoryExport,
    MemoryJobStatus,
    MemoryPage,
    MemoryRecord,
    MemoryResult,
    MemorySource,
    ProposedMemory,
    ResolveUserResult,
    RetrieveResult,
    UniversalJobStatus,
    UniversalRetrieveResult,
)
from ._version import __version__
from .universal import AsyncUniversalMemory, UniversalMemory

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AddResult",
    "AddResultItem",
    "AsyncMemory",
    "AsyncUniversalMemory",
    "AuthError",
    "BadRequestError",
    "ClaimResolution",
    "ConflictError",
    "ConsentExchangeResult",
    "ConversationMessage",
    "CrossAgentAuthError",
    "EvidenceReference",
    "Grant",
    "Memory",
    "MemoryClarification",
    "MemoryExport",
    "MemoryJobStatus",
    "MemoryOSError",
    "MemoryPage",
    "MemoryRecord",
    "MemoryResult",
    "MemorySource",
    "NotFoundError",
    "PermissionDeniedError",
    "ProposedMemory",
    "RateLimitError",
    "ResolveUserResult",
    "RetrieveResult",
    "ServerError",
    "UniversalJobStatus",
    "UniversalMemory",
    "UniversalRetrieveResult",
    "ValidationError",
    "WriteNotPermitted",
    "__version__",
]
