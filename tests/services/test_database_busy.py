"""Issue 12 B7 on PostgreSQL: a row another transaction holds (a stuck session, a long migration) makes a write wait
at most the lock timeout, then ``ServiceBusy`` (503 with Retry-After at the transports), with nothing changed, not
a request hanging until Teams gives up."""

from __future__ import annotations

import time

import psycopg
import pytest
from factories import local, local_booking, make_world

from tsm.adapters.db.engine import Database
from tsm.clock import FixedClock
from tsm.domain.errors import ServiceBusy


@pytest.mark.postgres
async def test_a_row_held_by_another_session_answers_busy_within_the_lock_timeout(pg_url, tmp_path):
    db = Database(pg_url, lock_timeout=0.5)
    try:
        world = await make_world(db)
        svc = local_booking(db, FixedClock(local(2026, 1, 5, 8)), tmp_path)
        who = world.contact("low_primary.lead")
        r = await svc.book(who, world.schools["low_primary"], local(2026, 2, 3, 10))
        with psycopg.connect(pg_url) as other:  # another session holds the meeting's row
            other.execute("SELECT id FROM meeting WHERE id = %s FOR UPDATE", (r.meeting.id,))
            t0 = time.monotonic()
            with pytest.raises(ServiceBusy):
                await svc.cancel(who, r.meeting.id, "Ofsted visit")
            assert time.monotonic() - t0 < 5
            other.rollback()
        assert (await svc.get_meeting(who, r.meeting.id)).status == "booked"  # nothing changed
        assert (
            await svc.cancel(who, r.meeting.id, "Ofsted visit")
        ).meeting.status == "cancelled"  # lock gone
    finally:
        await db.dispose()


async def test_a_rollback_journal_file_opened_while_another_writes_waits_instead_of_answering_busy(tmp_path):
    """CI, 2026-12-07: four bot instances opening one new SQLite file together; one answered ServiceBusy. The
    migrations left the file in rollback-journal mode, and switching a file to WAL fails at once ("database is
    locked", SQLite's busy handler is not called) while another connection holds a write transaction. Now the
    switch waits for that writer, and the migrations leave the file in WAL so no engine switches it at all."""
    import sqlite3
    import threading

    path = tmp_path / "old.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (i INTEGER)")
    assert other.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    other.execute("BEGIN IMMEDIATE")  # another process is writing when this one opens the file
    other.execute("INSERT INTO t VALUES (1)")
    done = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    done.start()
    db = Database(f"sqlite:///{path}", busy_timeout=5)
    try:
        t0 = time.monotonic()
        async with db.transaction() as s:
            await s.connection()
        assert 0.3 < time.monotonic() - t0 < 5  # it waited for the other writer, then went on
        with sqlite3.connect(path) as fresh:
            assert fresh.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT i FROM t").fetchall() == [(1,)]  # the other writer's row was kept
    finally:
        done.join()
        other.close()
        await db.dispose()


def test_the_migrations_leave_a_sqlite_file_in_wal(tmp_path):
    from tsm.adapters.db.migrate import upgrade

    url = f"sqlite:///{tmp_path}/new.db"
    upgrade(url)
    import sqlite3

    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_in_memory_database_keeps_its_journal_mode_and_is_not_waited_on():
    """WAL is for files: SQLite leaves an in-memory database in "memory" mode and says so, with no error. The
    switch is asked once, not retried until the mode reads "wal" (which it never would)."""
    import sqlite3

    from tsm.adapters.db.engine import use_wal

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        t0 = time.monotonic()
        use_wal(conn.cursor(), wait=5)
        assert time.monotonic() - t0 < 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    finally:
        conn.close()


async def _traced_sqlite(path, busy_timeout: float) -> tuple[Database, list[str]]:
    from sqlalchemy import event, text

    db = Database(f"sqlite:///{path}", busy_timeout=busy_timeout)
    trace: list[str] = []

    @event.listens_for(db.engine.sync_engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.driver_connection._conn.set_trace_callback(
            lambda sql: trace.append(sql.split()[0].upper())
        )

    async with db.core_transaction() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    trace.clear()
    return db, trace


async def test_this_processs_sqlite_writers_take_turns_before_sqlite_sees_them(tmp_path):
    """Two write transactions of one process on SQLite: the second does not start its BEGIN IMMEDIATE while the
    first holds the write lock (where SQLite's busy handler would keep it sleeping in steps of up to 100 ms after
    the lock is free), but once the first committed; both rows are kept."""
    import asyncio

    from sqlalchemy import text

    db, trace = await _traced_sqlite(tmp_path / "w.db", busy_timeout=10)
    try:
        holding, release = asyncio.Event(), asyncio.Event()

        async def first() -> None:
            async with db.core_transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                await release.wait()

        async def second() -> None:
            await holding.wait()
            async with db.core_transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (2)"))

        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await holding.wait()
        await asyncio.sleep(0.2)  # the second writer is waiting meanwhile
        release.set()
        await asyncio.gather(*tasks)
        writes = [s for s in trace if s in ("BEGIN", "INSERT", "COMMIT")]
        assert writes == ["BEGIN", "INSERT", "COMMIT", "BEGIN", "INSERT", "COMMIT"], trace
        async with db.engine.connect() as conn:
            assert sorted((await conn.execute(text("SELECT x FROM t"))).scalars()) == [1, 2]
    finally:
        await db.dispose()


async def test_a_sqlite_writer_kept_waiting_past_the_busy_timeout_is_told_busy(tmp_path):
    import asyncio

    from sqlalchemy import text

    db, _ = await _traced_sqlite(tmp_path / "b.db", busy_timeout=0.3)
    try:
        release = asyncio.Event()
        holding = asyncio.Event()

        async def first() -> None:
            async with db.core_transaction() as conn:
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                holding.set()
                await release.wait()

        task = asyncio.create_task(first())
        await holding.wait()
        t0 = time.monotonic()
        with pytest.raises(ServiceBusy):
            async with db.transaction():
                pass
        assert 0.25 < time.monotonic() - t0 < 5
        release.set()
        await task
        async with db.engine.connect() as conn:
            assert list((await conn.execute(text("SELECT x FROM t"))).scalars()) == [1]
    finally:
        await db.dispose()


async def test_a_hot_write_kept_waiting_by_another_process_is_told_busy_and_writes_nothing(tmp_path):
    """``tsm.adapters.db.hot``'s one-statement write goes straight to the driver: a write lock held by another
    process (another connection here) past the busy timeout is ServiceBusy, as through a transaction, not a raw
    sqlite3 error; once the lock is free the same write goes in."""
    import sqlite3

    from sqlalchemy import Column, Integer, MetaData, Table, insert, text

    from tsm.adapters.db.hot import HotStatement

    db, _ = await _traced_sqlite(tmp_path / "h.db", busy_timeout=0.3)
    write = HotStatement(insert(Table("t", MetaData(), Column("x", Integer))))
    other = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(ServiceBusy):
            await write.write(db, x=1)
        other.execute("ROLLBACK")
        await write.write(db, x=2)
        async with db.engine.connect() as conn:
            assert list((await conn.execute(text("SELECT x FROM t"))).scalars()) == [2]
    finally:
        other.close()
        await db.dispose()
