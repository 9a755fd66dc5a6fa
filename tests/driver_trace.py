"""Every statement the database's driver runs, whichever way it got there (ORM, Core, or ``tsm.adapters.db.hot``,
which skips Core's events): SQLite's trace callback (BEGIN, COMMIT and ROLLBACK included), and on PostgreSQL a
psycopg cursor class that notes each ``execute`` (psycopg's own BEGIN, sent outside any cursor, is not seen).
Installed on the connections a ``Database`` makes from then on."""

from __future__ import annotations

import psycopg
from sqlalchemy import event

from tsm.adapters.db.engine import Database


class DriverTrace:
    def __init__(self) -> None:
        self.on = False
        self.statements: list[str] = []

    def note(self, sql: object) -> None:
        if self.on:
            text = sql.decode() if isinstance(sql, bytes) else str(sql)
            self.statements.append(" ".join(text.split())[:160])

    async def install(self, db: Database) -> DriverTrace:
        await db.engine.dispose()  # connections made from now on are traced
        trace = self

        class Traced(psycopg.AsyncCursor):
            async def execute(self, query, params=None, **kw):  # type: ignore[override]
                trace.note(query)
                return await super().execute(query, params, **kw)

            async def executemany(self, query, params_seq, **kw):  # type: ignore[override]
                trace.note(query)
                return await super().executemany(query, params_seq, **kw)

        @event.listens_for(db.engine.sync_engine, "connect")
        def _connect(dbapi_conn, _record):
            driver = dbapi_conn.driver_connection
            if db.backend == "sqlite":
                driver._conn.set_trace_callback(self.note)
            else:
                driver.cursor_factory = Traced

        return self

    def __enter__(self) -> DriverTrace:
        self.statements.clear()
        self.on = True
        return self

    def __exit__(self, *exc) -> None:
        self.on = False

    async def count(self, turn):
        """``turn()``'s reply and the statements it ran."""
        with self:
            reply = await turn()
        return reply, list(self.statements)

    def reads(self) -> list[str]:
        return [s for s in self.statements if s.upper().startswith(("SELECT", "WITH"))]
