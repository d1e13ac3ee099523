"""Turning chat messages into candidate memories.

- ``RuleBasedExtractor`` — the default: deterministic rules, no network, no model download.
- ``LLMExtractor`` — any OpenAI-compatible chat completions endpoint; raises
  ``ServiceUnavailable`` when it cannot deliver.
- ``FallbackExtractor`` — the LLM first, the rules when the LLM is unavailable, reporting which ran.
- ``build_extractor`` — the extractor the settings ask for.
"""

from __future__ import annotations

from ..types import Extractor
from .fallback import ExtractionOutcome, FallbackExtractor
from .llm import DEFAULT_TIMEOUT_SECONDS, LLMExtractor
from .rules import RuleBasedExtractor

__all__ = [
    "ExtractionOutcome",
    "FallbackExtractor",
    "LLMExtractor",
    "RuleBasedExtractor",
    "build_extractor",
]


def build_extractor(
    *,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key: str | None = None,
    llm_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> Extractor:
    """Rules alone, or the LLM with the rules as fallback when both URL and model are set."""
    rules = RuleBasedExtractor()
    if not (llm_base_url and llm_model):
        return rules
    llm = LLMExtractor(llm_base_url, llm_model, api_key=llm_api_key, timeout=llm_timeout_seconds)
    return FallbackExtractor(llm, rules)
