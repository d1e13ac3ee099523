"""The memory engine's service layer, for every memory family.

- ``MemoryService`` (``service``): one owner's memories — add (inline or queued), retrieve,
  list/get/update/flag/delete/history, conflicts and their answers, job status.
- ``MemoryOwner`` (``owner``): whose memories (tenant end-user, workspace, passport user).
- ``TenantMemoryService`` (``tenant``): the tenant routes' authorization and owner resolution.
- ``worker``: the background thread (queued extraction jobs, read counts).
"""

from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.service import MemoryService
from memoryos_server.services.memory.tenant import TenantMemoryService
from memoryos_server.services.memory.types import (
    AddEvent,
    AddOutcome,
    AnswerOutcome,
    ClarificationOption,
    ClarificationView,
    JobView,
    MemoryView,
    Page,
    RetrievedMemory,
    RetrieveOutcome,
    VersionView,
)

__all__ = [
    "AddEvent",
    "AddOutcome",
    "AnswerOutcome",
    "ClarificationOption",
    "ClarificationView",
    "JobView",
    "MemoryOwner",
    "MemoryService",
    "MemoryView",
    "Page",
    "RetrieveOutcome",
    "RetrievedMemory",
    "TenantMemoryService",
    "VersionView",
]
