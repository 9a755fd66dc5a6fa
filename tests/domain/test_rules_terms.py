"""The term calendar's rules (``tsm/domain/terms.py``) and the value types under it (``tsm/domain/model.py``):
which days are bookable and why not, which term a day is in, the terms' order and that they never overlap."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tsm.domain.model import DateRange, Interval, MeetingStatus, Mode, Phase, TermName
from tsm.domain.terms import BankHolidays, Break, Term, TermCalendar, academic_year_of

LONDON = ZoneInfo("Europe/London")


def term(year: str, name: TermName, first: date, last: date, *breaks: Break) -> Term:
    return Term(year, name, DateRange(first, last), tuple(breaks))


AUTUMN = term(
    "2026-27",
    TermName.AUTUMN,
    date(2026, 9, 2),
    date(2026, 12, 18),
    Break(DateRange(date(2026, 10, 26), date(2026, 10, 30)), "half_term"),
    Break(DateRange(date(2026, 11, 20), date(2026, 11, 20)), "closure", "INSET day"),
    Break(DateRange(date(2026, 12, 1), date(2026, 12, 1)), "closure"),
)
SPRING = term("2026-27", TermName.SPRING, date(2027, 1, 5), date(2027, 3, 26))
SUMMER = term("2026-27", TermName.SUMMER, date(2027, 4, 12), date(2027, 7, 21))
NEXT_AUTUMN = term("2027-28", TermName.AUTUMN, date(2027, 9, 2), date(2027, 12, 17))


def calendar(*terms: Term) -> TermCalendar:
    return TermCalendar(list(terms), bank_holiday=BankHolidays().name)


# ------------------------------------------------------------------------------------------ order and overlap


def test_terms_are_kept_in_date_order_whatever_order_they_are_loaded_in():
    cal = calendar(SUMMER, NEXT_AUTUMN, AUTUMN, SPRING)
    assert [t.label for t in cal.terms] == [
        "autumn term 2026-27",
        "spring term 2026-27",
        "summer term 2026-27",
        "autumn term 2027-28",
    ]
    assert cal.term_for(date(2027, 2, 1)) is SPRING
    assert cal.next_after(AUTUMN) is SPRING and cal.next_after(SPRING) is SUMMER
    assert cal.current_or_next(date(2027, 8, 1)) is NEXT_AUTUMN


def test_overlapping_terms_are_refused_even_by_one_day():
    clash = term("2026-27", TermName.SPRING, date(2026, 12, 18), date(2027, 3, 26))
    with pytest.raises(ValueError, match="terms overlap: autumn term 2026-27 and spring term 2026-27"):
        calendar(clash, AUTUMN)
    back_to_back = term("2026-27", TermName.SPRING, date(2026, 12, 19), date(2027, 3, 26))
    assert len(calendar(AUTUMN, back_to_back).terms) == 2


def test_term_sort_key_orders_by_year_then_autumn_spring_summer():
    assert sorted([SUMMER, NEXT_AUTUMN, SPRING, AUTUMN], key=lambda t: t.sort_key) == [
        AUTUMN,
        SPRING,
        SUMMER,
        NEXT_AUTUMN,
    ]
    assert AUTUMN.sort_key == ("2026-27", 0) and SUMMER.sort_key == ("2026-27", 2)


# ------------------------------------------------------------------------------------------ which term


def test_a_term_runs_from_its_first_to_its_last_day_inclusive():
    cal = calendar(AUTUMN, SPRING)
    assert cal.term_for(date(2026, 9, 1)) is None
    assert cal.term_for(date(2026, 9, 2)) is AUTUMN
    assert cal.term_for(date(2026, 12, 18)) is AUTUMN
    assert cal.term_for(date(2026, 12, 19)) is None
    assert cal.term_for(date(2027, 1, 5)) is SPRING
    assert cal.term_for(date(2027, 3, 27)) is None
    assert cal.term_for(date(2026, 10, 27)) is AUTUMN  # half term is in the term
    assert calendar().term_for(date(2026, 10, 27)) is None


def test_current_or_next_and_next_after():
    cal = calendar(AUTUMN, SPRING)
    assert cal.current_or_next(date(2026, 8, 1)) is AUTUMN
    assert cal.current_or_next(date(2026, 10, 27)) is AUTUMN
    assert cal.current_or_next(date(2026, 12, 25)) is SPRING
    assert cal.current_or_next(date(2027, 4, 1)) is None
    assert cal.next_after(SPRING) is None


def test_the_academic_year_turns_on_1_september():
    assert academic_year_of(date(2026, 8, 31)) == "2025-26"
    assert academic_year_of(date(2026, 9, 1)) == "2026-27"
    assert academic_year_of(date(2099, 12, 31)) == "2099-00"


# ------------------------------------------------------------------------------------------ bookable days


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 11, 7), "Saturday 7 November 2026 is a weekend"),
        (date(2026, 11, 8), "Sunday 8 November 2026 is a weekend"),
        (date(2026, 12, 25), "Friday 25 December 2026 is a bank holiday (Christmas Day)"),
        (date(2027, 5, 3), "Monday 3 May 2027 is a bank holiday (May Day)"),
        (date(2026, 9, 1), "Tuesday 1 September 2026 is outside term time"),
        (date(2026, 10, 26), "Monday 26 October 2026 is in half term"),
        (date(2026, 10, 30), "Friday 30 October 2026 is in half term"),
        (date(2026, 11, 20), "Friday 20 November 2026 is a school closure (INSET day)"),
        (date(2026, 12, 1), "Tuesday 1 December 2026 is a school closure"),
    ],
)
def test_why_a_day_is_not_bookable(day, why):
    cal = calendar(AUTUMN, SPRING, SUMMER)
    assert cal.why_not_bookable(day) == why
    assert not cal.is_bookable_day(day)


@pytest.mark.parametrize(
    "day", [date(2026, 9, 2), date(2026, 10, 23), date(2026, 11, 6), date(2026, 12, 18), date(2026, 11, 2)]
)
def test_a_school_weekday_in_term_is_bookable(day):
    cal = calendar(AUTUMN)
    assert cal.why_not_bookable(day) is None and cal.is_bookable_day(day)


def test_an_extra_bank_holiday_counts():
    cal = TermCalendar([AUTUMN], bank_holiday=BankHolidays(extra=[date(2026, 11, 3)]).name)
    assert (
        cal.why_not_bookable(date(2026, 11, 3)) == "Tuesday 3 November 2026 is a bank holiday (bank holiday)"
    )
    assert cal.is_bookable_day(date(2026, 11, 4))


def test_an_instant_is_bookable_by_its_day_in_the_las_time_zone():
    cal = calendar(SUMMER)
    # 23:30 UTC on Friday 11 June 2027 is 00:30 on Saturday in London (BST): not bookable
    assert not cal.is_bookable_instant(datetime(2027, 6, 11, 23, 30, tzinfo=UTC), LONDON)
    assert cal.is_bookable_instant(datetime(2027, 6, 11, 22, 30, tzinfo=UTC), LONDON)


def test_bookable_days_lists_each_bookable_day_from_first_to_last_inclusive():
    cal = calendar(AUTUMN)
    days = cal.bookable_days(date(2026, 10, 22), date(2026, 11, 3))
    assert days == [date(2026, 10, 22), date(2026, 10, 23), date(2026, 11, 2), date(2026, 11, 3)]
    assert cal.bookable_days(date(2026, 11, 3), date(2026, 11, 3)) == [date(2026, 11, 3)]


def test_a_break_is_found_by_day():
    assert AUTUMN.break_on(date(2026, 10, 28)).kind == "half_term"
    assert AUTUMN.break_on(date(2026, 11, 20)).label == "INSET day"
    assert AUTUMN.break_on(date(2026, 11, 19)) is None


# ------------------------------------------------------------------------------------------ value types


def test_a_date_range_is_inclusive_and_holds_only_dates():
    r = DateRange(date(2026, 10, 26), date(2026, 10, 30))
    assert date(2026, 10, 26) in r and date(2026, 10, 30) in r
    assert date(2026, 10, 25) not in r and date(2026, 10, 31) not in r
    assert "2026-10-27" not in r
    assert date(2026, 10, 26) in DateRange(date(2026, 10, 26), date(2026, 10, 26))
    with pytest.raises(ValueError, match="ends before it starts"):
        DateRange(date(2026, 10, 30), date(2026, 10, 29))


def test_an_interval_is_half_open_and_aware():
    a = Interval(datetime(2027, 1, 11, 9, tzinfo=UTC), datetime(2027, 1, 11, 10, tzinfo=UTC))
    b = Interval(datetime(2027, 1, 11, 10, tzinfo=UTC), datetime(2027, 1, 11, 11, tzinfo=UTC))
    assert not a.overlaps(b) and not b.overlaps(a)
    assert a.overlaps(
        a.widen(timedelta(0), timedelta(minutes=1)).__class__(a.start, b.start + timedelta(minutes=1))
    )
    assert a.overlaps(Interval(a.start - timedelta(hours=1), a.start + timedelta(minutes=1)))
    assert a.duration == timedelta(hours=1)
    assert Interval(a.start, a.start).duration == timedelta(0)
    assert a.widen(timedelta(minutes=30)) == Interval(
        a.start - timedelta(minutes=30), a.end + timedelta(minutes=30)
    )
    assert a.widen(timedelta(minutes=30), timedelta(0)) == Interval(a.start - timedelta(minutes=30), a.end)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(datetime(2027, 1, 11, 9), a.end)
    with pytest.raises(ValueError, match="timezone-aware"):
        Interval(a.start, datetime(2027, 1, 11, 10))
    with pytest.raises(ValueError, match="ends before it starts"):
        Interval(a.end, a.start)


def test_which_statuses_hold_a_place_and_mode_labels():
    assert {s for s in MeetingStatus if s.is_active} == {
        MeetingStatus.BOOKED,
        MeetingStatus.MOVED,
        MeetingStatus.HELD,
    }
    assert Mode.ON_SITE.label == "in person at school" and Mode.TEAMS.label == "on Teams"


def test_each_phase_in_words():
    assert [p.label for p in Phase] == [
        "primary schools",
        "secondary schools",
        "special schools",
        "nursery schools",
        "pupil referral units and alternative provision",
        "schools of this type",
    ]


def test_a_calendar_with_no_terms_has_no_term_and_nothing_bookable():
    empty = calendar()
    assert empty.term_for(date(2026, 11, 3)) is None
    assert empty.current_or_next(date(2026, 11, 3)) is None
    assert empty.why_not_bookable(date(2026, 11, 3)) == "Tuesday 3 November 2026 is outside term time"
