"""The memory engine's service layer, for every memory family.

- ``MemoryService`` (``service``): the memories a ``MemoryScope`` allows — add (inline or
  queued), retrieve, list/get/update/flag/delete/history, conflicts and their answers, job status.
- ``MemoryScope`` (``scope``): who acts, on whose memories, with what rights and audit sink.
- ``MemoryOwner`` (``owner``): whose memories (tenant end-user, workspace, passport user).
- ``worker``: the background thread (queued extraction jobs, read counts).
"""

from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.service import MemoryService
from memoryos_server.services.memory.scope import MemoryScope
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
    "MemoryScope",
    "MemoryService",
    "MemoryView",
    "Page",
    "RetrieveOutcome",
    "RetrievedMemory",
    "VersionView",
]
