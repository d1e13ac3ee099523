"""The engine's vocabulary and the Protocols its pluggable parts implement.

The engine is pure logic: it depends on nothing but this module, its own subpackages and
``memoryos_server.errors``. Storage, encryption and HTTP live elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np

# The six categories, defined here once: everything else (request schemas, the search index's
# codes, the pages, the MCP tools) takes them from this type.
Category = Literal["preference", "fact", "goal", "procedure", "relationship", "expertise"]
CATEGORIES: tuple[str, ...] = get_args(Category)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "user" | "assistant" | "system"
    content: str
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExtractedMemory:
    """One candidate memory, already phrased as a short third-person statement."""

    content: str
    category: str  # one of CATEGORIES
    importance: int  # 1..10
    confidence: float  # 0..1
    valid_at: datetime | None = None  # when the text dates itself ("my exam is on March 10")
    source_index: int = 0  # index of the message it came from
    tags: tuple[str, ...] = field(default_factory=tuple)
    # Words indexed with the memory for keyword search but not part of it: a verbatim message's
    # neighbours in a dialogue ("The Minnesota Wolves!" answers "Which team did you sign with?").
    keyword_context: str = ""
    # Other categories the memory may belong to: the extractor was not sure. The memory is
    # filed under ``category`` and reaches only readers allowed every one of these too.
    also_categories: tuple[str, ...] = ()


@runtime_checkable
class Extractor(Protocol):
    """Turns chat messages into candidate memories. Small talk yields an empty list."""

    name: str

    def extract(self, messages: Sequence[ChatMessage], *, now: datetime) -> list[ExtractedMemory]: ...


@runtime_checkable
class Embedder(Protocol):
    """Maps texts to L2-normalised float32 vectors of shape (len(texts), dim)."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
