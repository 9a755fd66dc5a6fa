"""Slot finder benchmark: how long ``find_slots`` takes for one busy officer, and for a whole LA.

Run from the project root:  .venv/bin/python bench/slot_finder.py [--reps 50] [--runs 5] [--seed 2026]

(a) One officer with 300 busy intervals over a 14-week term: the free slots of the whole term, timed
    ``--reps`` times (median, p95, min of single calls).
(b) A whole LA, 30 officers and 600 schools (20 each); every officer has ~100 busy intervals and ~15
    booked meetings: list the rest of the term's free slots for every school from its own officer,
    ``--runs`` times (median and min of the whole sweep, median of a single school).
All data are generated from ``--seed``, so every run times the same calendars.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shlex
import statistics
import sys
import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tsm.domain.model import DateRange, Interval, Mode, TermName
from tsm.domain.policy import load_policy
from tsm.domain.slots import ExistingMeeting, SlotRules, find_slots
from tsm.domain.terms import Break, Term, TermCalendar

TERM = Term(
    "2026-27",
    TermName.AUTUMN,
    DateRange(date(2026, 9, 7), date(2026, 12, 11)),  # 14 weeks, Mon to Fri
    (
        Break(DateRange(date(2026, 10, 26), date(2026, 10, 30)), "half_term"),
        Break(DateRange(date(2026, 11, 27), date(2026, 11, 27)), "closure", "INSET day"),
    ),
)
LA_NOW = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # week 5: "the rest of the term" from here
OFFICERS, SCHOOLS_PER_OFFICER = 30, 20


def weekdays(first: date, last: date) -> list[date]:
    return [
        first + timedelta(days=i)
        for i in range((last - first).days + 1)
        if (first + timedelta(days=i)).weekday() < 5
    ]


def busy_intervals(rng: random.Random, tz: ZoneInfo, n: int) -> list[Interval]:
    """``n`` calendar entries on term weekdays between 08:00 and 17:30, 15 minutes to 3 hours, in UTC."""
    days = weekdays(TERM.dates.first, TERM.dates.last)
    out = []
    for _ in range(n):
        start = datetime.combine(rng.choice(days), time(8), tzinfo=tz) + timedelta(
            minutes=15 * rng.randrange(38)
        )
        out.append(
            Interval(
                start.astimezone(UTC), (start + timedelta(minutes=15 * rng.randint(1, 12))).astimezone(UTC)
            )
        )
    return out


def meetings(rng: random.Random, tz: ZoneInfo, n: int) -> list[ExistingMeeting]:
    days = weekdays(TERM.dates.first, TERM.dates.last)
    out = []
    for _ in range(n):
        start = datetime.combine(rng.choice(days), time(9), tzinfo=tz) + timedelta(
            minutes=30 * rng.randrange(11)
        )
        end = start + timedelta(minutes=rng.choice([60, 90]))
        out.append(ExistingMeeting(start.astimezone(UTC), end.astimezone(UTC), rng.choice(list(Mode))))
    return out


def pct(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:9.2f} ms"


@dataclass
class School:
    officer: int
    duration: timedelta
    mode: Mode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50, help="repetitions of each case in (a)")
    ap.add_argument("--runs", type=int, default=5, help="sweeps over all schools in (b)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--policy", default="norfolk", help="bundled policy profile giving working hours and rules"
    )
    args = ap.parse_args()

    exe = (
        os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd() + os.sep) else sys.executable
    )
    print("$ " + shlex.join([exe, *sys.argv]))
    policy = load_policy(args.policy)
    tz = ZoneInfo(policy.timezone)
    rules = SlotRules.from_policy(policy)
    calendar = TermCalendar([TERM])
    hours = policy.working_hours
    print(
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; "
        f"policy {policy.key}: {rules.granularity // timedelta(minutes=1)}-min grid, "
        f"{rules.minimum_notice // timedelta(hours=1)} h notice, "
        f"{rules.travel_buffer // timedelta(minutes=1)}-min travel buffer, {rules.max_per_day} a day; seed {args.seed}"
    )

    term_window = Interval(
        datetime.combine(TERM.dates.first, time(0), tzinfo=tz),
        datetime.combine(TERM.dates.last + timedelta(days=1), time(0), tzinfo=tz),
    )
    before_term = term_window.start - timedelta(days=7)
    common = dict(tz=tz, working_hours=hours, calendar=calendar, rules=rules)
    find_slots(
        window=term_window, duration=timedelta(minutes=60), mode=Mode.TEAMS, now=before_term, **common
    )  # warm-up

    # (a) one officer, the whole term
    rng = random.Random(args.seed)
    busy = busy_intervals(rng, tz, 300)
    print(
        f"\n(a) one officer, 300 busy intervals, whole term {TERM.dates.first}..{TERM.dates.last} "
        f"(14 weeks, half term and an INSET day); {args.reps} repetitions of one call"
    )
    print(f"{'case':34} {'slots':>6} {'median':>12} {'p95':>12} {'min':>12}")
    cases = [
        ("60-min Teams, whole term", timedelta(minutes=60), Mode.TEAMS, None),
        ("90-min on-site, whole term", timedelta(minutes=90), Mode.ON_SITE, None),
        ("60-min Teams, first 5 (limit=5)", timedelta(minutes=60), Mode.TEAMS, 5),
    ]
    for label, duration, mode, limit in cases:
        times, found = [], 0
        for _ in range(args.reps):
            t0 = clock.perf_counter()
            found = len(
                find_slots(
                    window=term_window,
                    duration=duration,
                    mode=mode,
                    busy=busy,
                    now=before_term,
                    limit=limit,
                    **common,
                )
            )
            times.append(clock.perf_counter() - t0)
        times.sort()
        print(f"{label:34} {found:>6} {ms(statistics.median(times))} {ms(pct(times, 0.95))} {ms(times[0])}")

    # (b) a whole LA, the rest of the term for every school
    rng = random.Random(args.seed + 1)
    calendars = [
        (busy_intervals(rng, tz, rng.randint(90, 110)), meetings(rng, tz, rng.randint(12, 18)))
        for _ in range(OFFICERS)
    ]
    schools = [
        School(o, timedelta(minutes=rng.choice([60, 60, 90])), rng.choice([Mode.TEAMS, Mode.ON_SITE]))
        for o in range(OFFICERS)
        for _ in range(SCHOOLS_PER_OFFICER)
    ]
    rest = Interval(LA_NOW, term_window.end)
    sweeps, sweeps_cpu, per_school, total = [], [], [], 0
    for _ in range(args.runs):
        total = 0
        t_run, cpu_run = clock.perf_counter(), clock.process_time()
        for s in schools:
            o_busy, o_meetings = calendars[s.officer]
            t0 = clock.perf_counter()
            total += len(
                find_slots(
                    window=rest,
                    duration=s.duration,
                    mode=s.mode,
                    busy=o_busy,
                    meetings=o_meetings,
                    now=LA_NOW,
                    officer_id=s.officer,
                    **common,
                )
            )
            per_school.append(clock.perf_counter() - t0)
        sweeps.append(clock.perf_counter() - t_run)
        sweeps_cpu.append(clock.process_time() - cpu_run)
    per_school.sort()
    print(
        f"\n(b) whole LA: {OFFICERS} officers, {len(schools)} schools, ~100 busy intervals and ~15 meetings "
        f"per officer; rest of term from {LA_NOW:%Y-%m-%d %H:%M} UTC; {args.runs} runs"
    )
    print(f"{'measure':34} {'slots':>6} {'median':>12} {'p95':>12} {'min':>12}")
    print(
        f"{'all 600 schools (one sweep)':34} {total:>6} {ms(statistics.median(sweeps))} {'':>12} {ms(min(sweeps))}"
    )
    print(
        f"{'  the same, CPU time':34} {'':>6} {ms(statistics.median(sweeps_cpu))} {'':>12} {ms(min(sweeps_cpu))}"
        "   (target: at most 500 ms)"
    )
    print(
        f"{'one school (slots: mean)':34} {'~' + str(total // len(schools)):>6} {ms(statistics.median(per_school))} "
        f"{ms(pct(per_school, 0.95))} {ms(per_school[0])}"
    )


if __name__ == "__main__":
    main()
