"""``AsyncMemory``, under the module path of the published SDK (``memoryos.async_client``)."""

from ._exceptions import MemoryOSError, map_sdk_error  # noqa: F401
from ._memory import AsyncMemory
from ._models import (  # noqa: F401 - importable from here, as in the published SDK
    AddEnvelope,
    AddRequest,
    AddResult,
    ConversationMessage,
    DeleteEnvelope,
    EdTechMemoryProfile,
    EdTechProfileEnvelope,
    ExportEnvelope,
    MemoryClarificationAnswerEnvelope,
    MemoryClarificationAnswerResult,
    MemoryExport,
    MemoryJobStatus,
    MemoryJobStatusEnvelope,
    MemoryListEnvelope,
    MemoryPage,
    MemorySource,
    MemorySourceReviewAnswerEnvelope,
    MemorySourceReviewAnswerResult,
    QuotaMode,
    RetrievalFeedbackEnvelope,
    RetrievalFeedbackRequest,
    RetrievalFeedbackResult,
    RetrieveEnvelope,
    RetrieveResult,
)

__all__ = ["AsyncMemory"]
