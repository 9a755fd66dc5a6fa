"""Fixed Core statements on a turn's hot path, run with the fewest trips to the database's driver.

On SQLite (aiosqlite) every call on a cursor is a trip to the connection's thread and back, and a Core
transaction costs about eight of them (BEGIN, cursor, execute, fetch, close, COMMIT or ROLLBACK); the GIL switches
between that thread and the event loop are a large part of a turn's CPU under load. Here a statement compiled once goes
straight to the driver connection of a pooled connection: a read in one trip (a single SELECT reads one consistent
snapshot by itself, so nothing is lost outside a transaction), a one-statement write in two (the statement, then
its commit), after this process's other writers (``Database.one_writer``). Parameters and values pass through the
column types' bind and result processors as Core applies them. On PostgreSQL these are ordinary Core executes in
autocommit: one round trip each.
"""

from __future__ import annotations

import sqlite3
from collections import namedtuple
from typing import Any

from sqlalchemy import literal_column
from sqlalchemy.exc import OperationalError

from ...domain.errors import ServiceBusy
from .engine import Database, is_busy


def constants_in(column, values):
    """``column IN (...)`` with the values written into the SQL (they must be the product's own constants, never
    input): a statement for ``HotStatement`` has no list parameters, which SQLAlchemy renders only per call."""
    return column.in_([literal_column("'" + str(v).replace("'", "''") + "'") for v in values])


class HotStatement:
    """A fixed Core statement: ``first``/``all`` for a select (rows as named tuples), ``write`` for one INSERT."""

    def __init__(self, stmt) -> None:
        self.stmt = stmt
        columns = getattr(stmt, "selected_columns", None)
        self.row = namedtuple("Row", [c.key for c in columns], rename=True) if columns is not None else None
        self._sqlite: tuple[str, tuple[str, ...], tuple, tuple, dict] | None = None

    def _compiled(self, dialect) -> tuple[str, tuple[str, ...], tuple, tuple, dict]:
        if self._sqlite is None:
            c = self.stmt.compile(dialect=dialect)
            names = tuple(c.positiontup or ())
            binds = tuple(c.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
            results = tuple(
                col.type.dialect_impl(dialect).result_processor(dialect, None)
                for col in getattr(self.stmt, "selected_columns", ())
            )
            # The statement's own constants travel as parameters with their values.
            self._sqlite = (c.string, names, binds, results, dict(c.params))
        return self._sqlite

    def _sqlite_call(self, db: Database, params: dict[str, Any]) -> tuple[str, tuple, tuple]:
        sql, names, binds, results, own = self._compiled(db.engine.dialect)
        values = tuple(
            (p(v) if p is not None else v)
            for p, v in zip(binds, (params[n] if n in params else own[n] for n in names), strict=True)
        )
        return sql, values, results

    def _rows(self, raw_rows, results: tuple) -> list[tuple]:
        assert self.row is not None
        return [
            self.row(*(p(v) if p is not None else v for p, v in zip(results, r, strict=True)))
            for r in raw_rows
        ]

    async def all(self, db: Database, **params: Any) -> list[tuple]:
        """Every row, as named tuples (by position or by column name)."""
        assert self.row is not None, "not a select"
        if db.backend != "sqlite":
            async with db.read_engine.connect() as conn:  # autocommit: the statement's one round trip
                return [self.row(*r) for r in await conn.execute(self.stmt, params)]
        sql, values, results = self._sqlite_call(db, params)
        async with db.engine.connect() as conn:
            driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's connection
            return self._rows(await driver.execute_fetchall(sql, values), results)

    async def first(self, db: Database, **params: Any) -> tuple | None:
        """The first row, or None."""
        rows = await self.all(db, **params)
        return rows[0] if rows else None

    async def write(self, db: Database, **params: Any) -> None:
        """Run a one-statement write (an INSERT of one row: atomic by itself) and commit it. A write lock held past
        the busy timeout (SQLite) or a row lock past the lock timeout (PostgreSQL) raises :class:`ServiceBusy`."""
        if db.backend != "sqlite":
            try:
                async with db.read_engine.connect() as conn:  # autocommit: no BEGIN and COMMIT around it
                    await conn.execute(self.stmt, params)
            except OperationalError as exc:
                if is_busy(exc):
                    raise ServiceBusy() from exc
                raise
            return
        sql, values, _ = self._sqlite_call(db, params)
        async with db.one_writer(), db.engine.connect() as conn:
            raw: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's connection
            try:
                await raw.execute(sql, values)
                await raw.commit()
            except BaseException as exc:
                await raw.rollback()
                if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
                    raise ServiceBusy() from exc  # another process held the write lock past the busy timeout
                raise
