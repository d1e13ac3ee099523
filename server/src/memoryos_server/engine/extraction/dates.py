"""Resolving the date a sentence talks about ("my exam is on March 10") into ``valid_at``.

Dates are resolved against the message's ``occurred_at`` (or the extraction's ``now``) in that
datetime's own timezone. A date without a year is the next such day from the reference, or the
last one when the sentence is in the past tense ("I failed my test on May 2"). A weekday named
alone is the next one after the reference day. Recurring times ("on Mondays", "every Friday")
are not dates and give nothing. Month-only and year-only mentions resolve to the first day of
that month or year; the precision travels with the result so callers can tell.

``valid_at`` says when what the memory states happened or takes effect: an event ("my exam is
on March 10"), or a change ("I moved to Berlin in March", "since 2021 I work at…", "starting
next week"). A date that comes back every year or month is not that: "my birthday is on June 4"
is true all year, and resolving it to the next June 4 would date the memory in the future. So
birthdays, anniversaries, name days, a birth date without its year, and anything said to happen
every year or month give nothing (``recurs``), while a one-off event about them ("my birthday
party is on Saturday") is still dated.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

Precision = Literal["day", "week", "month", "year"]

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3,
}  # fmt: skip

_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_COUNT = r"(\d{1,3}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|a\s+couple\s+of|a\s+few)"
_ORD = r"(?:st|nd|rd|th)?"

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_RANGE_DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}}){_ORD}\s*(?:-|to|\u2013|until|till)\s*\d{{1,2}}{_ORD}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+(\d{{4}}))?"
)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\.?\s+(\d{{1,2}}){_ORD}\b(?![:.]\d)(?:,?\s+(\d{{4}}))?")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}}){_ORD}\s+(?:of\s+)?{_MONTH}\b(?:,?\s+(\d{{4}}))?")
_THE_NTH = re.compile(r"\bthe\s+(\d{1,2})(?:st|nd|rd|th)\b")
_RELATIVE_DAY = re.compile(
    r"\b(the\s+day\s+after\s+tomorrow|today|tonight|tomorrow|yesterday|this\s+(?:morning|afternoon|evening))\b"
)
_WEEKDAY = re.compile(
    r"\b(?:(next|this|last|coming)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b(?!\s+(?:mornings|evenings|nights|afternoons))"
)
_RECURRING_BEFORE = re.compile(r"(?:every|each|alternate|other)\s+$")
_IN_COUNT = re.compile(rf"\bin\s+{_COUNT}\s+(day|week|month|year)s?\b")
_AGO = re.compile(rf"\b{_COUNT}\s+(day|week|month|year)s?\s+ago\b")
_UNIT = re.compile(r"\b(next|last|this|the\s+end\s+of\s+the|end\s+of\s+the)\s+(week|month|year)\b")
_END_OF_MONTH = re.compile(rf"\bend\s+of\s+{_MONTH}\b")
_MONTH_ONLY = re.compile(
    rf"\b(in|by|until|till|since|from|next|this|last|of|early|late|mid|during|before|after|due)\s+{_MONTH}\b(?:\s+(\d{{4}}))?"
)
_YEAR_ONLY = re.compile(r"\b(?:in|by|since|from|until|before|after|during)\s+((?:19|20)\d\d)\b")
_TIME = re.compile(r"\bat\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b|\bat\s+(\d{1,2}):(\d{2})\b")
_PAST = re.compile(
    r"\b(?:was|were|did|had|ago|yesterday|last)\b"
    r"|\bi\s+(?:\w+ly\s+)?(?!(?:need|feed|bleed|breed|seed|speed|proceed|succeed|exceed|embed|shred)\b)\w+ed\b"
)
# Several weekdays, or a habit, make a weekday a schedule rather than a date.
_RECURRING = re.compile(
    r"\b(?:always|usually|every|each|weekly|per\s+week|a\s+week|of\s+the\s+month|of\s+every\s+month|of\s+each\s+month)\b"
)
# Dates that come round again: the day is an attribute of the person, not when the memory holds.
_ANNUAL_DAY = re.compile(
    r"\b(?:birthdays?|b-?days?|anniversar(?:y|ies)|name\s*days?)\b"
    r"(?!\s+(?:party|parties|dinner|lunch|celebration|trip|gift|present|plans?|surprise|cake|card|drinks)\b)"
)
_BORN_ON_A_DAY = re.compile(
    rf"\bborn\s+on\s+(?:the\s+)?(?:{_MONTH}\.?\s+\d{{1,2}}{_ORD}|\d{{1,2}}{_ORD}\s+(?:of\s+)?{_MONTH})\b"
    r"(?!,?\s+\d{4})"
)
_EVERY_PERIOD = re.compile(
    rf"\b(?:every|each)\s+(?:other\s+)?(?:year|month|{_MONTH})\b|\b(?:annually|yearly|monthly)\b"
)
_DETECT = re.compile(
    "|".join(
        p.pattern
        for p in (
            _ISO,
            _MONTH_DAY,
            _DAY_MONTH,
            _THE_NTH,
            _RELATIVE_DAY,
            _WEEKDAY,
            _IN_COUNT,
            _AGO,
            _UNIT,
            _MONTH_ONLY,
            _YEAR_ONLY,
        )
    )
)


@dataclass(frozen=True, slots=True)
class ResolvedDate:
    value: datetime
    precision: Precision


def mentions_date(lower: str) -> bool:
    return _DETECT.search(lower) is not None


def recurs(lower: str) -> bool:
    """Whether the date ``lower`` names comes round every year or month (see the module doc)."""
    return any(pattern.search(lower) for pattern in (_ANNUAL_DAY, _BORN_ON_A_DAY, _EVERY_PERIOD))


def looks_past(lower: str) -> bool:
    return _PAST.search(lower) is not None


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBERS.get(" ".join(word.split()), 1)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_day(today: date, month: int, day: int, year: str | None, past: bool) -> date | None:
    try:
        if year:
            return date(int(year), month, day)
        candidate = date(today.year, month, day)
        if past and candidate > today:
            return date(today.year - 1, month, day)
        if not past and candidate < today:
            return date(today.year + 1, month, day)
        return candidate
    except ValueError:  # "February 30"
        return None


def _nth_of_month(today: date, day: int, past: bool) -> date | None:
    step = -1 if past else 1
    first = today.replace(day=1)
    for offset in range(3):
        month = _add_months(first, step * offset)
        if day > calendar.monthrange(month.year, month.month)[1]:
            continue
        candidate = month.replace(day=day)
        if (candidate <= today) if past else (candidate >= today):
            return candidate
    return None


def _first_match(lower: str, today: date, past: bool) -> tuple[date, Precision] | None:
    if m := _ISO.search(lower):
        try:
            return date(int(m[1]), int(m[2]), int(m[3])), "day"
        except ValueError:
            pass
    if m := _RANGE_DAY_MONTH.search(lower):
        found = _month_day(today, _MONTHS[m[2]], int(m[1]), m[3], past)
        if found:
            return found, "day"
    if m := _MONTH_DAY.search(lower):
        found = _month_day(today, _MONTHS[m[1]], int(m[2]), m[3], past)
        if found:
            return found, "day"
    if m := _DAY_MONTH.search(lower):
        found = _month_day(today, _MONTHS[m[2]], int(m[1]), m[3], past)
        if found:
            return found, "day"
    if m := _THE_NTH.search(lower):
        found = _nth_of_month(today, int(m[1]), past)
        if found:
            return found, "day"
    if m := _RELATIVE_DAY.search(lower):
        word = m[1]
        offset = 2 if word.startswith("the day after") else {"tomorrow": 1, "yesterday": -1}.get(word, 0)
        return today + timedelta(days=offset), "day"
    weekdays = list(_WEEKDAY.finditer(lower))
    if len(weekdays) > 1 or _RECURRING.search(lower):
        weekdays = []
    for m in weekdays:
        if _RECURRING_BEFORE.search(lower, 0, m.start()):
            continue
        target = _WEEKDAYS[m[2]]
        if past or m[1] == "last":
            back = (today.weekday() - target) % 7 or 7
            return today - timedelta(days=back), "day"
        ahead = (target - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead), "day"
    if m := _IN_COUNT.search(lower):
        return _shift(today, _count(m[1]), m[2])
    if m := _AGO.search(lower):
        return _shift(today, -_count(m[1]), m[2])
    if m := _END_OF_MONTH.search(lower):
        found = _month_day(today, _MONTHS[m[1]], 1, None, past)
        if found:
            return found.replace(day=calendar.monthrange(found.year, found.month)[1]), "day"
    if m := _UNIT.search(lower):
        return _unit(today, m[1], m[2])
    if m := _MONTH_ONLY.search(lower):
        return _month_only(today, m[1], _MONTHS[m[2]], m[3], past)
    if m := _YEAR_ONLY.search(lower):
        return date(int(m[1]), 1, 1), "year"
    return None


def _shift(today: date, count: int, unit: str) -> tuple[date, Precision]:
    if unit == "day":
        return today + timedelta(days=count), "day"
    if unit == "week":
        return today + timedelta(weeks=count), "week"
    if unit == "month":
        return _add_months(today, count), "month"
    return _add_months(today, 12 * count), "year"


def _unit(today: date, which: str, unit: str) -> tuple[date, Precision]:
    if which.endswith("the"):  # "the end of the month"
        if unit == "week":
            return today + timedelta(days=6 - today.weekday()), "day"
        if unit == "month":
            return today.replace(day=calendar.monthrange(today.year, today.month)[1]), "day"
        return date(today.year, 12, 31), "day"
    step = {"next": 1, "last": -1}.get(which, 0)
    if unit == "week":
        return today + timedelta(weeks=step), "week"
    if unit == "month":
        return _add_months(today.replace(day=1), step), "month"
    return date(today.year + step, 1, 1), "year"


def _month_only(today: date, lead: str, month: int, year: str | None, past: bool) -> tuple[date, Precision]:
    if year:
        return date(int(year), month, 1), "month"
    this_year = date(today.year, month, 1)
    current = today.replace(day=1)
    if lead == "last" or (past and lead != "next"):
        return (this_year if this_year < current else date(today.year - 1, month, 1)), "month"
    if lead == "next":
        return (this_year if this_year > current else date(today.year + 1, month, 1)), "month"
    return (this_year if this_year >= current else date(today.year + 1, month, 1)), "month"


def resolve(lower: str, reference: datetime) -> ResolvedDate | None:
    """The date ``lower`` (a lower-cased sentence) refers to, or None when it names none or
    only a recurring one."""
    if not _DETECT.search(lower) or recurs(lower):
        return None
    tz = reference.tzinfo or timezone.utc
    found = _first_match(lower, reference.date(), looks_past(lower))
    if found is None:
        return None
    day, precision = found
    hour = minute = 0
    if precision == "day" and (t := _TIME.search(lower)):
        if t[1]:
            hour, minute = int(t[1]) % 12 + (12 if t[3] == "pm" else 0), int(t[2] or 0)
        else:
            hour, minute = int(t[4]), int(t[5])
        if hour > 23 or minute > 59:
            hour = minute = 0
    return ResolvedDate(datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz), precision)
