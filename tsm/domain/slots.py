"""The slot finder: a pure function from an officer's calendar and the LA's rules to free TSM slots.

Definitions used everywhere (slot finder, booking service, database blocks):
- A meeting's *footprint* is [start - buffer, end + buffer), where buffer is the LA's travel buffer
  for an on-site meeting and zero on Teams. Travel to and from each visit is counted on its own.
- A slot is free when its footprint overlaps no busy interval of the officer's calendar and no other
  meeting's footprint, the meeting itself lies within the officer's working hours on a bookable day
  (term time, not half term, not a closure, not a weekend or bank holiday), it starts at least the
  minimum notice after now, and the officer has fewer than their daily cap of meetings that day.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from .model import Interval, Mode
from .policy import Policy, WorkingHours
from .terms import TermCalendar


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    start: datetime
    end: datetime
    mode: Mode
    officer_id: int | None = None

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


@dataclass(frozen=True, slots=True)
class ExistingMeeting:
    """An active meeting of the officer (any school), as the slot finder needs it."""

    start: datetime
    end: datetime
    mode: Mode


@dataclass(frozen=True, slots=True)
class SlotRules:
    granularity: timedelta
    minimum_notice: timedelta
    travel_buffer: timedelta
    max_per_day: int

    def buffer_for(self, mode: Mode) -> timedelta:
        return self.travel_buffer if mode is Mode.ON_SITE else timedelta(0)

    @classmethod
    def from_policy(cls, policy: Policy, max_per_day: int | None = None) -> SlotRules:
        return cls(
            policy.slot_granularity,
            policy.minimum_notice,
            policy.travel_buffer,
            max_per_day or policy.max_meetings_per_officer_per_day,
        )


def footprint(start: datetime, end: datetime, mode: Mode, rules: SlotRules) -> Interval:
    buf = rules.buffer_for(mode)
    return Interval(start - buf, end + buf)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of the intervals (touching ones are joined)."""
    out: list[Interval] = []
    for iv in sorted(intervals):
        if out and iv.start <= out[-1].end:
            if iv.end > out[-1].end:  # equivalent-mutant[compare]: >= rewrites the same end
                out[-1] = Interval(out[-1].start, iv.end)
        else:
            out.append(iv)
    return out


def _join_spans(spans: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """A day's working hours as sorted, disjoint spans: overlapping or touching ones are joined, so a
    slot is never offered twice and may run across the seam ("09:00-12:30" + "12:00-16:00" = 09:00-16:00)."""
    out: list[tuple[time, time]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


class _Blocked:
    """Merged blocked intervals with a bisect lookup: O(log n) per candidate."""

    def __init__(self, intervals: Iterable[Interval]) -> None:
        self.items = merge(intervals)
        self.ends = [iv.end for iv in self.items]

    def first_clash(self, fp: Interval) -> Interval | None:
        i = bisect.bisect_right(self.ends, fp.start)
        if i < len(self.items) and self.items[i].start < fp.end:
            return self.items[i]
        return None  # equivalent-mutant[delete]: falling off the end returns None too


def find_slots(
    *,
    window: Interval,
    duration: timedelta,
    mode: Mode,
    tz: tzinfo,
    working_hours: WorkingHours,
    calendar: TermCalendar,
    rules: SlotRules,
    busy: Sequence[Interval] = (),
    meetings: Sequence[ExistingMeeting] = (),
    now: datetime,
    officer_id: int | None = None,
    limit: int | None = None,
) -> list[Slot]:
    """Free slots of ``duration`` starting inside ``window``, earliest first."""
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    blocked = _Blocked([*busy, *(footprint(m.start, m.end, m.mode, rules) for m in meetings)])
    per_day = Counter(m.start.astimezone(tz).date() for m in meetings)
    earliest = max(window.start, now + rules.minimum_notice)
    buf = rules.buffer_for(mode)
    step = rules.granularity
    hours = {wd: _join_spans(spans) for wd, spans in working_hours.by_weekday.items()}
    out: list[Slot] = []
    if limit is not None and limit <= 0:
        return out

    day = window.start.astimezone(tz).date()
    last_day = window.end.astimezone(tz).date()
    while day <= last_day:
        if per_day[day] < rules.max_per_day and calendar.is_bookable_day(day):
            for a, b in hours.get(day.weekday(), ()):
                start = datetime.combine(day, a, tzinfo=tz)
                close = datetime.combine(day, b, tzinfo=tz)
                while start + duration <= close:
                    end = start + duration
                    if end > window.end:
                        break
                    if start >= earliest:
                        clash = blocked.first_clash(Interval(start - buf, end + buf))
                        if clash is None:
                            out.append(Slot(start, end, mode, officer_id))
                            if limit is not None and len(out) >= limit:
                                return out
                        else:
                            # Jump to the first grid point whose footprint starts after the clash.
                            gap = clash.end + buf - start
                            if gap > step:  # equivalent-mutant[compare]: gap == step jumps one step, as below
                                start += step * (gap // step)
                                continue
                    start += step
        day += timedelta(days=1)
    return out


def is_slot_free(slot_start: datetime, **kwargs: Any) -> bool:
    """Would a slot starting exactly at ``slot_start`` be offered? (Same rules as ``find_slots``.)"""
    duration = kwargs["duration"]
    window = Interval(slot_start, slot_start + duration)
    return any(s.start == slot_start for s in find_slots(window=window, **kwargs))


@dataclass(frozen=True)
class NotFree:
    """Why a time is not free, most fundamental reason first (``why_not_free``): the refusal says the true one.

    ``code``: ``not_bookable_day`` (``detail``: the calendar's words), ``not_working`` (the officer works no hours
    that weekday), ``too_soon``, ``not_offered`` (off the grid or outside working hours), ``day_full`` (the
    officer's daily cap), ``taken`` (another TSM overlaps the time itself; ``detail``: it), ``officer_busy``
    (the calendar; ``detail``: the busy interval), ``travel_time`` (only the travel buffers meet; ``detail``: the
    meeting or busy time too close)."""

    code: str
    detail: object = None


def why_not_free(
    start: datetime,
    *,
    duration: timedelta,
    mode: Mode,
    tz: tzinfo,
    working_hours: WorkingHours,
    calendar: TermCalendar,
    rules: SlotRules,
    busy: Sequence[Interval] = (),
    meetings: Sequence[ExistingMeeting] = (),
    now: datetime,
) -> NotFree | None:
    """The reason ``find_slots`` would not offer ``start`` (None: it would)."""
    day = start.astimezone(tz).date()
    why = calendar.why_not_bookable(day)
    if why:
        return NotFree("not_bookable_day", why)
    if not working_hours.by_weekday.get(day.weekday()):
        return NotFree("not_working")
    if start < now + rules.minimum_notice:
        return NotFree("too_soon")
    common = dict(
        duration=duration,
        mode=mode,
        tz=tz,
        working_hours=working_hours,
        calendar=calendar,
        rules=rules,
        now=now,
    )
    if not is_slot_free(start, **common):
        return NotFree("not_offered")
    if sum(1 for m in meetings if m.start.astimezone(tz).date() == day) >= rules.max_per_day:
        return NotFree("day_full")
    end = start + duration
    for m in meetings:
        if m.start < end and m.end > start:
            return NotFree("taken", m)
    for b in busy:
        if b.start < end and b.end > start:
            return NotFree("officer_busy", b)
    if is_slot_free(start, busy=busy, meetings=meetings, **common):
        return None
    buf = rules.buffer_for(mode)
    near = Interval(start - buf, end + buf)
    for m in meetings:
        fp = footprint(m.start, m.end, m.mode, rules)
        if fp.start < near.end and fp.end > near.start:
            return NotFree("travel_time", m)
    close = next((b for b in busy if b.start < near.end and b.end > near.start), None)
    return NotFree("travel_time", close) if close is not None else NotFree("taken")
