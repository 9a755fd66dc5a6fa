"""The term calendar built from the shipped term-date files: what is bookable, and which term a day is in."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from importlib import resources

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tsm.domain.model import TermName
from tsm.domain.terms import TermCalendar
from tsm.importers.terms import parse_terms_file

DATA = resources.files("tsm") / "data"


@cache
def calendar(name: str) -> TermCalendar:
    parsed = parse_terms_file(str(DATA / name))
    assert parsed.errors == []
    return TermCalendar(parsed.terms)


@pytest.fixture(scope="module")
def norfolk() -> TermCalendar:
    return calendar("norfolk-terms-2025-26.csv")


@pytest.fixture(scope="module")
def kent() -> TermCalendar:
    return calendar("kent-terms-2025-26.csv")


@pytest.fixture(scope="module")
def example() -> TermCalendar:
    return calendar("example-terms-2026-28.csv")


def days(first: str, last: str) -> list[date]:
    d, end, out = date.fromisoformat(first), date.fromisoformat(last), []
    while d <= end:
        out.append(d)
        d += timedelta(days=1)
    return out


NORFOLK_HALF_TERMS = (
    days("2025-10-27", "2025-10-31") + days("2026-02-16", "2026-02-20") + days("2026-05-25", "2026-05-29")
)


@pytest.mark.parametrize("day", NORFOLK_HALF_TERMS, ids=str)
def test_a_date_in_half_term_is_never_bookable(norfolk: TermCalendar, day: date) -> None:
    assert norfolk.term_for(day) is not None  # half term is inside its term...
    reason = norfolk.why_not_bookable(day)  # ...and still not bookable
    if day == date(2026, 5, 25):
        assert (
            reason == "Monday 25 May 2026 is a bank holiday (Spring Bank Holiday)"
        )  # the first reason given
    else:
        assert reason == f"{day:%A} {day.day} {day:%B %Y} is in half term"
    assert not norfolk.is_bookable_day(day)


def test_the_school_days_either_side_of_half_term_are_bookable(norfolk: TermCalendar) -> None:
    assert norfolk.why_not_bookable(date(2025, 10, 24)) is None  # Friday before
    assert norfolk.why_not_bookable(date(2025, 11, 3)) is None  # Monday after
    assert norfolk.why_not_bookable(date(2026, 2, 13)) is None
    assert norfolk.why_not_bookable(date(2026, 2, 23)) is None


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 5, 4), "May Day"),  # early May bank holiday, in the summer term
        (date(2025, 12, 25), "Christmas Day"),
        (date(2026, 4, 3), "Good Friday"),
    ],
)
def test_a_bank_holiday_is_never_bookable(
    norfolk: TermCalendar, kent: TermCalendar, day: date, name: str
) -> None:
    for cal in (norfolk, kent):
        reason = cal.why_not_bookable(day)
        assert reason is not None and "bank holiday" in reason and name in reason


def test_the_early_may_bank_holiday_is_in_term_but_not_bookable(norfolk: TermCalendar) -> None:
    may_day = date(2026, 5, 4)
    term = norfolk.term_for(may_day)
    assert term is not None and term.name is TermName.SUMMER and term.break_on(may_day) is None
    assert norfolk.why_not_bookable(may_day) == "Monday 4 May 2026 is a bank holiday (May Day)"
    assert norfolk.why_not_bookable(date(2026, 5, 5)) is None


def test_a_weekend_in_term_is_never_bookable(norfolk: TermCalendar) -> None:
    assert norfolk.term_for(date(2025, 9, 6)) is not None
    assert norfolk.why_not_bookable(date(2025, 9, 6)) == "Saturday 6 September 2025 is a weekend"
    assert norfolk.why_not_bookable(date(2025, 9, 7)) == "Sunday 7 September 2025 is a weekend"


def test_a_weekday_between_terms_is_outside_term_time(norfolk: TermCalendar) -> None:
    assert norfolk.why_not_bookable(date(2025, 12, 22)) == "Monday 22 December 2025 is outside term time"
    assert (
        norfolk.why_not_bookable(date(2026, 4, 14)) == "Tuesday 14 April 2026 is outside term time"
    )  # day before summer
    assert norfolk.why_not_bookable(date(2026, 4, 15)) is None  # first day of summer term
    assert norfolk.why_not_bookable(date(2026, 7, 20)) == "Monday 20 July 2026 is outside term time"


def test_norfolk_2025_26_has_189_bookable_days(norfolk: TermCalendar) -> None:
    # 190 pupil days (73 + 54 + 63 after half terms), less the early May bank holiday.
    bookable = norfolk.bookable_days(date(2025, 8, 1), date(2026, 8, 31))
    assert len(bookable) == 189
    assert bookable[0] == date(2025, 9, 3) and bookable[-1] == date(2026, 7, 17)


def test_kent_half_term_is_the_week_between_term_1_and_term_2(kent: TermCalendar) -> None:
    assert kent.why_not_bookable(date(2025, 10, 17)) is None  # last day of Term 1
    for day in days("2025-10-20", "2025-10-24"):
        assert kent.why_not_bookable(day) == f"{day:%A} {day.day} {day:%B %Y} is in half term"
    assert kent.why_not_bookable(date(2025, 10, 27)) is None  # first day of Term 2
    autumn = kent.term_for(date(2025, 10, 22))
    assert autumn is not None and autumn.name is TermName.AUTUMN
    assert autumn.dates.first == date(2025, 9, 3) and autumn.dates.last == date(2025, 12, 19)


def test_kent_2025_26_has_193_bookable_days(kent: TermCalendar) -> None:
    # Terms 1-6: 33 + 40 + 30 + 29 + 25 + 37 weekdays, less the early May bank holiday.
    assert len(kent.bookable_days(date(2025, 9, 1), date(2026, 8, 31))) == 193


def test_term_for_includes_half_term_and_excludes_holidays(norfolk: TermCalendar) -> None:
    assert norfolk.term_for(date(2025, 9, 2)) is None
    assert norfolk.term_for(date(2025, 9, 3)).label == "autumn term 2025-26"
    assert norfolk.term_for(date(2025, 10, 29)).label == "autumn term 2025-26"
    assert norfolk.term_for(date(2025, 12, 22)) is None
    assert norfolk.term_for(date(2026, 3, 27)).label == "spring term 2025-26"
    assert norfolk.term_for(date(2026, 7, 17)).label == "summer term 2025-26"
    assert norfolk.term_for(date(2026, 7, 18)) is None


def test_current_or_next_is_todays_term_else_the_next_to_start(norfolk: TermCalendar) -> None:
    assert norfolk.current_or_next(date(2025, 8, 1)).label == "autumn term 2025-26"
    assert norfolk.current_or_next(date(2025, 10, 29)).label == "autumn term 2025-26"  # in half term
    assert norfolk.current_or_next(date(2025, 12, 25)).label == "spring term 2025-26"  # Christmas holidays
    assert norfolk.current_or_next(date(2026, 4, 1)).label == "summer term 2025-26"  # Easter holidays
    assert norfolk.current_or_next(date(2026, 8, 1)) is None  # after the last term known


def test_next_after_follows_the_terms_across_academic_years(example: TermCalendar) -> None:
    labels = []
    term = example.terms[0]
    while term is not None:
        labels.append(term.label)
        term = example.next_after(term)
    assert labels == [
        "autumn term 2026-27",
        "spring term 2026-27",
        "summer term 2026-27",
        "autumn term 2027-28",
        "spring term 2027-28",
        "summer term 2027-28",
    ]


def test_every_example_term_has_one_weekday_half_term_week_inside_it(example: TermCalendar) -> None:
    for term in example.terms:
        (half,) = term.breaks
        assert half.kind == "half_term"
        assert term.dates.first < half.dates.first and half.dates.last < term.dates.last
        assert half.dates.first.weekday() == 0 and (half.dates.last - half.dates.first).days == 4
    assert example.why_not_bookable(date(2027, 5, 31)) is not None  # spring bank holiday, in half term
    assert example.why_not_bookable(date(2027, 6, 7)) is None


PUBLISHED_NORFOLK = [
    (date(2025, 9, 3), date(2025, 12, 19)),
    (date(2026, 1, 6), date(2026, 3, 27)),
    (date(2026, 4, 15), date(2026, 7, 17)),
]
PUBLISHED_NORFOLK_HALF_TERMS = set(NORFOLK_HALF_TERMS)


@given(st.dates(min_value=date(2025, 8, 1), max_value=date(2026, 8, 31)))
def test_a_day_is_bookable_exactly_when_it_is_a_school_weekday_that_is_not_a_bank_holiday(day: date) -> None:
    cal = calendar("norfolk-terms-2025-26.csv")
    bank = holidays.country_holidays("GB", subdiv="ENG")
    expected = (
        day.weekday() < 5
        and day not in bank
        and day not in PUBLISHED_NORFOLK_HALF_TERMS
        and any(first <= day <= last for first, last in PUBLISHED_NORFOLK)
    )
    assert cal.is_bookable_day(day) is expected
