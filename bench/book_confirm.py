""" "Book it" with the local calendar: time and SQL statements per booking, through ``BookingService.book``.

The demo LA on the embedded SQLite database, seen from a fixed Monday of its autumn term; every self-booking school
books its first free Teams slot, one after another (each booking's own latency: its checks, the write, the
calendar entry and the .ics). SQLite reports every statement it runs (BEGIN/COMMIT included), so the count is the
same one ``tests/chat/test_turn_statements.py`` budgets. The script uses only APIs that also existed before issue
10's work, so the same file measures an older checkout (run it with that checkout first on ``PYTHONPATH``)::

    .venv/bin/python bench/book_confirm.py
    PYTHONPATH=/path/to/old/checkout .venv/bin/python /path/to/this/bench/book_confirm.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event
from sqlmodel import select

try:
    from tsm.adapters.db.directory import School, SchoolContact
except ImportError:  # before issue 10 regrouped the tables
    from tsm.adapters.db.tables import School, SchoolContact
from tsm.adapters.db.migrate import upgrade
from tsm.bootstrap import build_app
from tsm.demo import load_demo
from tsm.services.actors import Actor
from tsm.settings import Settings

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday of the demo's autumn term


async def run(n: int, tmp: Path) -> tuple[list[float], list[int], list[int]]:
    url = f"sqlite:///{tmp}/bench.db"
    upgrade(url)
    settings = Settings(database_url=url, invitations_dir=tmp / "invitations")
    try:
        from tsm.clock import FixedClock  # the clock object (issue 17); older checkouts take a plain function

        app = build_app(settings, clock=FixedClock(NOW))
    except ImportError:
        app = build_app(settings, clock=lambda: NOW)
    await load_demo(app.db, today=NOW.date())
    statements: list[str] = []
    tracing = [False]

    await app.db.engine.dispose()

    @event.listens_for(app.db.engine.sync_engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.driver_connection._conn.set_trace_callback(
            lambda sql: statements.append(sql) if tracing[0] else None
        )

    async with app.db.reader() as s:
        rows = list(
            await s.exec(
                select(School.id, SchoolContact.id)
                .join(SchoolContact, SchoolContact.school_id == School.id)
                .where(SchoolContact.role == "attendance_lead")
                .order_by(School.id)
            )
        )
    seen, pairs = set(), []
    for school_id, contact_id in rows:
        if school_id not in seen:
            seen.add(school_id)
            pairs.append((school_id, contact_id))
    times, counts, transactions = [], [], []
    for school_id, contact_id in pairs:
        if len(times) >= n:
            break
        actor = Actor("contact", contact_id, school_id)
        try:
            offer = await app.booking.free_slots(actor, school_id, mode="teams", limit=1)
        except Exception:  # noqa: BLE001 - a school that may not book itself (contacted directly, no officer)
            continue
        if not offer.slots:
            continue
        statements.clear()
        tracing[0] = True
        t0 = time.perf_counter()
        try:
            await app.booking.book(actor, school_id, offer.slots[0].start, mode="teams")
        except Exception:  # noqa: BLE001 - a school that may not book itself: not timed
            tracing[0] = False
            continue
        times.append((time.perf_counter() - t0) * 1000)
        tracing[0] = False
        counts.append(len(statements))
        transactions.append(sum(1 for st in statements if st.lstrip().upper().startswith("BEGIN")))
    await app.close()
    return times, counts, transactions


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bookings", type=int, default=40, help="bookings per run (one per school)")
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    print(
        f"bench/book_confirm.py --bookings {a.bookings} --runs {a.runs}  (code from {Path(build_app.__code__.co_filename).parent.parent})"
    )
    all_times, counts, txs = [], [], []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as tmp:
            t, c, x = asyncio.run(run(a.bookings, Path(tmp)))
        all_times += t
        counts += c
        txs += x
    if not all_times:
        print("no booking was made")
        return 1
    q = statistics.quantiles(all_times, n=20)
    print(
        f"bookings: {len(all_times)}  p50 {statistics.median(all_times):.2f} ms  p95 {q[-1]:.2f} ms  "
        f"min {min(all_times):.2f} ms"
    )
    print(
        f"SQL statements per booking: median {statistics.median(counts):.0f} (min {min(counts)}, max {max(counts)}); "
        f"transactions: median {statistics.median(txs):.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
