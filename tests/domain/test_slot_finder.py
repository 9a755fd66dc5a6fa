"""The slot finder against its definition (the module docstring of ``tsm.domain.slots``).

Property tests check every returned slot rule by rule, and check completeness against a brute-force
oracle that walks each bookable day minute by minute and knows nothing of the finder's shortcuts
(merged busy list, bisect, jumping past clashes). Example tests name the rules one at a time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tsm.domain.model import DateRange, Interval, Mode, TermName
from tsm.domain.policy import WorkingHours
from tsm.domain.slots import ExistingMeeting, Slot, SlotRules, find_slots, footprint, is_slot_free
from tsm.domain.terms import Break, Term, TermCalendar

LONDON = ZoneInfo("Europe/London")
MIN = timedelta(minutes=1)
# The oracle's own source of England's bank holidays (the finder goes through TermCalendar's default).
ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(2026, 2029))

# Every generated window contains one of these: bank holidays (one a substitute day), and the two
# Sundays the clocks change (windows around them cross from BST to GMT or back).
ANCHORS = (
    date(2026, 8, 31),  # Late Summer Bank Holiday
    date(2026, 10, 25),  # clocks go back
    date(2026, 12, 25),  # Christmas Day
    date(2026, 12, 28),  # Boxing Day (observed)
    date(2027, 3, 26),  # Good Friday
    date(2027, 3, 28),  # clocks go forward
    date(2027, 5, 3),  # Early May bank holiday
    date(2027, 5, 31),  # Spring bank holiday
)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LONDON)


def ts(at: datetime) -> int:
    return int(at.timestamp())


@dataclass
class Scenario:
    terms: list[Term]
    window: Interval
    duration: timedelta
    mode: Mode
    hours: WorkingHours
    rules: SlotRules
    busy: list[Interval]
    meetings: list[ExistingMeeting]
    now: datetime

    @property
    def calendar(self) -> TermCalendar:
        return TermCalendar(list(self.terms))

    def kwargs(self) -> dict:
        return dict(
            duration=self.duration,
            mode=self.mode,
            tz=LONDON,
            working_hours=self.hours,
            calendar=self.calendar,
            rules=self.rules,
            busy=self.busy,
            meetings=self.meetings,
            now=self.now,
            officer_id=7,
        )

    def find(self, **extra) -> list[Slot]:
        return find_slots(window=self.window, **self.kwargs(), **extra)

    def __repr__(self) -> str:  # compact: hypothesis prints it for a failing example
        def at(t: datetime) -> str:
            return f"{t.astimezone(LONDON):%a %Y-%m-%d %H:%M:%S%z}"

        def span(iv) -> str:
            return f"{at(iv.start)}+{(iv.end - iv.start) // MIN}m"

        terms = "; ".join(
            f"{t.dates.first}..{t.dates.last} breaks {[(b.dates.first, b.dates.last) for b in t.breaks]}"
            for t in self.terms
        )
        return "\n".join(
            [
                f"Scenario(terms: {terms}",
                f"  window {at(self.window.start)} .. {at(self.window.end)}",
                f"  {self.mode} {self.duration // MIN}m, {self.rules}",
                f"  hours {self.hours.to_raw()}",
                f"  now {at(self.now)}",
                f"  meetings {[(span(m), m.mode.value) for m in self.meetings]}",
                f"  busy {[span(b) for b in self.busy]})",
            ]
        )

    def _repr_pretty_(
        self, p, cycle
    ) -> None:  # hypothesis's printer would otherwise list every field in full
        p.text(repr(self))


# ---------------------------------------------------------------------------------------------------
# Generators


@st.composite
def terms_around(draw, anchor: date) -> list[Term]:
    first = anchor - timedelta(days=draw(st.integers(0, 20)))
    last = anchor + timedelta(days=draw(st.integers(10, 60)))
    days = (last - first).days
    mondays = [
        first + timedelta(days=i) for i in range(days - 3) if (first + timedelta(days=i)).weekday() == 0
    ]
    half_term = draw(st.sampled_from(mondays))
    breaks = [Break(DateRange(half_term, half_term + timedelta(days=4)), "half_term")]
    if draw(st.booleans()):
        c0 = first + timedelta(days=draw(st.integers(0, days)))
        c1 = min(last, c0 + timedelta(days=draw(st.integers(0, 2))))
        breaks.append(Break(DateRange(c0, c1), "closure", draw(st.sampled_from(["", "INSET day"]))))
    year = f"{first.year if first.month >= 9 else first.year - 1}-xx"
    terms = [Term(year, TermName.AUTUMN, DateRange(first, last), tuple(breaks))]
    if draw(st.booleans()):  # a following term, so windows can run out of one term and into the next
        f2 = last + timedelta(days=draw(st.integers(5, 20)))
        terms.append(
            Term(year, TermName.SPRING, DateRange(f2, f2 + timedelta(days=draw(st.integers(5, 40)))))
        )
    return terms


@st.composite
def working_hours(draw) -> WorkingHours:
    out = {}
    for wd in range(7):
        spans = []
        for _ in range(draw(st.integers(0, 2) if wd < 5 else st.integers(0, 1))):
            a = 5 * draw(st.integers(0, 270))  # 00:00 .. 22:30
            b = min(23 * 60 + 55, a + 5 * draw(st.integers(6, 120)))
            spans.append((time(a // 60, a % 60), time(b // 60, b % 60)))
        if spans:
            out[wd] = tuple(sorted(spans))  # as WorkingHours.parse leaves them: sorted, maybe overlapping
    return WorkingHours(out)


@st.composite
def scenarios(draw) -> Scenario:
    anchor = draw(st.sampled_from(ANCHORS))
    terms = draw(terms_around(anchor))
    d0 = anchor - timedelta(days=draw(st.integers(0, 14)))
    d1 = anchor + timedelta(days=draw(st.integers(0, 14)))
    m0, m1 = draw(st.integers(0, 1439)), draw(st.integers(0, 1439))
    w0 = (datetime.combine(d0, time(0), tzinfo=LONDON) + m0 * MIN).astimezone(UTC)
    w1 = (datetime.combine(d1, time(0), tzinfo=LONDON) + m1 * MIN).astimezone(UTC)
    window = Interval(min(w0, w1), max(w0, w1))
    span = int((window.end - window.start) / MIN)

    rules = SlotRules(
        granularity=timedelta(minutes=draw(st.sampled_from([15, 30]))),
        minimum_notice=timedelta(
            hours=draw(st.integers(0, 72)), minutes=draw(st.sampled_from([0, 0, 5, 45]))
        ),
        travel_buffer=timedelta(minutes=5 * draw(st.integers(0, 18))),
        max_per_day=draw(st.integers(1, 4)),
    )
    # Busy time on a grid of its own (often the slot grid: that is where clashes end exactly on a slot).
    unit = draw(st.sampled_from([1, 5, 15, 30]))
    around = local(window.start.astimezone(LONDON).date() - timedelta(days=1), 0)
    busy = []
    for _ in range(draw(st.integers(0, 300))):
        start = around + unit * draw(st.integers(0, (span + 3 * 1440) // unit)) * MIN
        b = Interval(start, start + unit * draw(st.integers(0, 240 // unit)) * MIN)
        # The Graph adapter hands back UTC; the local calendar, Europe/London.
        busy.append(
            b if draw(st.booleans()) else Interval(b.start.astimezone(LONDON), b.end.astimezone(LONDON))
        )
    meetings = []
    first_day = around.astimezone(LONDON).date()
    for _ in range(draw(st.integers(0, 30))):
        day = first_day + timedelta(days=draw(st.integers(0, span // 1440 + 2)))
        start = local(day, 0) + 5 * draw(st.integers(7 * 12, 17 * 12)) * MIN
        end = start + 5 * draw(st.integers(12, 18)) * MIN
        tz = draw(st.sampled_from([UTC, LONDON]))
        meetings.append(
            ExistingMeeting(start.astimezone(tz), end.astimezone(tz), draw(st.sampled_from(Mode)))
        )
    now = (
        window.start
        - timedelta(days=10)
        + draw(st.integers(0, (span + 12 * 1440) * 60)) * timedelta(seconds=1)
    )
    return Scenario(
        terms=terms,
        window=window,
        duration=5 * draw(st.integers(12, 18)) * MIN,
        mode=draw(st.sampled_from(Mode)),
        hours=draw(working_hours()),
        rules=rules,
        busy=busy,
        meetings=meetings,
        now=now,
    )


# ---------------------------------------------------------------------------------------------------
# The rules, written out independently of the finder


def bookable(terms: list[Term], day: date) -> bool:
    if day.weekday() >= 5 or day in ENGLAND:
        return False
    for term in terms:
        if term.dates.first <= day <= term.dates.last:
            return not any(b.dates.first <= day <= b.dates.last for b in term.breaks)
    return False


def working_minutes(hours: WorkingHours, weekday: int) -> list[bool]:
    """Minute of the day -> is the officer working then (the union of the day's spans)."""
    mins = [False] * 1440
    for a, b in hours.by_weekday.get(weekday, ()):
        for m in range(a.hour * 60 + a.minute, b.hour * 60 + b.minute):
            mins[m] = True
    return mins


def runs(mins: list[bool]) -> tuple[list[int], list[int]]:
    """For each working minute, where its run of working time starts and ends."""
    start, end = [-1] * 1440, [-1] * 1440
    for m in range(1440):
        if mins[m]:
            start[m] = start[m - 1] if m and mins[m - 1] else m
    for m in range(1439, -1, -1):
        if mins[m]:
            end[m] = end[m + 1] if m < 1439 and mins[m + 1] else m + 1
    return start, end


def oracle(sc: Scenario) -> set[tuple[int, int]]:
    """Every free slot as (start, end) UTC seconds, by brute force: each minute of each day, each rule."""
    step, dur = sc.rules.granularity // MIN, sc.duration // MIN
    buf = int(sc.rules.travel_buffer.total_seconds()) if sc.mode is Mode.ON_SITE else 0
    blocked = [(ts(b.start), ts(b.end)) for b in sc.busy]
    for m in sc.meetings:
        mb = int(sc.rules.travel_buffer.total_seconds()) if m.mode is Mode.ON_SITE else 0
        blocked.append((ts(m.start) - mb, ts(m.end) + mb))
    per_day = Counter(m.start.astimezone(LONDON).date() for m in sc.meetings)
    w0, w1 = ts(sc.window.start), ts(sc.window.end)
    earliest = ts(sc.now + sc.rules.minimum_notice)
    found = set()
    day = sc.window.start.astimezone(LONDON).date() - timedelta(days=1)
    while day <= sc.window.end.astimezone(LONDON).date() + timedelta(days=1):
        if bookable(sc.terms, day) and per_day[day] < sc.rules.max_per_day:
            mins = working_minutes(sc.hours, day.weekday())
            run_start, run_end = runs(mins)
            d0 = ts(local(day, 0))
            todays = [(s, e) for s, e in blocked if e > d0 - 86400 and s < d0 + 2 * 86400]
            for m in range(1440):
                if not mins[m] or (m - run_start[m]) % step or m + dur > run_end[m]:
                    continue
                s = ts(local(day, m // 60, m % 60))  # no clock change on a weekday: wall time == elapsed
                e = s + dur * 60
                if s < w0 or e > w1 or s < earliest:
                    continue
                if any(bs < e + buf and s - buf < be for bs, be in todays):
                    continue
                found.add((s, e))
        day += timedelta(days=1)
    return found


def check_each_slot(sc: Scenario, slots: list[Slot]) -> None:
    cal = sc.calendar
    per_day = Counter(m.start.astimezone(LONDON).date() for m in sc.meetings)
    step = sc.rules.granularity // MIN
    for slot in slots:
        assert slot.mode is sc.mode and slot.officer_id == 7
        assert slot.end - slot.start == sc.duration
        buf = sc.rules.travel_buffer if sc.mode is Mode.ON_SITE else timedelta(0)
        fp = Interval(slot.start - buf, slot.end + buf)
        assert fp == footprint(slot.start, slot.end, slot.mode, sc.rules)
        assert not any(fp.overlaps(b) for b in sc.busy), slot
        assert not any(fp.overlaps(footprint(m.start, m.end, m.mode, sc.rules)) for m in sc.meetings), slot
        start, end = slot.start.astimezone(LONDON), slot.end.astimezone(LONDON)
        day = start.date()
        assert end.date() == day
        assert bookable(sc.terms, day) and cal.is_bookable_day(day), slot
        mins = working_minutes(sc.hours, day.weekday())
        m0, m1 = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        assert all(mins[m0:m1]) and start.second == 0, f"{slot} outside working hours"
        assert (m0 - runs(mins)[0][m0]) % step == 0, f"{slot} off the grid"
        assert slot.start >= sc.now + sc.rules.minimum_notice
        assert sc.window.start <= slot.start and slot.end <= sc.window.end
        assert per_day[day] < sc.rules.max_per_day


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(sc=scenarios(), data=st.data())
def test_find_slots_returns_exactly_the_free_slots(sc: Scenario, data) -> None:
    slots = sc.find()
    note(f"{len(slots)} slots; first {slots[:3]}")
    check_each_slot(sc, slots)
    # Earliest first, no slot twice. (Slots are alternatives: they may overlap each other.)
    assert all(a.start < b.start for a, b in zip(slots, slots[1:], strict=False))
    expected = oracle(sc)
    got = {(ts(s.start), ts(s.end)) for s in slots}
    assert got == expected, f"missing {sorted(expected - got)[:5]}, extra {sorted(got - expected)[:5]}"
    n = data.draw(st.integers(0, len(slots) + 2), label="limit")
    assert sc.find(limit=n) == slots[:n]
    for slot in data.draw(st.lists(st.sampled_from(slots), max_size=3), label="asked") if slots else ():
        assert is_slot_free(slot.start, **sc.kwargs())


# ---------------------------------------------------------------------------------------------------
# Examples, one rule each. Autumn 2026: clocks go back on Sunday 25 October, half term is the week after.

AUTUMN = Term(
    "2026-27",
    TermName.AUTUMN,
    DateRange(date(2026, 9, 2), date(2026, 12, 18)),
    (
        Break(DateRange(date(2026, 10, 26), date(2026, 10, 30)), "half_term"),
        Break(DateRange(date(2026, 11, 27), date(2026, 11, 27)), "closure", "INSET day"),
    ),
)
SUMMER = Term(
    "2026-27",
    TermName.SUMMER,
    DateRange(date(2027, 4, 12), date(2027, 7, 21)),
    (Break(DateRange(date(2027, 5, 31), date(2027, 6, 4)), "half_term"),),
)
OFFICE = WorkingHours.parse({d: "09:00-16:00" for d in ("mon", "tue", "wed", "thu", "fri")})
RULES = SlotRules(
    granularity=timedelta(minutes=30),
    minimum_notice=timedelta(hours=48),
    travel_buffer=timedelta(minutes=30),
    max_per_day=3,
)


def slots_on(
    first: date,
    last: date,
    *,
    terms=(AUTUMN, SUMMER),
    mode=Mode.TEAMS,
    rules=RULES,
    busy=(),
    meetings=(),
    now=None,
    duration=timedelta(minutes=60),
    hours=OFFICE,
    **kw,
) -> list[Slot]:
    window = Interval(local(first, 0), local(last + timedelta(days=1), 0))
    return find_slots(
        window=window,
        duration=duration,
        mode=mode,
        tz=LONDON,
        working_hours=hours,
        calendar=TermCalendar(list(terms)),
        rules=rules,
        busy=list(busy),
        meetings=list(meetings),
        now=now or local(date(2026, 6, 1), 9),
        **kw,
    )


def days_of(slots: list[Slot]) -> set[date]:
    return {s.start.astimezone(LONDON).date() for s in slots}


def starts_on(slots: list[Slot], day: date) -> list[str]:
    return [f"{s.start.astimezone(LONDON):%H:%M}" for s in slots if s.start.astimezone(LONDON).date() == day]


def test_a_date_in_half_term_is_never_offered() -> None:
    slots = slots_on(date(2026, 10, 19), date(2026, 11, 6))
    days = days_of(slots)
    assert not days & {date(2026, 10, 26) + timedelta(days=i) for i in range(5)}
    assert date(2026, 10, 23) in days and date(2026, 11, 2) in days
    # Either side of the clock change, 09:00 is 09:00 in London: 08:00 UTC in BST, 09:00 UTC in GMT.
    first_before = min(s.start for s in slots if s.start.astimezone(LONDON).date() == date(2026, 10, 23))
    first_after = min(s.start for s in slots if s.start.astimezone(LONDON).date() == date(2026, 11, 2))
    assert first_before.astimezone(UTC).hour == 8 and first_after.astimezone(UTC).hour == 9


def test_a_closure_day_is_never_offered() -> None:
    days = days_of(slots_on(date(2026, 11, 23), date(2026, 12, 4)))
    assert date(2026, 11, 27) not in days and {date(2026, 11, 26), date(2026, 11, 30)} <= days


@pytest.mark.parametrize(
    "holiday, terms",
    [
        (date(2027, 5, 3), (SUMMER,)),  # Early May bank holiday, in the summer term
        (
            date(2026, 8, 31),
            (Term("2026-27", TermName.AUTUMN, DateRange(date(2026, 8, 27), date(2026, 12, 18))),),
        ),
        (
            date(2026, 12, 25),
            (Term("2026-27", TermName.AUTUMN, DateRange(date(2026, 9, 2), date(2027, 1, 8))),),
        ),
        (
            date(2026, 12, 28),
            (Term("2026-27", TermName.AUTUMN, DateRange(date(2026, 9, 2), date(2027, 1, 8))),),
        ),
    ],
)
def test_a_bank_holiday_is_never_offered(holiday: date, terms) -> None:
    days = days_of(slots_on(holiday - timedelta(days=7), holiday + timedelta(days=7), terms=terms))
    assert holiday not in days
    assert {
        holiday - timedelta(days=7),
        holiday + timedelta(days=7),
    } & days  # the same weekday either side is


def test_on_site_slot_keeps_travel_buffer_from_busy_time() -> None:
    tue = date(2026, 11, 10)
    busy = [Interval(local(tue, 10), local(tue, 11))]
    slots = slots_on(tue, tue, mode=Mode.ON_SITE, busy=busy)
    # 60 minutes plus 30 minutes' travel each side: nothing may start before 11:30 or end after 09:30.
    assert starts_on(slots, tue)[:2] == ["11:30", "12:00"]
    assert "09:00" not in starts_on(slots, tue) and "11:00" not in starts_on(slots, tue)


def test_teams_slot_needs_no_buffer() -> None:
    tue = date(2026, 11, 10)
    busy = [Interval(local(tue, 10), local(tue, 11))]
    assert starts_on(slots_on(tue, tue, busy=busy), tue)[:4] == ["09:00", "11:00", "11:30", "12:00"]


def test_on_site_meetings_each_keep_their_own_travel_buffer() -> None:
    tue = date(2026, 11, 10)
    visit = ExistingMeeting(local(tue, 10), local(tue, 11), Mode.ON_SITE)
    # Travel back from the visit (to 11:30) and out to the next school (from 11:30): 12:00 is first.
    assert starts_on(slots_on(tue, tue, mode=Mode.ON_SITE, meetings=[visit]), tue)[0] == "12:00"
    # On Teams, only the visit's own travel counts.
    assert starts_on(slots_on(tue, tue, meetings=[visit]), tue)[:2] == ["11:30", "12:00"]


def test_daily_cap_closes_the_day() -> None:
    wed = date(2026, 11, 11)
    one = [ExistingMeeting(local(wed, 9), local(wed, 10), Mode.TEAMS)]
    two = [*one, ExistingMeeting(local(wed, 14), local(wed, 15), Mode.TEAMS)]
    capped = SlotRules(RULES.granularity, RULES.minimum_notice, RULES.travel_buffer, max_per_day=2)
    assert starts_on(slots_on(wed, wed, meetings=one, rules=capped), wed)[0] == "10:00"
    assert starts_on(slots_on(wed, wed, meetings=two, rules=capped), wed) == []
    # The cap counts meetings on that day only: Thursday is open.
    thu = wed + timedelta(days=1)
    assert starts_on(slots_on(wed, thu, meetings=two, rules=capped), thu)[0] == "09:00"


def test_minimum_notice_is_respected() -> None:
    mon = date(2026, 11, 9)
    now = local(mon, 10, 17)
    slots = slots_on(mon, mon + timedelta(days=4), now=now)
    assert slots[0].start == local(mon + timedelta(days=2), 10, 30)  # 48 hours on, up to the next grid point
    assert all(s.start >= now + timedelta(hours=48) for s in slots)


def test_limit_returns_the_earliest_slots() -> None:
    full = slots_on(date(2026, 11, 9), date(2026, 11, 20))
    assert slots_on(date(2026, 11, 9), date(2026, 11, 20), limit=5) == full[:5]


def test_limit_zero_offers_nothing() -> None:
    # Regression: the limit was checked only after a slot was added, so limit=0 gave one slot.
    assert slots_on(date(2026, 11, 9), date(2026, 11, 20), limit=0) == []


def test_overlapping_working_hours_offer_each_slot_once() -> None:
    # Regression: WorkingHours.parse accepts overlapping spans; each span was walked on its own, so the
    # slots in the overlap came twice and the list was no longer earliest first.
    tue = date(2026, 11, 10)
    nested = WorkingHours.parse({"tue": ["09:00-13:00", "10:00-12:00"]})
    assert starts_on(slots_on(tue, tue, hours=nested), tue) == [
        "09:00",
        "09:30",
        "10:00",
        "10:30",
        "11:00",
        "11:30",
        "12:00",
    ]
    # Spans that meet are one stretch of working time: a meeting may run across the seam.
    touching = WorkingHours.parse({"tue": ["09:00-11:00", "11:00-12:00"]})
    assert starts_on(slots_on(tue, tue, hours=touching), tue) == ["09:00", "09:30", "10:00", "10:30", "11:00"]
    # A lunch break stays a break.
    lunch = WorkingHours.parse({"tue": ["09:00-11:00", "12:00-13:00"]})
    assert starts_on(slots_on(tue, tue, hours=lunch), tue) == ["09:00", "09:30", "10:00", "12:00"]
