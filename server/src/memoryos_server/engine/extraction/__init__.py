"""Turning chat messages into candidate memories.

- ``RuleBasedExtractor`` — the default: deterministic rules, no network, no model download;
  given an ``Embedder``, a ``PrototypeClassifier`` files the memories its rules were unsure of.
- ``CachedEmbedder`` — an embedder that remembers vectors within one operation's ``scope()``
  (``embedding_scope``), so the text the classifier embedded is not embedded again when the
  add stores it; nothing is remembered from one operation to the next.
- ``LLMExtractor`` — any OpenAI-compatible chat completions endpoint; raises
  ``ServiceUnavailable`` when it cannot deliver.
- ``FallbackExtractor`` — the LLM first, the rules when the LLM is unavailable, reporting which ran.
- ``build_extractor`` — the extractor the settings ask for.
"""

from __future__ import annotations

from ..types import Embedder, Extractor
from .cached_embedder import CachedEmbedder, embedding_scope
from .fallback import ExtractionOutcome, FallbackExtractor
from .llm import DEFAULT_TIMEOUT_SECONDS, LLMExtractor
from .rules import RuleBasedExtractor
from .semantic import PrototypeClassifier

__all__ = [
    "CachedEmbedder",
    "ExtractionOutcome",
    "FallbackExtractor",
    "LLMExtractor",
    "PrototypeClassifier",
    "RuleBasedExtractor",
    "build_extractor",
    "embedding_scope",
]


def build_extractor(
    *,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key: str | None = None,
    llm_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    embedder: Embedder | None = None,
) -> Extractor:
    """Rules alone, or the LLM with the rules as fallback when both URL and model are set.

    ``embedder``, when given, lets the rules consult the category classifier.
    """
    rules = RuleBasedExtractor(embedder=embedder)
    if not (llm_base_url and llm_model):
        return rules
    llm = LLMExtractor(llm_base_url, llm_model, api_key=llm_api_key, timeout=llm_timeout_seconds)
    return FallbackExtractor(llm, rules)
