"""The slot finder's rules, one test each, on the Norfolk and Kent profiles as shipped (``tsm/policies/*.toml``).

Kent's values differ from the parser's defaults (72 h notice, 45-minute travel buffer, 2 meetings a day; the
defaults are 48 h, 30 minutes, 3), so each Kent test also shows the value was read from the file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from tsm.domain import slots as slots_module
from tsm.domain.model import DateRange, Interval, Mode, TermName
from tsm.domain.policy import WorkingHours, load_policy
from tsm.domain.slots import (
    ExistingMeeting,
    NotFree,
    SlotRules,
    find_slots,
    footprint,
    is_slot_free,
    merge,
    why_not_free,
)
from tsm.domain.terms import Term, TermCalendar

LONDON = ZoneInfo("Europe/London")
KENT = load_policy("kent")
NORFOLK = load_policy("norfolk")
MONDAY = date(2027, 1, 11)  # spring term 2027; no bank holiday that week
CALENDAR = TermCalendar(
    [Term("2026-27", TermName.SPRING, DateRange(date(2027, 1, 4), date(2027, 3, 26)))],
    bank_holiday=lambda d: None,
)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LONDON)


def starts(found) -> list[str]:
    return [f"{s.start.astimezone(LONDON):%a %H:%M}" for s in found]


def find(
    policy,
    *,
    day: date = MONDAY,
    days: int = 1,
    mode: Mode = Mode.TEAMS,
    minutes: int = 60,
    now=None,
    meetings=(),
    busy=(),
    hours=None,
    rules=None,
    **kw,
):
    return find_slots(
        window=Interval(at(day, 0), at(day + timedelta(days=days), 0)),
        duration=timedelta(minutes=minutes),
        mode=mode,
        tz=LONDON,
        working_hours=hours or policy.working_hours,
        calendar=CALENDAR,
        rules=rules or SlotRules.from_policy(policy),
        busy=list(busy),
        meetings=list(meetings),
        now=now or at(day - timedelta(days=7), 9),
        **kw,
    )


# ------------------------------------------------------------------------------------------ values from the file


def test_kent_slot_rules_are_read_from_kent_toml_not_the_parser_defaults():
    rules = SlotRules.from_policy(KENT)
    assert (rules.granularity, rules.minimum_notice, rules.travel_buffer, rules.max_per_day) == (
        timedelta(minutes=30),
        timedelta(hours=72),
        timedelta(minutes=45),
        2,
    )
    norfolk = SlotRules.from_policy(NORFOLK)
    assert (norfolk.minimum_notice, norfolk.travel_buffer, norfolk.max_per_day) == (
        timedelta(hours=48),
        timedelta(minutes=30),
        3,
    )


def test_an_officers_own_daily_cap_overrides_the_las_and_none_keeps_the_las():
    assert SlotRules.from_policy(KENT, max_per_day=1).max_per_day == 1
    assert SlotRules.from_policy(KENT, max_per_day=None).max_per_day == 2
    assert SlotRules.from_policy(NORFOLK, max_per_day=5).max_per_day == 5


def test_travel_buffer_applies_on_site_only():
    rules = SlotRules.from_policy(KENT)
    assert rules.buffer_for(Mode.ON_SITE) == timedelta(minutes=45)
    assert rules.buffer_for(Mode.TEAMS) == timedelta(0)
    assert footprint(at(MONDAY, 10), at(MONDAY, 11), Mode.ON_SITE, rules) == Interval(
        at(MONDAY, 9, 15), at(MONDAY, 11, 45)
    )
    assert footprint(at(MONDAY, 10), at(MONDAY, 11), Mode.TEAMS, rules) == Interval(
        at(MONDAY, 10), at(MONDAY, 11)
    )


# ------------------------------------------------------------------------------------------ notice


@pytest.mark.parametrize(("policy", "first"), [(KENT, "Thu 09:00"), (NORFOLK, "Wed 09:00")])
def test_minimum_notice_kent_72_hours_norfolk_48(policy, first):
    found = find(policy, days=4, now=at(MONDAY, 9), limit=1)
    assert starts(found) == [first]


def test_a_slot_exactly_at_the_notice_is_offered():
    # now 09:00 Monday + 72 h = Thursday 09:00: offered, not the next grid point.
    thursday = MONDAY + timedelta(days=3)
    assert is_slot_free(
        at(thursday, 9),
        duration=timedelta(minutes=60),
        mode=Mode.TEAMS,
        tz=LONDON,
        working_hours=KENT.working_hours,
        calendar=CALENDAR,
        rules=SlotRules.from_policy(KENT),
        now=at(MONDAY, 9),
    )
    assert not is_slot_free(
        at(thursday, 8, 30),
        duration=timedelta(minutes=60),
        mode=Mode.TEAMS,
        tz=LONDON,
        working_hours=KENT.working_hours,
        calendar=CALENDAR,
        rules=SlotRules.from_policy(KENT),
        now=at(MONDAY, 9),
    )


# ------------------------------------------------------------------------------------------ travel buffer


def test_kent_45_minute_travel_buffer_between_visits():
    # An on-site visit 10:00-11:30: with 45 minutes' travel each side, the next visit starts at 13:00 at the
    # earliest (12:15 + 45 minutes, on the 30-minute grid), a Teams call at 12:30 (12:15 on the grid).
    visit = ExistingMeeting(at(MONDAY, 10), at(MONDAY, 11, 30), Mode.ON_SITE)
    on_site = find(KENT, mode=Mode.ON_SITE, meetings=[visit])
    assert starts(on_site) == ["Mon 13:00", "Mon 13:30", "Mon 14:00", "Mon 14:30", "Mon 15:00", "Mon 15:30"]
    teams = find(KENT, mode=Mode.TEAMS, meetings=[visit])
    assert [s for s in starts(teams) if s >= "Mon 11"] == [
        "Mon 12:30",
        "Mon 13:00",
        "Mon 13:30",
        "Mon 14:00",
        "Mon 14:30",
        "Mon 15:00",
        "Mon 15:30",
    ]
    # before the visit: 08:30-09:30 on Teams runs into the officer's travel from 09:15 (with 30 minutes it would not)
    assert [s for s in starts(teams) if s < "Mon 10"] == []


def test_norfolk_30_minute_travel_buffer_between_visits():
    visit = ExistingMeeting(at(MONDAY, 10), at(MONDAY, 11), Mode.ON_SITE)
    on_site = find(NORFOLK, mode=Mode.ON_SITE, meetings=[visit], day=MONDAY)
    # the visit holds 09:30-11:30; a new visit needs 30 minutes before it: 12:00 at the earliest
    assert starts(on_site)[:2] == ["Mon 12:00", "Mon 12:30"]


def test_busy_time_touching_a_slot_does_not_block_it():
    busy = [Interval(at(MONDAY, 9), at(MONDAY, 10))]
    assert starts(find(NORFOLK, busy=busy))[:2] == ["Mon 10:00", "Mon 10:30"]


# ------------------------------------------------------------------------------------------ daily cap


def test_kent_two_meetings_a_day_cap():
    two = [
        ExistingMeeting(at(MONDAY, 9), at(MONDAY, 10), Mode.TEAMS),
        ExistingMeeting(at(MONDAY, 14), at(MONDAY, 15), Mode.TEAMS),
    ]
    assert find(KENT, meetings=two) == []
    assert find(KENT, meetings=two[:1]) != []
    # Norfolk's cap is 3: two meetings leave the day open
    assert find(NORFOLK, meetings=two) != []


def test_the_cap_counts_meetings_by_their_local_day():
    # 23:30 UTC on Sunday 13 June is 00:30 Monday in London (BST): it counts against Monday
    summer_monday = date(2027, 6, 14)
    cal = TermCalendar(
        [Term("2026-27", TermName.SUMMER, DateRange(date(2027, 4, 12), date(2027, 7, 21)))],
        bank_holiday=lambda d: None,
    )
    late = ExistingMeeting(
        datetime(2027, 6, 13, 23, 30, tzinfo=ZoneInfo("UTC")),
        datetime(2027, 6, 14, 0, 0, tzinfo=ZoneInfo("UTC")),
        Mode.TEAMS,
    )
    other = ExistingMeeting(at(summer_monday, 14), at(summer_monday, 15), Mode.TEAMS)
    found = find_slots(
        window=Interval(at(summer_monday, 0), at(summer_monday, 23)),
        duration=timedelta(hours=1),
        mode=Mode.TEAMS,
        tz=LONDON,
        working_hours=KENT.working_hours,
        calendar=cal,
        rules=SlotRules.from_policy(KENT),
        meetings=[late, other],
        now=at(summer_monday, 0) - timedelta(days=9),
    )
    assert found == []


# ------------------------------------------------------------------------------------------ the search itself


def test_a_meeting_must_have_a_positive_length():
    for minutes in (0, -30):
        with pytest.raises(ValueError, match="positive"):
            find(KENT, minutes=minutes)


def test_slots_never_run_past_the_window_or_the_working_day():
    # Kent Friday 08:30-16:00: a 90-minute meeting starts 14:30 at the latest
    friday = MONDAY + timedelta(days=4)
    found = find(KENT, day=friday, minutes=90)
    assert starts(found)[-1] == "Fri 14:30"
    # a window closing at 11:00 offers nothing ending after it
    window_end = find_slots(
        window=Interval(at(friday, 8), at(friday, 11)),
        duration=timedelta(minutes=90),
        mode=Mode.TEAMS,
        tz=LONDON,
        working_hours=KENT.working_hours,
        calendar=CALENDAR,
        rules=SlotRules.from_policy(KENT),
        now=at(MONDAY, 0) - timedelta(days=7),
    )
    assert starts(window_end) == ["Fri 08:30", "Fri 09:00", "Fri 09:30"]


def test_the_limit_stops_the_search_and_zero_means_none():
    assert len(find(KENT, days=3, limit=3)) == 3
    assert find(KENT, days=3, limit=0) == []
    assert len(find(KENT, days=1)) == 15  # 08:30..15:30 on the 30-minute grid, 60 minutes each


def test_slots_carry_the_mode_and_officer():
    found = find(KENT, mode=Mode.ON_SITE, officer_id=42, limit=1)
    assert (found[0].mode, found[0].officer_id, found[0].end - found[0].start) == (
        Mode.ON_SITE,
        42,
        timedelta(hours=1),
    )
    assert found[0].interval == Interval(found[0].start, found[0].end)


def test_overlapping_working_hour_spans_are_joined_and_a_slot_may_cross_the_seam():
    hours = WorkingHours.parse({"mon": ["09:00-10:00", "11:00-12:00", "11:30-13:00"]})
    assert starts(find(NORFOLK, hours=hours)) == ["Mon 09:00", "Mon 11:00", "Mon 11:30", "Mon 12:00"]
    touching = WorkingHours.parse({"mon": ["09:00-10:00", "10:00-11:00"]})
    assert starts(find(NORFOLK, hours=touching)) == ["Mon 09:00", "Mon 09:30", "Mon 10:00"]
    inside = WorkingHours.parse({"mon": ["09:00-12:00", "10:00-11:00"]})
    assert starts(find(NORFOLK, hours=inside)) == [
        "Mon 09:00",
        "Mon 09:30",
        "Mon 10:00",
        "Mon 10:30",
        "Mon 11:00",
    ]


def test_touching_or_overlapping_busy_times_merge_into_one_block():
    def iv(h1, m1, h2, m2):
        return Interval(at(MONDAY, h1, m1), at(MONDAY, h2, m2))

    assert merge([iv(10, 0, 11, 0), iv(9, 0, 10, 0)]) == [iv(9, 0, 11, 0)]
    assert merge([iv(9, 0, 12, 0), iv(10, 0, 11, 0)]) == [iv(9, 0, 12, 0)]
    assert merge([iv(9, 0, 10, 0), iv(10, 30, 11, 0), iv(10, 45, 12, 0)]) == [
        iv(9, 0, 10, 0),
        iv(10, 30, 12, 0),
    ]
    assert merge([iv(9, 0, 10, 0), iv(10, 30, 11, 0)]) == [iv(9, 0, 10, 0), iv(10, 30, 11, 0)]
    assert merge([]) == []


def test_a_busy_block_is_skipped_in_one_jump_not_grid_point_by_grid_point(monkeypatch):
    # A whole-day busy block on a 5-minute grid: the finder jumps past it, so the clash lookup runs a handful of
    # times, not once per grid point (96 of them from 08:30 to 16:30).
    calls = []
    original = slots_module._Blocked.first_clash

    def counted(self, fp):
        calls.append(fp)
        return original(self, fp)

    monkeypatch.setattr(slots_module._Blocked, "first_clash", counted)
    rules = SlotRules(timedelta(minutes=5), timedelta(0), timedelta(0), 3)
    busy = [Interval(at(MONDAY, 8), at(MONDAY, 15))]
    found = find(KENT, busy=busy, rules=rules)
    assert starts(found)[0] == "Mon 15:00"
    assert len(calls) <= len(found) + 2


class _ClocksForwardAtNoon(tzinfo):
    """A made-up zone whose clocks go forward an hour at noon on MONDAY (England's change on Sunday nights never
    falls in working hours; another zone's could)."""

    CHANGE = datetime.combine(MONDAY, time(12))

    def utcoffset(self, dt):
        return timedelta(hours=1) if dt.replace(tzinfo=None) >= self.CHANGE else timedelta(0)

    dst = utcoffset

    def tzname(self, dt):
        return "NOON"


def test_a_clock_change_in_working_hours_compares_each_time_after_it_at_its_own_offset():
    zone = _ClocksForwardAtNoon()

    def on_the_clock(
        window_end, busy_utc, *, now=at(MONDAY - timedelta(days=7), 9), limit=None, hours="09:00-16:00"
    ):
        found = find_slots(
            window=Interval(
                datetime.combine(MONDAY, time(0), tzinfo=zone),
                datetime.combine(MONDAY, window_end, tzinfo=zone),
            ),
            duration=timedelta(minutes=60),
            mode=Mode.TEAMS,
            tz=zone,
            working_hours=WorkingHours.parse({"mon": hours}),
            calendar=CALENDAR,
            rules=SlotRules(timedelta(minutes=60), timedelta(0), timedelta(0), 3),
            busy=[
                Interval(datetime.combine(MONDAY, a, tzinfo=UTC), datetime.combine(MONDAY, b, tzinfo=UTC))
                for a, b in busy_utc
            ],
            now=now,
            limit=limit,
        )
        return [f"{s.start:%H:%M}" for s in found]

    # Busy 13:00-14:00 UTC is 14:00-15:00 on the clock after the change: 14:00 is taken and 13:00 is free. Working
    # out the span's times from its opening offset would have it the other way round.
    assert on_the_clock(time(23), [(time(13), time(14))]) == [
        "09:00",
        "10:00",
        "11:00",
        "12:00",
        "13:00",
        "15:00",
    ]
    # Busy 09:00-11:00 is skipped in one jump; the notice counts in UTC too; a window ending at 14:00 on the clock
    # (13:00 UTC) takes no slot ending after it; the limit stops the search.
    morning = [(time(9), time(11))]
    assert on_the_clock(time(14), morning) == ["11:00", "12:00", "13:00"]
    assert on_the_clock(time(14), morning, now=datetime.combine(MONDAY, time(12), tzinfo=UTC)) == ["13:00"]
    assert on_the_clock(time(23), morning, limit=2) == ["11:00", "12:00"]
    # ... also when the limit is reached in the span the clocks change in, with a span still to come that day
    assert on_the_clock(time(23), morning, hours=["09:00-12:30", "13:00-16:00"]) == [
        "11:00",
        "13:00",
        "14:00",
        "15:00",
    ]
    assert on_the_clock(time(23), morning, limit=1, hours=["09:00-12:30", "13:00-16:00"]) == ["11:00"]


def test_a_busy_block_is_skipped_in_one_jump_in_a_span_the_clocks_change_in(monkeypatch):
    calls = []
    original = slots_module._Blocked.first_clash

    def counted(self, fp):
        calls.append(fp)
        return original(self, fp)

    monkeypatch.setattr(slots_module._Blocked, "first_clash", counted)
    zone = _ClocksForwardAtNoon()
    found = find_slots(
        window=Interval(
            datetime.combine(MONDAY, time(0), tzinfo=zone), datetime.combine(MONDAY, time(23), tzinfo=zone)
        ),
        duration=timedelta(minutes=60),
        mode=Mode.TEAMS,
        tz=zone,
        working_hours=WorkingHours.parse({"mon": "09:00-16:00"}),
        calendar=CALENDAR,
        rules=SlotRules(timedelta(minutes=5), timedelta(0), timedelta(0), 3),
        busy=[
            Interval(
                datetime.combine(MONDAY, time(9), tzinfo=UTC),
                datetime.combine(MONDAY, time(11, 30), tzinfo=UTC),
            )
        ],
        now=at(MONDAY - timedelta(days=7), 9),
    )
    assert f"{found[0].start:%H:%M}" == "11:30"
    assert len(calls) <= len(found) + 2  # not once per 5 minutes from 09:00


# ------------------------------------------------------------------------------------------ why a time is not free


def why(start, *, mode=Mode.TEAMS, meetings=(), busy=(), hours=None, now=None, minutes=60, cap=None):
    return why_not_free(
        start,
        duration=timedelta(minutes=minutes),
        mode=mode,
        tz=LONDON,
        working_hours=hours or KENT.working_hours,
        calendar=CALENDAR,
        rules=SlotRules.from_policy(KENT, max_per_day=cap),
        busy=list(busy),
        meetings=list(meetings),
        now=now or at(MONDAY - timedelta(days=7), 9),
    )


def test_why_a_time_is_not_free_names_the_most_fundamental_reason_kent():
    saturday = MONDAY + timedelta(days=5)
    assert why(at(saturday, 10)) == NotFree("not_bookable_day", "Saturday 16 January 2027 is a weekend")
    tuesday_off = WorkingHours.parse({"mon": "08:30-16:30"})
    assert why(at(MONDAY + timedelta(days=1), 10), hours=tuesday_off) == NotFree("not_working")
    # 72 hours' notice: Wednesday 10:00 is too soon from Monday 09:00, Thursday 09:00 is not
    assert why(at(MONDAY + timedelta(days=2), 10), now=at(MONDAY, 9)) == NotFree("too_soon")
    assert why(at(MONDAY + timedelta(days=3), 9), now=at(MONDAY, 9)) is None
    assert why(at(MONDAY, 9, 10)) == NotFree("not_offered")  # off the 30-minute grid
    assert why(at(MONDAY, 16)) == NotFree("not_offered")  # would end after 16:30
    two = [
        ExistingMeeting(at(MONDAY, 9), at(MONDAY, 10), Mode.TEAMS),
        ExistingMeeting(at(MONDAY, 14), at(MONDAY, 15), Mode.TEAMS),
    ]
    assert why(at(MONDAY, 11), meetings=two) == NotFree("day_full")
    assert why(at(MONDAY, 11), meetings=two[:1]) is None


def test_why_a_time_is_not_free_clashes():
    visit = ExistingMeeting(at(MONDAY, 10), at(MONDAY, 11), Mode.ON_SITE)
    assert why(at(MONDAY, 10, 30), meetings=[visit]) == NotFree("taken", visit)
    busy = Interval(at(MONDAY, 13), at(MONDAY, 14))
    assert why(at(MONDAY, 13, 30), busy=[busy]) == NotFree("officer_busy", busy)
    # the time itself is free, only the 45 minutes' travel either side meets: travel_time
    assert why(at(MONDAY, 11, 30), meetings=[visit]) == NotFree("travel_time", visit)
    assert why(at(MONDAY, 14), busy=[busy], mode=Mode.ON_SITE) == NotFree("travel_time", busy)
    assert why(at(MONDAY, 14), busy=[busy], mode=Mode.TEAMS) is None  # no travel on Teams
    assert (
        why(at(MONDAY, 12), meetings=[visit]) is None
    )  # 11:00 + 45 minutes = 11:45: a Teams call at 12:00 fits


def test_a_meeting_or_busy_time_touching_the_time_is_no_clash():
    before = ExistingMeeting(at(MONDAY, 10), at(MONDAY, 11), Mode.TEAMS)
    after = ExistingMeeting(at(MONDAY, 12), at(MONDAY, 13), Mode.TEAMS)
    assert why(at(MONDAY, 11), meetings=[before, after], cap=5) is None
    busy = [Interval(at(MONDAY, 10), at(MONDAY, 11)), Interval(at(MONDAY, 12), at(MONDAY, 13))]
    assert why(at(MONDAY, 11), busy=busy) is None


def test_travel_time_names_the_visit_or_busy_time_whose_travel_meets_not_a_neighbour():
    # an on-site visit 12:00-13:00 with Kent's 45 minutes: its travel runs 11:15-13:45
    far = ExistingMeeting(at(MONDAY, 8, 30), at(MONDAY, 9, 30), Mode.TEAMS)
    touching_before = ExistingMeeting(at(MONDAY, 10, 15), at(MONDAY, 11, 15), Mode.TEAMS)
    touching_after = ExistingMeeting(at(MONDAY, 13, 45), at(MONDAY, 14, 45), Mode.TEAMS)
    close = ExistingMeeting(at(MONDAY, 14), at(MONDAY, 15), Mode.ON_SITE)  # its own travel from 13:15
    for first in (far, touching_before, touching_after):
        assert why(at(MONDAY, 12), mode=Mode.ON_SITE, meetings=[first, close], cap=5) == NotFree(
            "travel_time", close
        )
    b_close = Interval(at(MONDAY, 13, 30), at(MONDAY, 14))
    for b_first in (
        Interval(at(MONDAY, 8, 30), at(MONDAY, 9)),
        Interval(at(MONDAY, 10, 15), at(MONDAY, 11, 15)),
        Interval(at(MONDAY, 13, 45), at(MONDAY, 14, 15)),
    ):
        assert why(at(MONDAY, 12), mode=Mode.ON_SITE, busy=[b_first, b_close]) == NotFree(
            "travel_time", b_close
        )


def test_working_hour_spans_join_whatever_comes_before_them():
    # the third span joins the second (not the first): 11:00 starts a meeting only across the 11:45 seam
    hours = WorkingHours.parse({"mon": ["09:00-10:00", "11:00-11:45", "11:30-12:30"]})
    assert starts(find(NORFOLK, hours=hours)) == ["Mon 09:00", "Mon 11:00", "Mon 11:30"]
    # a span inside the last joined one leaves its end where it was
    inside = WorkingHours.parse({"mon": ["09:00-10:00", "10:30-12:00", "10:45-11:00"]})
    assert starts(find(NORFOLK, hours=inside)) == ["Mon 09:00", "Mon 10:30", "Mon 11:00"]
