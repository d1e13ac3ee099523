"""The question put to a person when two of their memories disagree."""

from __future__ import annotations

import re

_WHITESPACE = re.compile(r"\s+")


def question_for(a: str, b: str) -> str:
    """A plain question offering both versions, in the order given (A is usually the older).

    The answers the product accepts are A, B, both or neither, so the question names all four.
    """
    return f"Which is right? A: {_as_sentence(a)} B: {_as_sentence(b)} Or are both right, or neither?"


def _as_sentence(text: str) -> str:
    sentence = _WHITESPACE.sub(" ", text).strip()
    if not sentence:
        return "(empty)."
    sentence = sentence[0].upper() + sentence[1:]
    return sentence if sentence[-1] in ".!?…" else sentence + "."
