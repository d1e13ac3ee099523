"""De-duplication and conflict detection between a new memory and an existing one."""

from .detect import DEFAULT_THRESHOLDS, Assessment, ConflictThresholds, Decision, assess, detect
from .questions import question_for

__all__ = [
    "DEFAULT_THRESHOLDS",
    "Assessment",
    "ConflictThresholds",
    "Decision",
    "assess",
    "detect",
    "question_for",
]
