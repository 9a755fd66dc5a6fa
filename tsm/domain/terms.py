"""The term calendar: terms, half terms, closures and bank holidays; "is this bookable?" and "which term?"."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

from .model import DateRange, TermName

TERM_ORDER = {TermName.AUTUMN: 0, TermName.SPRING: 1, TermName.SUMMER: 2}


@dataclass(frozen=True)
class Break:
    dates: DateRange
    kind: str  # half_term | closure
    label: str = ""


@dataclass(frozen=True)
class Term:
    academic_year: str  # "2025-26"
    name: TermName
    dates: DateRange
    breaks: tuple[Break, ...] = ()
    id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name.value} term {self.academic_year}"

    @property
    def sort_key(self) -> tuple[str, int]:
        return (self.academic_year, TERM_ORDER[self.name])

    def break_on(self, day: date) -> Break | None:
        for b in self.breaks:
            if day in b.dates:
                return b
        return None  # equivalent-mutant[delete]: falling off the end returns None too


def academic_year_of(day: date) -> str:
    """England's academic year runs September to August: 2026-11-22 is in "2026-27"."""
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


class BankHolidays:
    """England and Wales bank holidays from the ``holidays`` package (loaded lazily per year)."""

    def __init__(self, extra: Iterable[date] = ()) -> None:
        import holidays  # imported here: building the calendar is cheap, the package is not

        self._hols = holidays.country_holidays("GB", subdiv="ENG")
        self._extra = set(extra)

    def name(self, day: date) -> str | None:
        if day in self._extra:
            return "bank holiday"
        return self._hols.get(day)


@lru_cache(maxsize=1)  # equivalent-mutant[constant]: the cache's size changes speed, not answers
def default_bank_holidays() -> BankHolidays:
    return BankHolidays()


def _when(day: date) -> str:
    """A day as the refusals name it (written only when a day is refused: the slot finder asks of every day)."""
    return f"{day:%A} {day.day} {day:%B %Y}"


@dataclass
class TermCalendar:
    terms: list[Term]
    bank_holiday: Callable[[date], str | None] = field(default_factory=lambda: default_bank_holidays().name)

    def __post_init__(self) -> None:
        self.terms = sorted(self.terms, key=lambda t: t.dates.first)
        for a, b in zip(self.terms, self.terms[1:], strict=False):
            if b.dates.first <= a.dates.last:
                raise ValueError(f"terms overlap: {a.label} and {b.label}")
        self._starts = [t.dates.first for t in self.terms]
        self._bookable: dict[date, bool] = {}

    def term_for(self, day: date) -> Term | None:
        """The term whose dates (half term included) contain ``day``, else None."""
        i = bisect.bisect_right(self._starts, day) - 1
        if i >= 0 and day in self.terms[i].dates:
            return self.terms[i]
        return None  # equivalent-mutant[delete]: falling off the end returns None too

    def why_not_bookable(self, day: date) -> str | None:
        """None if a TSM may be held on ``day``; else the reason in words."""
        if day.weekday() >= 5:
            return f"{_when(day)} is a weekend"
        name = self.bank_holiday(day)
        if name:
            return f"{_when(day)} is a bank holiday ({name})"
        term = self.term_for(day)
        if term is None:
            return f"{_when(day)} is outside term time"
        brk = term.break_on(day)
        if brk is not None:
            if brk.kind == "half_term":
                return f"{_when(day)} is in half term"
            return (
                f"{_when(day)} is a school closure ({brk.label})"
                if brk.label
                else f"{_when(day)} is a school closure"
            )
        return None  # equivalent-mutant[delete]: falling off the end returns None too

    def is_bookable_day(self, day: date) -> bool:
        # Kept per day: the slot finder asks of every day of the term for every school (a whole LA's sweep asks
        # ~40,000 times); the terms and closures are fixed once the calendar is built.
        known = self._bookable.get(day)
        if known is None:
            known = self._bookable[day] = self.why_not_bookable(day) is None
        return known

    def is_bookable_instant(self, at: datetime, tz: tzinfo) -> bool:
        return self.is_bookable_day(at.astimezone(tz).date())

    def current_or_next(self, today: date) -> Term | None:
        """The term today is in (half term included), else the next one to start."""
        term = self.term_for(today)
        if term:
            return term
        i = bisect.bisect_right(self._starts, today)
        return self.terms[i] if i < len(self.terms) else None

    def next_after(self, term: Term) -> Term | None:
        for t in self.terms:
            if (
                t.dates.first > term.dates.last
            ):  # equivalent-mutant[compare]: terms never overlap, so none starts on another's last day
                return t
        return None  # equivalent-mutant[delete]: falling off the end returns None too

    def bookable_days(self, first: date, last: date) -> list[date]:
        out, day = [], first
        while day <= last:
            if self.is_bookable_day(day):
                out.append(day)
            day += timedelta(days=1)
        return out
