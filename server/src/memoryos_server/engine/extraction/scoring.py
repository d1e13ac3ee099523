"""Importance (1–10) and confidence (0–1) for a rule-extracted memory.

Importance says how much the memory should weigh in retrieval, from what the sentence is:

- a base per category: relationship and goal 7 (they shape many later answers), preference,
  procedure and expertise 6, fact 5;
- +2 for health and safety (allergies, conditions, medication, pregnancy): getting those wrong
  can hurt someone;
- +1 when the user asked for it to be remembered ("please remember", "note that");
- +1 for an upcoming date (an exam, a flight): time-bound and likely to be asked about;
- +1 for emphasis ("always", "never", "hate", "can't stand");
- -1 for a hedge ("I think", "maybe") and -1 for a sentence that never names the user;
- clamped to 1..10.

Confidence says how sure the extractor is that the memory is right and well filed: 0.8 when a
specific cue chose the category, 0.65 for a weak cue or a category the embedding classifier
chose by a clear margin (``semantic.py``), 0.5 when nothing fired and the sentence fell back
to ``fact``; +0.1 for an explicit request to remember, -0.2 for a hedge, -0.15 when
the sentence never names the user; clamped to 0.05..0.95 (rules are never certain).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from .lexicon import HEALTH_TERMS

_BASE_IMPORTANCE = {"relationship": 7, "goal": 7, "preference": 6, "procedure": 6, "expertise": 6, "fact": 5}
_BASE_CONFIDENCE = {2: 0.8, 1: 0.65, 0: 0.5}
_HEALTH = re.compile(rf"\b(?:{HEALTH_TERMS})")
_EMPHASIS = re.compile(
    r"\b(?:always|never|hate|hates|can't\s+stand|cannot\s+stand|must|important|seriously|absolutely|really\s+(?:hate|love|need))\b"
)
_UPCOMING = timedelta(days=120)


def importance(
    category: str,
    lower: str,
    *,
    explicit: bool,
    hedged: bool,
    impersonal: bool,
    valid_at: datetime | None,
    reference: datetime,
) -> int:
    score = _BASE_IMPORTANCE[category]
    if _HEALTH.search(lower):
        score += 2
    if explicit:
        score += 1
    if valid_at is not None and reference <= valid_at <= reference + _UPCOMING:
        score += 1
    if _EMPHASIS.search(lower):
        score += 1
    if hedged:
        score -= 1
    if impersonal:
        score -= 1
    return max(1, min(10, score))


def confidence(strength: int, *, explicit: bool, hedged: bool, impersonal: bool) -> float:
    value = _BASE_CONFIDENCE.get(strength, 0.5)
    if explicit:
        value += 0.1
    if hedged:
        value -= 0.2
    if impersonal:
        value -= 0.15
    return round(max(0.05, min(0.95, value)), 2)
