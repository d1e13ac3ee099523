"""The periods a search query names: "on 21 May 2023", "in March", "last week", "in 2021",
"summer 2023".

A memory's moment (when it was said: a message's ``occurred_at``, else when it was stored, or
the date its text gives) that falls in a period the query names counts as evidence that it is
what the query is about: "Who did Maria have dinner with on May 3, 2023?" asks about what was
said around that day, and nothing in the words of the answer ("my mum and I went out to the
Italian place") says so.

People speak of an event after it happened ("we went camping last weekend"), so a period
admits moments from ``SLACK_BEFORE`` before it to ``SLACK_AFTER`` after it (``Period.span``).
A moment in the period itself, or on the day after it ("yesterday I …"), is nearer than one in
that slack (``Period.nearness``: 1 against ``SLACK_WEIGHT``), so a day's own conversation
outranks the ones around it.

Relative periods ("yesterday", "last week", "3 days ago") count back from ``now`` (the
search's ``as_of`` when one is given). A month or a day without a year takes the year the
query names when it names exactly one ("between August 11 and August 15 2023"); otherwise it
names both its latest occurrence up to ``now`` and its next one ("What is happening on 21
June?" may ask about a plan). A season of a year is its three months (northern hemisphere; a
winter is January–February and December of that year). English only; anything not recognised
names no period.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SLACK_BEFORE = timedelta(days=3)
SLACK_AFTER = timedelta(days=14)
# A memory from the period itself, or from the day after it ("yesterday I …"), is nearer to it
# than one from the slack around it, which counts SLACK_WEIGHT of the bonus.
CORE_AFTER = timedelta(days=1)
SLACK_WEIGHT = 0.5

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
_SEASON = r"(spring|summer|fall|autumn|winter)"
# The months of a season of a year (northern hemisphere); a winter is both of its ends.
_SEASON_MONTHS = {"spring": ((3, 3),), "summer": ((6, 3),), "fall": ((9, 3),), "autumn": ((9, 3),),
                  "winter": ((1, 2), (12, 1))}  # fmt: skip
# Kinds that name their year; a day or month without one takes it when the query names one year.
_WITH_YEAR = ("iso", "day month year", "month day year", "month year", "season year", "in year")
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iso", re.compile(rf"\b{_YEAR}-(\d{{1,2}})-(\d{{1,2}})\b")),
    ("day month year", re.compile(rf"\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s*{_YEAR}\b", re.I)),
    ("month day year", re.compile(rf"\b{_MONTH}\s+{_DAY},?\s*{_YEAR}\b", re.I)),
    ("month year", re.compile(rf"\b{_MONTH},?\s+{_YEAR}\b", re.I)),
    ("season year", re.compile(rf"\b{_SEASON},?\s+(?:of\s+)?{_YEAR}\b", re.I)),
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

    @property
    def span(self) -> tuple[datetime, datetime]:
        """The moments ``[start, end)`` of the memories that may be about it (slack included)."""
        return self.start - SLACK_BEFORE, self.end + SLACK_AFTER

    def admits(self, moment: datetime) -> bool:
        """Whether a memory from ``moment`` may be about this period (slack included)."""
        start, end = self.span
        return start <= _utc(moment) < end

    def nearness(self, moment: datetime) -> float:
        """1 for a memory from within the period (or the day after it), ``SLACK_WEIGHT`` for
        one from the slack around it, else 0."""
        moment = _utc(moment)
        if self.start <= moment < self.end + CORE_AFTER:
            return 1.0
        return SLACK_WEIGHT if self.admits(moment) else 0.0


def query_periods(text: str, *, now: datetime) -> list[Period]:
    """The periods ``text`` names, in the order it names them; overlapping mentions count once."""
    now = _utc(now)
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str, re.Match[str], list[Period]]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            if named := _periods(kind, match, now, None):
                taken.append(match.span())
                found.append((match.start(), kind, match, named))
    # "between August 11 and August 15 2023": the first day is in 2023 too.
    years = {own[0].start.year for _, kind, _, own in found if kind in _WITH_YEAR}
    year = years.pop() if len(years) == 1 else None
    periods: list[Period] = []
    for _, kind, match, own in sorted(found, key=lambda item: item[0]):
        periods.extend(_periods(kind, match, now, year) if year is not None else own)
    return periods


def _periods(kind: str, match: re.Match[str], now: datetime, year: int | None) -> list[Period]:
    """The periods of one match; a day or month without a year is in ``year`` when given, else
    both its latest occurrence up to ``now`` and its next one."""
    groups = match.groups()
    try:
        if kind in ("day month", "month day"):
            day, month = (int(groups[0]), _month(groups[1])) if kind == "day month" else (int(groups[1]), _month(groups[0]))
            if year is not None:
                return [_day(year, month, day)]
            past = now.year if _day(now.year, month, day).start <= now else now.year - 1
            return [_day(past, month, day), _day(past + 1, month, day)]
        if kind == "in month":
            month = _month(groups[0])
            if year is not None:
                return [_month_period(year, month)]
            past = now.year if month <= now.month else now.year - 1
            return [_month_period(past, month), _month_period(past + 1, month)]
        if kind == "season year":
            return [_months(int(groups[1]), first, count) for first, count in _SEASON_MONTHS[groups[0].lower()]]
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
    return _months(year, month, 1)


def _months(year: int, first: int, count: int) -> Period:
    """``count`` months from month ``first`` of ``year``."""
    start = datetime(year, first, 1, tzinfo=UTC)
    last = first - 1 + count  # months past January of ``year`` at the end
    return Period(start, datetime(year + last // 12, last % 12 + 1, 1, tzinfo=UTC))


def _month(name: str) -> int:
    prefix = name.lower().rstrip(".")[:3]
    for number, month in enumerate(_MONTHS, 1):
        if month.startswith(prefix):
            return number
    raise ValueError(name)


def _utc(moment: datetime) -> datetime:
    # Storage may hand back naive UTC timestamps (SQLite); compare them as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
