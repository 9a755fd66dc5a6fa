"""National attendance averages belong to an academic year and a measure (the full year, or some of its terms),
and a school's figure is compared only with the average of the same year and measure.

The DfE publishes overall absence for state-funded schools per phase (attendance = 100 - absence): full academic
years, and, before a year ends, its autumn and spring terms together. A school's figure carries its period as
free text (the attendance import's ``period`` column: "2024/25 autumn and spring terms", "2023-24", "full year
2023/24"); :func:`parse_period` reads the year and measure from it, and :meth:`NationalAverages.matching` finds
the average of the same year and measure, or None (then the school is told there is none to compare with).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Phase

TERMS = ("autumn", "spring", "summer")
FULL_YEAR = "full_year"
MEASURE_LABELS = {
    FULL_YEAR: "full year",
    "autumn": "autumn term",
    "spring": "spring term",
    "summer": "summer term",
    "autumn_spring": "autumn and spring terms",
    "spring_summer": "spring and summer terms",
    "autumn_summer": "autumn and summer terms",
}
MEASURES = tuple(MEASURE_LABELS)

_YEAR = re.compile(r"(?<!\d)(20\d\d)\s*(?:/|-|–|to)\s*(20\d\d|\d\d)(?!\d)")


@dataclass(frozen=True)
class Period:
    """An academic year (``2024/25``) and a measure (``full_year``, ``autumn_spring``...)."""

    year: str
    measure: str

    @property
    def label(self) -> str:
        return f"{self.year} {MEASURE_LABELS.get(self.measure, self.measure)}"


def academic_year(text: str) -> str | None:
    """``2024/25`` from "2024/25", "2024-25", "2024-2025", "2024 to 2025"; None when there is no such year (or the
    two years are not consecutive)."""
    m = _YEAR.search(text or "")
    if m is None:
        return None
    first = int(m[1])
    second = int(m[2]) if len(m[2]) == 4 else 2000 + int(m[2])  # the pattern only reads years 2000-2099
    if second != first + 1:
        return None
    return f"{first}/{second % 100:02d}"


def measure_of(text: str) -> str:
    """The terms a period names; none named, all three, or "full"/"whole" year: the full year."""
    t = (text or "").lower()
    named = [term for term in TERMS if term in t]
    if not named or len(named) == len(TERMS):
        return FULL_YEAR
    return "_".join(named)


def parse_period(text: str | None) -> Period | None:
    """The year and measure of a school's attendance period; None when it names no academic year."""
    year = academic_year(text or "")
    return Period(year, measure_of(text or "")) if year else None


@dataclass(frozen=True)
class NationalAverage:
    """The DfE's national attendance % by phase for one academic year and measure."""

    year: str
    measure: str
    attendance_by_phase: dict[Phase, float]
    source: str = ""

    @property
    def period(self) -> Period:
        return Period(self.year, self.measure)

    @property
    def label(self) -> str:
        return self.period.label


@dataclass(frozen=True)
class NationalAverages:
    figures: tuple[NationalAverage, ...]
    source: str = ""

    def matching(self, period: Period | None) -> NationalAverage | None:
        """The averages of exactly this year and measure (never another year's)."""
        if period is None:
            return None
        return next((f for f in self.figures if f.year == period.year and f.measure == period.measure), None)

    def for_phase(self, phase: Phase, year: str, measure: str = FULL_YEAR) -> float | None:
        found = self.matching(Period(year, measure))
        return found.attendance_by_phase.get(phase) if found else None

    def has_phase(self, phase: Phase) -> bool:
        """Does any year we hold have an average for this phase?"""
        return any(phase in f.attendance_by_phase for f in self.figures)

    @property
    def labels(self) -> str:
        return ", ".join(f.label for f in self.figures)
