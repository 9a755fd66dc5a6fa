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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from .model import Interval, Mode
from .policy import Policy, WorkingHours
from .terms import TermCalendar


class Slot(NamedTuple):
    """A free time (immutable, ordered by start; a named tuple because a whole LA's sweep makes ~180,000 of them and
    a frozen dataclass costs twice as much to build)."""

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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _us(at: datetime) -> int:
    """An aware instant as whole microseconds since the epoch: the finder's one conversion to UTC, made once per
    busy time, meeting and working-hours span, so the per-slot comparisons are plain integer ones (comparing aware
    datetimes of two time zones asks each for its UTC offset again on every comparison)."""
    since = at - _EPOCH
    return (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


class _Blocked:
    """Merged blocked intervals, in microseconds since the epoch, with a bisect lookup: O(log n) per candidate."""

    def __init__(self, intervals: Iterable[tuple[int, int]]) -> None:
        items: list[tuple[int, int]] = []
        for a, b in sorted(intervals):
            if items and a <= items[-1][1]:  # equivalent-mutant[compare]: touching kept apart, same clashes
                if b > items[-1][1]:  # equivalent-mutant[compare]: >= rewrites the same end
                    items[-1] = (items[-1][0], b)
            else:
                items.append((a, b))
        self.starts = [a for a, _ in items]
        self.ends = [b for _, b in items]

    def first_clash(self, fp: tuple[int, int]) -> int | None:
        """The end of the first blocked interval overlapping the footprint ``fp`` (start, end), else None."""
        i = bisect.bisect_right(self.ends, fp[0])
        if i < len(self.starts) and self.starts[i] < fp[1]:
            return self.ends[i]
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
    """Free slots of ``duration`` starting inside ``window``, earliest first.

    Slots are laid out in the officer's local time (``tz``: working hours and the grid are local); every busy
    time, meeting footprint and bound is converted to UTC microseconds once, and each working-hours span once, so
    a candidate is compared as integers. A span whose UTC offset changes inside it (a clock change during working
    hours) converts each of its candidates instead."""
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    blocked = _Blocked(
        [
            *((_us(b.start), _us(b.end)) for b in busy),
            *(
                (_us(m.start) - rules.buffer_for(m.mode) // _US, _us(m.end) + rules.buffer_for(m.mode) // _US)
                for m in meetings
            ),
        ]
    )
    per_day = Counter(m.start.astimezone(tz).date() for m in meetings)
    earliest = _us(max(window.start, now + rules.minimum_notice))
    window_end = _us(window.end)
    buf = rules.buffer_for(mode) // _US
    step_td = rules.granularity
    step = step_td // _US
    length = duration // _US
    hours = {wd: _join_spans(spans) for wd, spans in working_hours.by_weekday.items()}
    out: list[Slot] = []
    if limit is not None and limit <= 0:
        return out

    def take(local: datetime) -> bool:
        """Add the slot starting at ``local``; True when the limit is reached."""
        out.append(Slot(local, local + duration, mode, officer_id))
        return limit is not None and len(out) >= limit

    clash_of = blocked.first_clash
    day = window.start.astimezone(tz).date()
    last_day = window.end.astimezone(tz).date()
    while day <= last_day:
        spans = hours.get(day.weekday())
        if spans and per_day[day] < rules.max_per_day and calendar.is_bookable_day(day):
            for a, b in spans:
                opening = datetime.combine(day, a, tzinfo=tz)
                closing = datetime.combine(day, b, tzinfo=tz)
                if opening.utcoffset() != closing.utcoffset():
                    _Span(opening, closing, window_end, earliest, buf, step_td).walk_converting_each(
                        duration, clash_of, take
                    )
                    if limit is not None and len(out) >= limit:
                        return out
                    continue
                # One offset for the whole span: its grid in UTC microseconds, the slot's local time made only
                # for a slot found (the grid is laid out on the clock's face).
                first = _us(opening)
                last = (
                    min(first + (closing - opening) // _US, window_end) - length
                )  # the last start that fits
                start = first
                while start <= last:
                    if start >= earliest:
                        clash = clash_of((start - buf, start + length + buf))
                        if clash is None:
                            if take(opening + (start - first) * _US):
                                return out
                        else:
                            # Jump to the first grid point whose footprint starts after the clash.
                            gap = clash + buf - start
                            if gap > step:  # equivalent-mutant[compare]: gap == step jumps one step, as below
                                start += step * (gap // step)
                                continue
                    start += step
        day += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class _Span:
    """A working-hours span the clocks change in (not in England: its clocks change on Sundays at night)."""

    opening: datetime
    closing: datetime
    window_end: int
    earliest: int
    buf: int
    step: timedelta

    def walk_converting_each(
        self,
        duration: timedelta,
        clash_of: Callable[[tuple[int, int]], int | None],
        take: Callable[[datetime], bool],
    ) -> None:
        """The grid walked on the clock's face as on any day, each candidate converted to UTC on its own (its offset
        is not the span's), until ``take`` says the limit is reached."""
        step = self.step // _US
        local = self.opening
        while local + duration <= self.closing:
            start, end = _us(local), _us(local + duration)
            if end > self.window_end:
                break
            if start >= self.earliest:
                clash = clash_of((start - self.buf, end + self.buf))
                if clash is None:
                    if take(local):
                        return
                else:
                    gap = clash + self.buf - start
                    if gap > step:  # equivalent-mutant[compare]: gap == step jumps one step, as below
                        local += self.step * (gap // step)
                        continue
            local += self.step


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
