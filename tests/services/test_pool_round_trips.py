"""Issue 15, item 5: PostgreSQL round trips on the hot path. A reader is one round trip per statement (autocommit:
no BEGIN and ROLLBACK around it); a pooled connection in use is not pinged at checkout, one idle over
``IDLE_PING_SECONDS`` is, so a connection the server dropped meanwhile is replaced before a session uses it."""

from __future__ import annotations

import psycopg
import psycopg._connection_base as connection_base
import psycopg._cursor_base as cursor_base
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import tsm.adapters.db.engine as engine_module
from tsm.adapters.db.engine import Database

pytestmark = pytest.mark.postgres


class RoundTrips:
    """psycopg's sends: statements (``execute``) and transaction commands (BEGIN, COMMIT, ROLLBACK)."""

    def __init__(self, monkeypatch) -> None:
        self.statements = self.commands = 0
        send, command = cursor_base.BaseCursor._execute_send, connection_base.BaseConnection._exec_command

        def counted_send(cursor, *a, **kw):
            self.statements += 1
            return send(cursor, *a, **kw)

        def counted_command(conn, *a, **kw):
            self.commands += 1
            return command(conn, *a, **kw)

        monkeypatch.setattr(cursor_base.BaseCursor, "_execute_send", counted_send)
        monkeypatch.setattr(connection_base.BaseConnection, "_exec_command", counted_command)

    def reset(self) -> None:
        self.statements = self.commands = 0


async def _backend_pid(db: Database) -> int:
    async with db.reader() as s:
        return (await s.exec(text("SELECT pg_backend_pid()"))).one()[0]


async def test_a_reader_is_one_round_trip_and_a_connection_in_use_is_not_pinged(pg_url, monkeypatch):
    db = Database(pg_url)
    try:
        await _backend_pid(db)  # the pool's connection is made
        trips = RoundTrips(monkeypatch)
        for _ in range(3):
            async with db.reader() as s:
                assert (await s.exec(text("SELECT 1"))).one()[0] == 1
        assert (trips.statements, trips.commands) == (3, 0)  # no SELECT 1 pre-ping, no BEGIN, no ROLLBACK
        trips.reset()
        async with db.transaction() as s:  # a write still runs in one transaction
            await s.exec(text("SELECT 1"))
        assert trips.statements == 1 and trips.commands == 2  # BEGIN, COMMIT
    finally:
        await db.engine.dispose()


async def test_an_idle_connection_the_server_dropped_is_replaced_before_use(pg_url, monkeypatch):
    db = Database(pg_url, pool_size=1)
    try:
        first = await _backend_pid(db)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)  # it has been idle "long enough"
        second = await _backend_pid(db)  # pinged at checkout, found dead, replaced: no error
        assert second != first
        # Not idle long enough: no ping, so the statement meets the dead connection and fails whole once...
        monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 3600.0)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (second,))
        with pytest.raises(DBAPIError):
            await _backend_pid(db)
        assert await _backend_pid(db) not in (first, second)  # ... and the pool connects afresh
    finally:
        await db.engine.dispose()
