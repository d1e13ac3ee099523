"""Keyword terms for the BM25-style index, and the public face of the retrieval text tools.

``keyword_terms`` is deliberately simple and fully deterministic: storage keeps only keyed
hashes of its output, so the same text must give the same terms on every machine and in every
release. Any change to the output for some input is a format change — bump
``KEYWORD_TERMS_VERSION`` so stored keyword indexes are rebuilt.

Scoring, fusion and prompt rendering live in sibling modules and are re-exported here so
callers have one import for the text side of retrieval.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .bm25 import BM25Params, CorpusStats, DocTerms, bm25_idf, bm25_scores, bm25_term_score, term_frequencies
from .context import ContextFormat, ContextMemory, estimate_tokens, render_context
from .dates import Period, query_periods
from .fusion import Evidence, RankingConfig, RankSignals, rank, relevance
from .stemmer import STOPWORDS, porter_stem

__all__ = [
    "KEYWORD_TERMS_VERSION",
    "BM25Params",
    "ContextFormat",
    "ContextMemory",
    "CorpusStats",
    "DocTerms",
    "Evidence",
    "Period",
    "RankSignals",
    "RankingConfig",
    "bm25_idf",
    "bm25_scores",
    "bm25_term_score",
    "estimate_tokens",
    "keyword_terms",
    "name_terms",
    "query_periods",
    "rank",
    "relevance",
    "render_context",
    "term_frequencies",
]

KEYWORD_TERMS_VERSION = 1

MONTHS: tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTH_ABBREVIATIONS: dict[str, str] = {m[:3]: m for m in MONTHS} | {"sept": "september"}
_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
# Names of months and weekdays stay readable (Porter would turn "january" into "januari");
# it costs nothing and keeps dates easy to reason about in tests.
_UNSTEMMED = frozenset(MONTHS) | _WEEKDAYS

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_IRREGULAR_NEGATIONS = (("can't", "can not"), ("won't", "will not"), ("shan't", "shall not"))
_NOT_CONTRACTION = re.compile(r"(?<=\w)n't\b")
# "user's", "they're", "I've", "we'll", "she'd", "I'm": the clitic carries no keyword meaning.
_CLITIC = re.compile(r"(?<=\w)'(?:s|re|ve|ll|d|m)\b")

_TOKEN = re.compile(
    r"""
    (?P<iso>\d{4}-\d{1,2}-\d{1,2})(?!\d)     # 2025-03-10
    | (?P<time>\d{1,2}:\d{2})(?!\d)          # 10:30
    | (?P<grouped>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+)  # 1,200  3.5
    | (?P<word>[^\W_]+(?:\+\+|\#)?)          # words, numbers, c++ / c# / f#
    """,
    re.VERBOSE,
)
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)")
# 10km, 9am, 25kg split; "4b" (a room, a flat) stays whole, being an identifier.
_NUMBER_THEN_UNIT = re.compile(r"(\d+)([^\W\d_]{2,})")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def keyword_terms(text: str) -> list[str]:
    """Split text into keyword terms, in order, duplicates kept (they are term frequencies).

    NFKC and case folding first, so full-width digits and ligatures match their plain forms;
    then words, numbers and dates; English stopwords dropped; Porter stems for English words.
    ISO dates also yield their year, month name and day, so "2025-03-10" meets "March 10".
    Chinese, Japanese and Korean characters become one term each, since those scripts do not
    separate words with spaces.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_APOSTROPHES)
    for contraction, expansion in _IRREGULAR_NEGATIONS:
        folded = folded.replace(contraction, expansion)
    folded = _CLITIC.sub("", _NOT_CONTRACTION.sub(" not", folded))

    terms: list[str] = []
    for match in _TOKEN.finditer(folded):
        kind = match.lastgroup
        token = match.group()
        if kind == "iso":
            terms.extend(_iso_date_terms(token))
        elif kind == "grouped":
            terms.append(token.replace(",", ""))
        elif kind == "time":
            terms.append(token)
        else:
            terms.extend(_word_terms(token))
    return terms


def _iso_date_terms(token: str) -> list[str]:
    year, month, day = (int(part) for part in token.split("-"))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return [str(year), str(month), str(day)]
    return [f"{year:04d}-{month:02d}-{day:02d}", str(year), MONTHS[month - 1], str(day)]


def _word_terms(token: str) -> tuple[str, ...]:
    if _CJK.search(token):
        return tuple(_split_cjk(token))
    if len(token) <= CACHED_TOKEN_CHARS:
        return _short_word_terms(token)
    return _split_word(token)


# Words recur across texts: each distinct short token is split and stemmed once. Not a long one
# (an identifier, rarely seen twice) nor a run of CJK characters (one token, split into one term
# a character): the cache's size must not depend on what clients send (65,536 tokens of at most
# 24 characters: a few MB).
CACHED_TOKEN_CHARS = 24


@functools.lru_cache(maxsize=65_536)
def _short_word_terms(token: str) -> tuple[str, ...]:
    return _split_word(token)


def _split_word(token: str) -> tuple[str, ...]:
    if token.isdigit():
        return (_plain_number(token),)
    ordinal = _ORDINAL.fullmatch(token)
    if ordinal:
        return (_plain_number(ordinal.group(1)),)
    unit = _NUMBER_THEN_UNIT.fullmatch(token)
    if unit:
        number, word = unit.groups()
        return (_plain_number(number), *_word_terms(word))
    if token in STOPWORDS:
        return ()
    token = _MONTH_ABBREVIATIONS.get(token, token)
    if token in _UNSTEMMED:
        return (token,)
    if token.endswith("s") and token[:-1] in _WEEKDAYS:  # "on mondays"
        return (token[:-1],)
    return (porter_stem(token),)


def _plain_number(digits: str) -> str:
    # "03" and "3" are the same day of the month; longer numbers (phone numbers, ids) keep
    # their leading zeros because there they are significant.
    return str(int(digits)) if len(digits) <= 2 else digits


def _split_cjk(token: str) -> list[str]:
    terms: list[str] = []
    rest: list[str] = []
    for ch in token:
        if _CJK.match(ch):
            if rest:
                terms.extend(_word_terms("".join(rest)))
                rest = []
            terms.append(ch)
        else:
            rest.append(ch)
    if rest:
        terms.extend(_word_terms("".join(rest)))
    return terms


# Titles before a name: neither a name themselves nor the end of a sentence.
_TITLES = frozenset("mr mrs ms miss dr prof st mt".split())
_SENTENCE_END = (".", "?", "!", ":", ";")


def name_terms(text: str) -> list[str]:
    """The keyword terms of the words in ``text`` that name something: a word written with a
    capital inside a sentence ("Whitfield", "Iceland", "PTE"; not "I", not a title such as
    "Dr."), or one holding a digit ("470", "4.2", "B2"). A question about a name no memory
    holds is rarely answerable (``engine.retrieval.answerable``). A text written all in lower
    case names nothing by this rule but its numbers."""
    found: list[str] = []
    sentence_start = True
    for chunk in text.split():
        word = chunk.strip("\"'“”‘’()[]{}<>,.;:?!*_")
        bare = word.casefold().rstrip(".")
        is_title = bare in _TITLES
        if word and not is_title:
            capital = word[0].isupper() and not sentence_start and word not in ("I", "I'm", "I've", "I'd", "I'll")
            if capital or any(ch.isdigit() for ch in word):
                found.extend(keyword_terms(word))
        sentence_start = chunk.endswith(_SENTENCE_END) and not is_title if word else sentence_start
    return list(dict.fromkeys(found))
