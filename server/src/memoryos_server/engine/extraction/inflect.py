"""English verb inflection, just enough to move a sentence from "I" to a subject-less third person."""

from __future__ import annotations

from .lexicon import ED_PRESENT, IRREGULAR_PAST, IRREGULAR_THIRD_PERSON, MODALS

_VOWELS = frozenset("aeiou")
# Two-syllable verbs stressed on the last syllable double their consonant ("committing").
_DOUBLING = frozenset("begin commit forget prefer refer admit occur control regret submit permit omit".split())


def _match_case(template: str, word: str) -> str:
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def is_past(word: str) -> bool:
    lower = word.lower()
    if lower in IRREGULAR_PAST:
        return True
    return lower.endswith("ed") and lower not in ED_PRESENT and len(lower) > 3


def is_finite_unchanged(word: str) -> bool:
    """Modals and past forms are the same after "he" as after "I"."""
    lower = word.lower()
    return lower in MODALS or is_past(lower)


def third_person(verb: str) -> str:
    """run -> runs, watch -> watches, study -> studies, have -> has; past and modals unchanged."""
    lower = verb.lower()
    if lower in IRREGULAR_THIRD_PERSON:
        return _match_case(verb, IRREGULAR_THIRD_PERSON[lower])
    if is_finite_unchanged(lower) or (not lower.isalpha() and "-" not in lower):
        return verb
    if lower.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(lower) > 2 and lower.endswith("y") and lower[-2] not in _VOWELS:
        return verb[:-1] + "ies"
    return verb + "s"


def _syllables(word: str) -> int:
    count, previous_vowel = 0, False
    for char in word:
        vowel = char in _VOWELS or (char == "y" and count > 0)
        if vowel and not previous_vowel:
            count += 1
        previous_vowel = vowel
    return max(count, 1)


def gerund(verb: str) -> str:
    """deploy -> deploying, write -> writing, run -> running, lie -> lying."""
    lower = verb.lower()
    if lower in ("be", "see", "flee", "free", "agree", "knee", "eye", "dye"):
        return verb + "ing"
    if lower.endswith("ie"):
        return verb[:-2] + "ying"
    if lower.endswith(("ee", "ye", "oe")):
        return verb + "ing"
    if lower.endswith("e") and len(lower) > 2:
        return verb[:-1] + "ing"
    if (
        len(lower) >= 3
        and lower[-1] not in _VOWELS
        and lower[-1] not in "wxy"
        and lower[-2] in _VOWELS
        and lower[-3] not in _VOWELS
        and (_syllables(lower) == 1 or lower in _DOUBLING)
    ):
        return verb + verb[-1] + "ing"
    return verb + "ing"
