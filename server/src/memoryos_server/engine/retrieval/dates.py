"""The periods a search query names: "on 21 May 2023", "in March", "last week", "in 2021".

A memory's moment (when it was said: a message's ``occurred_at``, else when it was stored, or
the date its text gives) that falls in a period the query names counts as evidence that it is
what the query is about: "Who did Maria have dinner with on May 3, 2023?" asks about what was
said around that day, and nothing in the words of the answer ("my mum and I went out to the
Italian place") says so.

People speak of an event after it happened ("we went camping last weekend"), so a period
admits moments from ``SLACK_BEFORE`` before it to ``SLACK_AFTER`` after it.

Relative periods ("yesterday", "last week", "3 days ago") count back from ``now`` (the
search's ``as_of`` when one is given). A month or a day without a year names both its latest
occurrence up to ``now`` and its next one ("What is happening on 21 June?" may ask about a
plan). English only; anything not recognised names no period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SLACK_BEFORE = timedelta(days=3)
SLACK_AFTER = timedelta(days=14)

_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"((?:19|20)\d\d)"
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iso", re.compile(rf"\b{_YEAR}-(\d{{1,2}})-(\d{{1,2}})\b")),
    ("day month year", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s*{_YEAR}\b", re.I)),
    ("month day year", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s*{_YEAR}\b", re.I)),
    ("month year", re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.I)),
    ("day month", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH}\b", re.I)),
    # "May" alone is too often the verb: a month without a day or year needs a preposition.
    ("month day", re.compile(rf"\b{_MONTH}\s+{_DAY}\b(?!\s*(?:am|pm|:|%|kg|km|minutes?|hours?|days?))", re.I)),
    ("in month", re.compile(rf"\b(?:in|during|since|by|early|mid|late|mid-)\s*-?\s*{_MONTH}\b", re.I)),
    ("in year", re.compile(rf"\b(?:in|during|since|of|by)\s+{_YEAR}\b", re.I)),
    ("relative", re.compile(
        r"\b(today|yesterday|this (?:week|weekend|month|year)|last (?:night|week|weekend|month|year)"
        r"|(?:a|one|two|three|four|five|six|\d{1,2}) (?:days?|weeks?|months?) ago)\b", re.I)),
)
_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


@dataclass(frozen=True, slots=True)
class Period:
    """A span of time a query names, ``[start, end)``, in UTC."""

    start: datetime
    end: datetime

    def admits(self, moment: datetime) -> bool:
        """Whether a memory from ``moment`` may be about this period (slack included)."""
        moment = _utc(moment)
        return self.start - SLACK_BEFORE <= moment < self.end + SLACK_AFTER


def query_periods(text: str, *, now: datetime) -> list[Period]:
    """The periods ``text`` names, in the order found; overlapping mentions count once."""
    now = _utc(now)
    taken: list[tuple[int, int]] = []
    periods: list[Period] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            found = _periods(kind, match, now)
            if found:
                taken.append(match.span())
                periods.extend(found)
    return periods


def _periods(kind: str, match: re.Match[str], now: datetime) -> list[Period]:
    groups = match.groups()
    try:
        if kind in ("day month", "month day"):
            day, month = (int(groups[0]), _month(groups[1])) if kind == "day month" else (int(groups[1]), _month(groups[0]))
            past = now.year if _day(now.year, month, day).start <= now else now.year - 1
            return [_day(past, month, day), _day(past + 1, month, day)]
        if kind == "in month":
            month = _month(groups[0])
            past = now.year if month <= now.month else now.year - 1
            return [_month_period(past, month), _month_period(past + 1, month)]
    except ValueError:  # "31 February": no such day
        return []
    period = _period(kind, match, now)
    return [period] if period is not None else []


def _period(kind: str, match: re.Match[str], now: datetime) -> Period | None:
    groups = match.groups()
    try:
        if kind == "iso":
            return _day(int(groups[0]), int(groups[1]), int(groups[2]))
        if kind == "day month year":
            return _day(int(groups[2]), _month(groups[1]), int(groups[0]))
        if kind == "month day year":
            return _day(int(groups[2]), _month(groups[0]), int(groups[1]))
        if kind == "month year":
            return _month_period(int(groups[1]), _month(groups[0]))
        if kind == "in year":
            year = int(groups[0])
            return Period(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
        return _relative(match.group(0).lower(), now)
    except ValueError:  # "31 February": no such day
        return None


def _relative(phrase: str, now: datetime) -> Period | None:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if phrase == "today":
        return Period(today, today + timedelta(days=1))
    if phrase in ("yesterday", "last night"):
        return Period(today - timedelta(days=1), today)
    week = today - timedelta(days=today.weekday())
    if phrase in ("this week", "this weekend"):
        return Period(week, week + timedelta(days=7))
    if phrase in ("last week", "last weekend"):
        return Period(week - timedelta(days=7), week)
    if phrase == "this month":
        return _month_period(now.year, now.month)
    if phrase == "last month":
        return _month_period(now.year - (now.month == 1), (now.month - 2) % 12 + 1)
    if phrase == "this year":
        return Period(datetime(now.year, 1, 1, tzinfo=UTC), datetime(now.year + 1, 1, 1, tzinfo=UTC))
    if phrase == "last year":
        return Period(datetime(now.year - 1, 1, 1, tzinfo=UTC), datetime(now.year, 1, 1, tzinfo=UTC))
    count_word, unit, _ago = phrase.split()
    count = _NUMBERS.get(count_word) or int(count_word)
    days = {"day": 1, "week": 7, "month": 30}[unit.rstrip("s")] * count
    center = today - timedelta(days=days)
    spread = timedelta(days=max(1, days // 7))
    return Period(center - spread, center + spread + timedelta(days=1))


def _day(year: int, month: int, day: int) -> Period:
    start = datetime(year, month, day, tzinfo=UTC)
    return Period(start, start + timedelta(days=1))


def _month_period(year: int, month: int) -> Period:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return Period(start, end)


def _month(name: str) -> int:
    prefix = name.lower().rstrip(".")[:3]
    for number, month in enumerate(_MONTHS, 1):
        if month.startswith(prefix):
            return number
    raise ValueError(name)


def _utc(moment: datetime) -> datetime:
    # Storage may hand back naive UTC timestamps (SQLite); compare them as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
