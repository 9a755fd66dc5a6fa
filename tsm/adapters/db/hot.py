"""Fixed Core statements on a turn's hot path, run with the fewest trips to the database's driver.

A statement here is compiled once per dialect and sent straight to the driver connection of a pooled connection,
without SQLAlchemy's Connection and execution context (about 0.25 ms of CPU a statement on PostgreSQL, half the
statement's whole cost; ``bench/bot_turns.py``). Parameters and values pass through the column types' bind and
result processors as Core applies them; a driver error comes out as Core's would (``DBAPIError`` with the driver's
error as ``orig``), a lock held past the timeout as :class:`ServiceBusy`; Core's ``before_cursor_execute``
listeners are told of each statement.

- SQLite (aiosqlite): every call on a cursor is a trip to the connection's thread and back, and a Core transaction
  costs about eight of them (BEGIN, cursor, execute, fetch, close, COMMIT or ROLLBACK); the GIL switches between
  that thread and the event loop are a large part of a turn's CPU under load. Here a statement is one trip (executed
  and fetched there together): a single SELECT reads one consistent snapshot by itself, so nothing is lost outside
  a transaction, and a one-statement write commits by itself (no implicit transactions), after this process's other
  writers (``Database.one_writer``). The pool takes the connection back without a rollback trip (it rolls back only
  an open transaction: ``engine._sqlite_pragmas``).
- PostgreSQL (psycopg): the connection is put in autocommit for the statement and back after it (client-side
  flags, no round trip): one round trip a statement, no BEGIN or ROLLBACK. psycopg prepares a statement the
  connection has run a few times. A connection the statement failed on in a way that leaves its state unknown
  (cancelled, a lost connection, autocommit not restored) is invalidated, never returned to the pool.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from typing import Any

import psycopg
from sqlalchemy import literal_column
from sqlalchemy.exc import DBAPIError
from sqlalchemy.util import greenlet_spawn

from ...domain.errors import ServiceBusy
from .engine import Database, is_busy


def constants_in(column, values):
    """``column IN (...)`` with the values written into the SQL (they must be the product's own constants, never
    input): a statement for ``HotStatement`` has no list parameters, which SQLAlchemy renders only per call."""
    return column.in_([literal_column("'" + str(v).replace("'", "''") + "'") for v in values])


class _Plan:
    """A statement compiled for one dialect: its SQL, parameter names (as the SQL writes them) with their bind
    processors and own values, and the result columns' processors."""

    __slots__ = ("sql", "names", "keys", "binds", "results", "own", "_types", "_dialect")

    def __init__(self, stmt, columns, dialect) -> None:
        c = stmt.compile(dialect=dialect)
        # positional (SQLite's qmark) or named (psycopg's pyformat, keyed by the names as the SQL writes them)
        keys = tuple(c.positiontup) if c.positiontup is not None else tuple(c.binds)
        escaped = getattr(c, "escaped_bind_names", None) or {}
        self.sql: str = c.string
        self.keys = keys
        self.names = tuple(escaped.get(k, k) for k in keys)
        self.binds = tuple(c.binds[k].type.dialect_impl(dialect).bind_processor(dialect) for k in keys)
        self._types = tuple(col.type.dialect_impl(dialect) for col in columns)
        self._dialect = dialect
        # SQLite's rows carry no types; a PostgreSQL column's processor may depend on the type the server sends
        # (a numeric's), so it is made from the first result's description.
        self.results: tuple | None = self.processors(None) if dialect.name == "sqlite" else None
        # The statement's own constants travel as parameters with their values.
        self.own = {k: c.binds[k].value for k in keys}

    def processors(self, description) -> tuple:
        codes = [d[1] for d in description] if description is not None else [None] * len(self._types)
        return tuple(
            t.result_processor(self._dialect, code) for t, code in zip(self._types, codes, strict=True)
        )

    def values(self, params: dict[str, Any]) -> list:
        return [
            (p(v) if p is not None else v)
            for p, v in zip(
                self.binds, (params[k] if k in params else self.own[k] for k in self.keys), strict=True
            )
        ]


class HotStatement:
    """A fixed Core statement: ``first``/``all`` for a select (rows as named tuples), ``write`` for one INSERT (its
    RETURNING rows, if it has one)."""

    def __init__(self, stmt) -> None:
        self.stmt = stmt
        columns = getattr(stmt, "selected_columns", None)
        # a select's columns, or an INSERT's RETURNING (none without)
        self.columns = list(columns if columns is not None else stmt.exported_columns)
        self.row = namedtuple("Row", [c.key for c in self.columns], rename=True) if self.columns else None
        self._plans: dict[str, _Plan] = {}

    def _plan(self, db: Database) -> _Plan:
        plan = self._plans.get(db.backend)
        if plan is None:
            plan = self._plans[db.backend] = _Plan(self.stmt, self.columns, db.engine.dialect)
        return plan

    def _rows(self, raw_rows, results: tuple) -> list[tuple]:
        assert self.row is not None
        return [
            self.row(*(p(v) if p is not None else v for p, v in zip(results, r, strict=True)))
            for r in raw_rows
        ]

    async def all(self, db: Database, **params: Any) -> list[Any]:
        """Every row, as named tuples (by position or by column name)."""
        assert self.row is not None, "not a select"
        plan = self._plan(db)
        if db.backend != "sqlite":
            rows = await _pg_execute(db, plan, params, fetch=True)
        else:
            rows = await _sqlite_run(db, plan, params)
        assert plan.results is not None  # made by the first read at the latest
        return self._rows(rows, plan.results)

    async def first(self, db: Database, **params: Any) -> Any | None:
        """The first row, or None."""
        rows = await self.all(db, **params)
        return rows[0] if rows else None

    async def write(self, db: Database, **params: Any) -> list[Any]:
        """Run a one-statement write (an INSERT: atomic by itself) and commit it; its RETURNING rows (none without).
        A write lock held past the busy timeout (SQLite) or a row lock past the lock timeout (PostgreSQL) raises
        :class:`ServiceBusy`."""
        plan = self._plan(db)
        fetch = self.row is not None
        if db.backend != "sqlite":
            rows = await _pg_execute(db, plan, params, fetch=fetch)
        else:
            async with db.one_writer():
                rows = await _sqlite_run(db, plan, params)
        if not fetch:
            return []
        assert plan.results is not None
        return self._rows(rows, plan.results)


async def _sqlite_run(db: Database, plan: _Plan, params: dict[str, Any]) -> list:
    """One statement in one trip to aiosqlite's thread (execute and fetch there together). The connection has no
    implicit transactions (``isolation_level`` None, ``engine._sqlite_pragmas``): a write commits by itself, and the
    pool takes the connection back without a rollback trip."""
    values = plan.values(params)
    _announce(db, plan.sql, values)
    pooled = await db.engine.raw_connection()
    driver: Any = pooled.driver_connection  # aiosqlite's connection
    try:
        return list(await driver.execute_fetchall(plan.sql, values))
    except sqlite3.Error as exc:
        # e.g. another process held the write lock past the busy timeout: ServiceBusy
        raise _core_error(plan, values, exc, sqlite3.Error) from exc
    finally:
        await greenlet_spawn(pooled.close)  # rolled back there if a transaction were open


async def _pg_execute(db: Database, plan: _Plan, params: dict[str, Any], *, fetch: bool) -> list[tuple]:
    """One statement on a pooled psycopg connection in autocommit; its rows when ``fetch``."""
    values = dict(zip(plan.names, plan.values(params), strict=True))
    _announce(db, plan.sql, values)
    pooled = await db.engine.raw_connection()
    driver: Any = pooled.driver_connection  # psycopg's AsyncConnection
    try:
        await driver.set_autocommit(True)
        try:
            cur = driver.cursor()
            await cur.execute(plan.sql, values)
            if not fetch:
                return []
            if plan.results is None:
                plan.results = plan.processors(cur.description)
            return await cur.fetchall()
        finally:
            try:
                await driver.set_autocommit(False)
            except psycopg.Error:
                pass  # a statement still in flight (cancelled) or a lost connection: invalidated below
    except psycopg.Error as exc:
        raise _core_error(plan, values, exc, psycopg.Error) from exc
    finally:
        if driver.autocommit or driver.closed or driver.broken:
            pooled.invalidate()  # never lent again in a state the pool cannot know
        await greenlet_spawn(pooled.close)


def _core_error(plan: _Plan, values: Any, exc: Exception, base: type[Exception]) -> Exception:
    """The driver's error as Core raises it (``IntegrityError``, ``OperationalError``… with it as ``orig``, the
    parameters left out of its text), or :class:`ServiceBusy` for a lock held past the timeout."""
    if is_busy(exc):
        return ServiceBusy()
    return DBAPIError.instance(plan.sql, values, exc, base, hide_parameters=True)


def _announce(db: Database, sql: str, values: Any) -> None:
    """Tell Core's ``before_cursor_execute`` listeners of the statement (with no Connection, cursor or context: a
    hot statement has none), so what counts statements that way (``bench/country.py``, the sweeps' budgets) still
    counts every one. Nothing listens in production: an empty check."""
    listeners = db.engine.sync_engine.dispatch.before_cursor_execute
    if listeners:
        listeners(None, None, sql, values, None, False)
