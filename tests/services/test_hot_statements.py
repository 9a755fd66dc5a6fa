"""``tsm.adapters.db.hot``: fixed statements sent straight to the driver (SQLite's and psycopg's), on both backends.
They must give what Core gives (the types' processors applied both ways), fail as Core fails (``DBAPIError`` with the
driver's error, a lock past the timeout as ``ServiceBusy``), and on PostgreSQL never hand the pool back a connection
left in autocommit or in an unknown state: the next transaction on it would commit statement by statement."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from tsm.adapters.db.columns import UTCDateTime
from tsm.adapters.db.engine import Database
from tsm.adapters.db.hot import HotStatement
from tsm.domain.errors import ServiceBusy

_meta = MetaData()
_t = Table(
    "hot_t",
    _meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(20), nullable=False),
    Column("score", Float),
    Column("at", UTCDateTime()),
)
_INSERT = HotStatement(insert(_t))
_READ = HotStatement(select(_t.c.id, _t.c.name, _t.c.score, _t.c.at).where(_t.c.id == 1))


async def _db(url: str) -> Database:
    db = Database(url, pool_size=1, lock_timeout=0.3, busy_timeout=0.3)
    async with db.engine.begin() as conn:
        await conn.run_sync(_meta.create_all)
    return db


async def _ids(db: Database) -> list[int]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(text("SELECT id FROM hot_t ORDER BY id"))).scalars())


async def test_values_and_rows_pass_through_the_types_as_core_would(any_db_url):
    db = await _db(any_db_url)
    try:
        at = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
        await _INSERT.write(db, id=1, name="Ashcombe", score=93.5, at=at)
        row = await _READ.first(db)
        assert row is not None
        assert (row.id, row.name, row.score, row.at) == (1, "Ashcombe", 93.5, at)
        assert type(row.score) is float and row.at.tzinfo is not None  # Float and UTCDateTime's processors
        async with db.engine.connect() as conn:  # the same row through Core
            core = (await conn.execute(select(_t).where(_t.c.id == 1))).one()
        assert tuple(core) == tuple(row)
        assert await HotStatement(select(_t.c.id).where(_t.c.id == 2)).first(db) is None
    finally:
        await db.dispose()


async def test_a_failed_write_is_cores_error_and_the_connection_goes_back_as_it_came(any_db_url):
    """A duplicate key is IntegrityError (what callers catch), and afterwards a transaction on the same pooled
    connection still rolls back: the hot path left it out of autocommit."""
    db = await _db(any_db_url)
    try:
        await _INSERT.write(db, id=1, name="a", score=None, at=None)
        with pytest.raises(IntegrityError):
            await _INSERT.write(db, id=1, name="b", score=None, at=None)
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                await (await s.connection()).execute(insert(_t).values(id=2, name="c"))
                raise RuntimeError("undo")
        assert await _ids(db) == [1]
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgres_a_row_lock_past_the_lock_timeout_is_busy_and_nothing_is_written(pg_url):
    db = await _db(pg_url)
    try:
        await _INSERT.write(db, id=1, name="a", score=None, at=None)
        with psycopg.connect(pg_url) as other:  # another session holds the table against writers
            other.execute("LOCK TABLE hot_t IN EXCLUSIVE MODE")
            with pytest.raises(ServiceBusy):
                await _INSERT.write(db, id=2, name="b", score=None, at=None)
            other.rollback()
        assert await _ids(db) == [1]
        await _INSERT.write(db, id=2, name="b", score=None, at=None)
        assert await _ids(db) == [1, 2]
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgres_a_statement_cancelled_in_flight_never_goes_back_to_the_pool(pg_url):
    """A turn cancelled while its statement runs (a client gone, a deadline): the connection still has the statement
    in flight and is in autocommit; it is thrown away, and the next transaction gets a clean one."""
    db = await _db(pg_url)
    try:
        slow = HotStatement(select(func.pg_sleep(2)))
        task = asyncio.create_task(slow.first(db))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        pool = db.engine.sync_engine.pool
        assert pool.checkedout() == 0
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                await (await s.connection()).execute(insert(_t).values(id=3, name="c"))
                raise RuntimeError("undo")
        assert await _ids(db) == []
        async with db.engine.connect() as conn:  # and the pooled connection is a fresh, transactional one
            raw = await conn.get_raw_connection()
            assert raw.driver_connection.autocommit is False
    finally:
        await db.dispose()


async def test_sqlite_a_connection_returned_inside_a_transaction_is_rolled_back_and_only_then(
    sqlite_url, tmp_path
):
    """SQLite's pool rolls a connection back on its return only when a transaction is open (a rollback is a trip
    to aiosqlite's thread, a second one for every hot read): one returned mid-transaction has its write undone
    and the write lock freed; one returned idle costs no call."""
    import sqlite3

    from sqlalchemy.util import greenlet_spawn

    db = await _db(sqlite_url)
    try:
        pooled = await db.engine.raw_connection()
        driver = pooled.driver_connection
        await driver.execute("BEGIN IMMEDIATE")
        await driver.execute("INSERT INTO hot_t (id, name) VALUES (7, 'left open')")
        await greenlet_spawn(pooled.close)
        other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # the write lock was freed
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert await _ids(db) == []

        calls = 0
        pooled = await db.engine.raw_connection()
        real = pooled.driver_connection.rollback

        async def counted():
            nonlocal calls
            calls += 1
            return await real()

        pooled.driver_connection.rollback = counted
        await greenlet_spawn(pooled.close)  # returned idle
        await _READ.first(db)  # a hot read on the same (only) pooled connection, returned idle
        assert calls == 0
        async with db.engine.connect() as conn:  # returned inside a transaction: rolled back
            await conn.begin()
            await conn.execute(insert(_t).values(id=8, name="again"))
            assert (await conn.get_raw_connection()).driver_connection is driver
        assert calls == 1 and await _ids(db) == []
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_postgres_many_free_time_reads_at_once_never_hold_one_connection_while_waiting_for_another(
    pg_url, tmp_path
):
    """A hot statement takes a connection of its own, so it must never run while its caller holds one: as many
    callers as the pool has connections, each holding one and waiting for a second, wait for ever (the pool's
    30-second timeout). The sweeps compose 64 messages at a time, and a rebooking message reads free times (no
    school read this turn: the session path); bench/country.py's busy run failed on it. Here the pool has 3
    connections and 12 readers go at once."""
    from factories import local, local_booking, make_world

    from tsm.clock import FixedClock

    db = Database(pg_url, pool_size=1)  # 1 and 2 overflow
    try:
        world = await make_world(db)
        svc = local_booking(db, FixedClock(local(2026, 1, 5, 8)), tmp_path)
        who = world.contact("low_primary.lead")
        offers = await asyncio.wait_for(
            asyncio.gather(*(svc.free_slots(who, world.schools["low_primary"], limit=5) for _ in range(12))),
            20,
        )
        assert offers[0].slots and all(o == offers[0] for o in offers)
    finally:
        await db.dispose()


async def test_cores_statement_listeners_see_hot_statements_too(any_db_url):
    """What counts statements with a ``before_cursor_execute`` listener (bench/country.py, the sweeps' budgets)
    counts the ones that go straight to the driver as well."""
    from sqlalchemy import event

    db = await _db(any_db_url)
    try:
        seen: list[str] = []
        event.listen(db.engine.sync_engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
        await _INSERT.write(db, id=1, name="a", score=None, at=None)
        await _READ.first(db)
        assert [s.split()[0] for s in seen] == ["INSERT", "SELECT"] and "hot_t" in seen[1]
    finally:
        await db.dispose()
