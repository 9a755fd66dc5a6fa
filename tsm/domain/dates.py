"""Dates as people type them (UK order), read against today and, for "after half term", the term calendar.

Pure: no clock (``today`` is given), no database. ``read_day`` answers the day meant, or None when the words are no
date. A day without a year is the nearest such day to today, before or after (on 6 December, "3 December" is three
days ago, not next year's): the caller says when it has passed rather than silently booking a year ahead.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from .terms import TermCalendar

MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def academic_year_of(day: date) -> int:
    """The calendar year an academic year starts in (September to August): 2026 for 3 December 2026 and for
    1 July 2027."""
    return day.year if day.month >= 9 else day.year - 1


def read_day(text: str, today: date, calendar: TermCalendar | None = None) -> date | None:
    """The day ``text`` names: 2026-12-03, 3/12, 3/12/2026, 3 December, Thursday 3 Dec, today, tomorrow, (next)
    Tuesday, next week (its Monday), after half term (the first school day after this term's half term; needs
    ``calendar``)."""
    t = " ".join(text.strip().lower().replace(",", " ").split())
    try:
        return date.fromisoformat(t)
    except ValueError:
        pass
    words = _relative(t, today, calendar)
    if words is not None:
        return words
    day = month = year = None
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?", t)
    if m:
        day, month = int(m[1]), int(m[2])
        year = int(m[3]) if m[3] else None
    else:
        m = re.fullmatch(r"(?:[a-z]+day\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})(?:\s+(\d{4}))?", t)
        if not m or m[2][:3] not in MONTHS:
            return None
        day, month, year = int(m[1]), MONTHS[m[2][:3]], int(m[3]) if m[3] else None
    if year is not None and year < 100:
        year += 2000
    try:
        if year is not None:
            return date(year, month, day)
    except ValueError:
        return None
    candidates = []
    for y in (today.year - 1, today.year, today.year + 1):
        try:
            candidates.append(date(y, month, day))
        except ValueError:  # 29 February in a year without one
            continue
    if not candidates:
        return None
    # The nearest such day; on a tie the future one.
    return min(candidates, key=lambda d: (abs((d - today).days), d < today))


def _relative(t: str, today: date, calendar: TermCalendar | None) -> date | None:
    if t in ("today", "now"):
        return today
    if t == "tomorrow":
        return today + timedelta(days=1)
    if t == "next week":
        return today + timedelta(days=7 - today.weekday())
    m = re.fullmatch(r"(?:(next|this|on)\s+)?([a-z]+)", t)
    if m and m[2] in WEEKDAYS:
        ahead = (
            WEEKDAYS.index(m[2]) - today.weekday()
        ) % 7 or 7  # the coming one (today's weekday: next week's)
        coming = today + timedelta(days=ahead)
        # "next Tuesday" said on a Monday is the Tuesday of next week, as people in England mostly mean it; said on
        # a Friday, the coming Tuesday is next week's already.
        if m[1] == "next" and coming.isocalendar()[:2] == today.isocalendar()[:2]:
            coming += timedelta(days=7)
        return coming
    if t in ("after half term", "after the half term", "after half-term") and calendar is not None:
        term = calendar.current_or_next(today)
        if term is None:
            return None
        half = next((b for b in term.breaks if b.kind == "half_term" and b.dates.last >= today), None)
        if half is None:
            return None
        day = half.dates.last + timedelta(days=1)
        while day <= term.dates.last and calendar.why_not_bookable(day):
            day += timedelta(days=1)
        return day if day <= term.dates.last else None
    return None
