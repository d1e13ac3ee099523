"""Trying one extractor and falling back to another when the first is unavailable."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ...errors import ServiceUnavailable
from ..types import ChatMessage, ExtractedMemory, Extractor

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExtractionOutcome:
    """What one extraction produced, and which extractor produced it (for the job's report)."""

    memories: list[ExtractedMemory]
    extractor: str  # the ``name`` of the extractor whose memories these are
    fell_back: bool
    fallback_reason: str | None = None  # why the primary failed, e.g. "timeout", "bad_status"


class FallbackExtractor:
    """Runs ``primary``; when it raises ``ServiceUnavailable``, runs ``fallback`` instead.

    ``extract_with_outcome`` returns the memories with the name of the extractor that ran.
    ``extract`` satisfies the ``Extractor`` Protocol and leaves the same outcome in
    ``last_outcome``, kept per thread so concurrent jobs sharing one instance do not mix up.
    Any other exception from the primary is a bug and propagates.
    """

    def __init__(self, primary: Extractor, fallback: Extractor) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = f"{primary.name}|{fallback.name}"
        self._local = threading.local()

    @property
    def last_outcome(self) -> ExtractionOutcome | None:
        return getattr(self._local, "outcome", None)

    def extract_with_outcome(self, messages: Sequence[ChatMessage], *, now: datetime) -> ExtractionOutcome:
        try:
            memories = self.primary.extract(messages, now=now)
            outcome = ExtractionOutcome(memories, self.primary.name, fell_back=False)
        except ServiceUnavailable as exc:
            reason = exc.details.get("reason") if isinstance(exc.details, dict) else None
            logger.info("extractor %s unavailable (%s), using %s", self.primary.name, reason, self.fallback.name)
            memories = self.fallback.extract(messages, now=now)
            outcome = ExtractionOutcome(
                memories, self.fallback.name, fell_back=True, fallback_reason=reason or "unavailable"
            )
        self._local.outcome = outcome
        return outcome

    def extract(self, messages: Sequence[ChatMessage], *, now: datetime) -> list[ExtractedMemory]:
        return self.extract_with_outcome(messages, now=now).memories
