"""Value types shared across the core."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class Mode(StrEnum):
    ON_SITE = "on_site"
    TEAMS = "teams"

    @property
    def label(self) -> str:
        return "in person at school" if self is Mode.ON_SITE else "on Teams"


class TermName(StrEnum):
    AUTUMN = "autumn"
    SPRING = "spring"
    SUMMER = "summer"


class Phase(StrEnum):
    """Phase used for the comparison with the national average."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    SPECIAL = "special"
    NURSERY = (
        "nursery"  # LA nursery schools: the DfE publishes no national average for them in the figures we hold
    )
    ALTERNATIVE_PROVISION = "pru_ap"  # PRUs and AP academies/free schools: no national average either
    OTHER = "other"

    @property
    def label(self) -> str:
        """The phase in words, for "the national average for ... schools"."""
        return {
            "pru_ap": "pupil referral units and alternative provision",
            "nursery": "nursery schools",
            "other": "schools of this type",
        }.get(self.value, f"{self.value} schools")


class MeetingStatus(StrEnum):
    BOOKED = "booked"
    MOVED = "moved"
    CANCELLED = "cancelled"
    HELD = "held"
    NO_SHOW = "no_show"

    @property
    def is_active(self) -> bool:
        """An active meeting holds its school's place in the term and the officer's time."""
        return self in (MeetingStatus.BOOKED, MeetingStatus.MOVED, MeetingStatus.HELD)


class ContactRole(StrEnum):
    ATTENDANCE_LEAD = "attendance_lead"
    SENIOR_LEADER = "senior_leader"
    OTHER = "other"


class BookingRoute(StrEnum):
    SELF = "self"  # the school books itself
    CONTACTED_DIRECTLY = "contacted_directly"  # the LA contacts the school to arrange its TSMs


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A half-open interval [start, end) of aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Interval needs timezone-aware datetimes")
        if self.end < self.start:
            raise ValueError(f"Interval ends before it starts: {self.start} > {self.end}")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end

    def widen(self, before: timedelta, after: timedelta | None = None) -> Interval:
        return Interval(self.start - before, self.end + (before if after is None else after))

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class DateRange:
    """An inclusive range of calendar dates (how term dates and breaks are published)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"date range ends before it starts: {self.first} > {self.last}")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last
