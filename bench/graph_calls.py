"""Graph calls per booking and per slot listing, counted at the Graph emulator (dev/graph_emulator).

Run from the project root:  .venv/bin/python bench/graph_calls.py [--officers 30] [--busy 10] [--seed 2026]

Everything is the production path: the booking service, the calendar outbox, GraphCalendar on the real
msgraph-sdk over HTTP, change notifications through POST /api/graph/notifications to the GraphWatcher,
on a throw-away SQLite database. An LA of ``--officers`` officers (one self-booking school each, Norfolk's
rules, the spring term 2025-26 seen from 5 January 2026), each with ``--busy`` events already in Outlook.
The emulator counts every request it receives (retries included); the figures are requests per operation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shlex
import socket
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # the project root, for dev/ (the Graph emulator)

from dev.graph_emulator import GraphEmulator  # noqa: E402
from tsm.adapters.calendar_graph import GraphWatcher, build_graph_calendar  # noqa: E402
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact, Term, TermBreak  # noqa: E402
from tsm.adapters.db.migrate import upgrade  # noqa: E402
from tsm.bootstrap import build_app  # noqa: E402
from tsm.domain.model import Interval  # noqa: E402
from tsm.ports import CalendarRef  # noqa: E402
from tsm.services.actors import Actor  # noqa: E402
from tsm.services.calendar_changes import CalendarChanges  # noqa: E402
from tsm.settings import Settings  # noqa: E402
from tsm.web.graph_notifications import GraphNotificationReceiver  # noqa: E402

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=LONDON).astimezone(UTC)  # the Monday before the spring term
TERM = (date(2026, 1, 6), date(2026, 3, 27), (date(2026, 2, 16), date(2026, 2, 20)))
SCHEDULE = ("POST", "/v1.0/users/{user}/calendar/getSchedule")
CREATE = ("POST", "/v1.0/users/{user}/events")
GET_EVENT = ("GET", "/v1.0/users/{user}/events/{event}")


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def seed(
    app, emulator: GraphEmulator, officers: int, busy: int, rng: random.Random
) -> list[tuple[Actor, int, int, str]]:
    """An LA with ``officers`` officers, each with one school (a below-average primary: books termly)."""
    people = []
    async with app.db.transaction() as s:
        la = LA(code="926", name="Bench LA", timezone="Europe/London", policy="norfolk")
        s.add(la)
        await s.flush()
        first, last, (ht_first, ht_last) = TERM
        term = Term(
            la_id=la.id,
            academic_year="2025-26",
            name="spring",
            start_date=first,
            end_date=last,
            source="bench",
        )
        s.add(term)
        await s.flush()
        s.add(TermBreak(term_id=term.id, kind="half_term", start_date=ht_first, end_date=ht_last))
        for i in range(officers):
            mailbox = f"officer{i:02d}@bench.example"
            o = Officer(la_id=la.id, name=f"Officer {i:02d}", email=mailbox, mailbox=mailbox)
            s.add(o)
            await s.flush()
            sc = School(
                urn=900000 + i,
                la_id=la.id,
                name=f"School {i:02d}",
                type_name="Community school",
                type_group="Local authority maintained schools",
                phase_of_education="Primary",
                phase="primary",
                attendance_pct=92.0,
                street="1 School Lane",
                town="Norwich",
                postcode="NR1 1AA",
                link_officer_id=o.id,
            )
            s.add(sc)
            await s.flush()
            c = SchoolContact(
                school_id=sc.id,
                name=f"Lead {i:02d}",
                email=f"lead@{900000 + i}.sch.example",
                role="attendance_lead",
            )
            s.add(c)
            await s.flush()
            people.append((Actor("contact", c.id, sc.id), sc.id, o.id, mailbox))
    days = [
        first + timedelta(days=d)
        for d in range((last - first).days + 1)
        if (first + timedelta(days=d)).weekday() < 5
    ]
    for _, _, _, mailbox in people:
        for _ in range(busy):
            start = datetime.combine(rng.choice(days), datetime.min.time(), tzinfo=LONDON) + timedelta(
                hours=9, minutes=30 * rng.randrange(14)
            )
            emulator.seed_event(
                mailbox,
                start=start,
                end=start + timedelta(minutes=30 * rng.randint(1, 4)),
                show_as=rng.choice(["busy", "busy", "tentative", "oof", "workingElsewhere"]),
            )
    return people


class Bench:
    def __init__(self, emulator: GraphEmulator, receiver: GraphNotificationReceiver) -> None:
        self.emulator = emulator
        self.receiver = receiver
        self.rows: list[tuple[str, int, Counter]] = []

    async def settle(self) -> None:
        await self.emulator.drain(within=30)
        await self.receiver.drain()

    async def measure(self, label: str, operations: int, work) -> Counter:
        await self.settle()
        self.emulator.reset_counters()
        await work()
        await self.settle()  # the change notifications our writes caused, and their processing, count too
        calls = Counter(self.emulator.counters())
        self.rows.append((label, operations, calls))
        return calls

    def print(self) -> None:
        print(
            f"{'scenario':64} {'ops':>4} {'calls':>6} {'getSchedule':>11} {'create':>6} {'other':>5} {'per op':>7}"
        )
        for label, ops, calls in self.rows:
            total = sum(calls.values())
            other = total - calls[SCHEDULE] - calls[CREATE]
            print(
                f"{label:64} {ops:>4} {total:>6} {calls[SCHEDULE]:>11} {calls[CREATE]:>6} {other:>5} "
                f"{total / ops:>7.2f}"
            )


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    emulator = GraphEmulator(notification_retry_delays=(0.2,))
    await emulator.start()
    emulator.advance_time((NOW - datetime.now(UTC)).total_seconds())
    tmp = tempfile.TemporaryDirectory(prefix="tsm-bench-")
    url = f"sqlite:///{tmp.name}/bench.db"
    upgrade(url)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    notify_url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/graph/notifications"
    settings = Settings(
        _env_file=None,
        database_url=url,
        calendar_backend="graph",
        graph_base_url=emulator.graph_url,
        graph_notification_url=notify_url,
        graph_client_state=os.urandom(16).hex(),
        graph_retry_delay=0.0,
        graph_join_url_read_delay=0.0,
    )
    clock = FixedClock(NOW)
    calendar = build_graph_calendar(settings)
    app = build_app(settings, clock=clock, calendar=calendar)
    watcher = GraphWatcher(
        app.db, calendar, CalendarChanges(app.db, app.booking, clock=clock), settings, clock=emulator.now
    )
    receiver = GraphNotificationReceiver(watcher)
    web_app = web.Application()
    web_app.add_routes(receiver.routes())
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    bench = Bench(emulator, receiver)
    n = args.officers
    started = time.perf_counter()
    try:
        people = await seed(app, emulator, n, args.busy, rng)
        term_window = Interval(NOW, datetime(2026, 3, 28, tzinfo=LONDON).astimezone(UTC))

        await bench.measure(f"subscriptions created for {n} officers", n, watcher.renew_subscriptions)
        await bench.measure("subscription sweep again (all fresh: kept)", n, watcher.renew_subscriptions)

        async def list_all():
            for actor, school, _, _ in people:
                offer = await app.booking.free_slots(actor, school)
                assert offer.slots

        await bench.measure(f"slot listing, {n} officers, cold cache (one by one)", n, list_all)
        await bench.measure(f"slot listing, {n} officers, fresh cache", n, list_all)

        offers = {}

        async def book_all():
            for actor, school, _, _ in people:
                offers[school] = await app.booking.free_slots(actor, school, limit=1)
            bench.emulator.reset_counters()  # count only the bookings themselves
            for actor, school, _, _ in people:
                await app.booking.book(actor, school, offers[school].slots[0].start)

        calls = await bench.measure("booking (Teams) after listing, fresh cache", n, book_all)
        assert calls[CREATE] == n, calls

        await bench.measure(f"slot listing, {n} officers, after the bookings' notifications", n, list_all)

        async def outlook_changes_then_list():
            for _, _, _, mailbox in people:  # each officer adds an appointment in Outlook
                emulator.seed_event(
                    mailbox,
                    start=datetime(2026, 3, 2, 9, tzinfo=LONDON),
                    end=datetime(2026, 3, 2, 10, tzinfo=LONDON),
                    subject="Panel",
                )
            await bench.settle()
            await list_all()

        await bench.measure(
            f"an Outlook change per officer, then slot listing ({n})", n, outlook_changes_then_list
        )

        await bench.measure(f"delta sweep, first (full sync), {n} officers", n, watcher.sweep_delta)
        await bench.measure(f"delta sweep, nothing changed, {n} officers", n, watcher.sweep_delta)

        calendar.invalidate()

        async def batched():
            await calendar.busy([CalendarRef(o, m) for _, _, o, m in people], term_window)
            for actor, school, _, _ in people:
                await app.booking.free_slots(actor, school)

        await bench.measure(f"slot listing, {n} officers, one batched prefetch first", n, batched)

        async def cancel_all():
            for actor, _, _, _ in people:
                for m in await app.booking.list_meetings(actor):
                    await app.booking.cancel(actor, m.id, "bench")

        await bench.measure("cancellation", n, cancel_all)

        calendar.invalidate()

        async def book_cold():
            for actor, school, _, _ in people:
                await app.booking.book(actor, school, offers[school].slots[0].start, mode="on_site")

        await bench.measure("booking (on site) with a cold cache (no listing first)", n, book_cold)

        print(
            f"Graph calls counted at the emulator ({n} officers, {args.busy} Outlook events each, "
            f"Norfolk spring term 2025-26 seen from {NOW:%Y-%m-%d})"
        )
        print(
            "command: "
            + " ".join(shlex.quote(a) for a in [sys.executable.replace(os.getcwd() + "/", ""), *sys.argv])
        )
        print(f"python {sys.version.split()[0]}, seed {args.seed}, {time.perf_counter() - started:.1f} s\n")
        bench.print()
        print(
            f"\nfree/busy cache hits {calendar.stats['cache_hits']}, misses {calendar.stats['cache_misses']}; "
            f"notifications accepted {receiver.stats['accepted']}, rejected {receiver.stats['rejected']}"
        )
    finally:
        with contextlib.suppress(Exception):
            await receiver.on_shutdown()
        await runner.cleanup()
        await emulator.stop()
        await app.close()
        tmp.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--officers", type=int, default=30)
    parser.add_argument(
        "--busy", type=int, default=10, help="events already in each officer's Outlook calendar"
    )
    parser.add_argument("--seed", type=int, default=2026)
    asyncio.run(main(parser.parse_args()))
