"""Engines and transactions for SQLite (embedded default) and PostgreSQL (production, CI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def driver_urls(url: str) -> tuple[str, str]:
    """(sync URL for Alembic, async URL for the services) from a plain ``sqlite:///`` or ``postgresql://`` URL."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return (u.set(drivername="sqlite").render_as_string(hide_password=False),
                u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False))
    if backend == "postgresql":
        pg = u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return pg, pg
    raise ValueError(f"unsupported database '{backend}': use sqlite:/// or postgresql://")


def ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(sync_engine) -> None:
    """Foreign keys on, WAL, a busy timeout; write transactions BEGIN IMMEDIATE so concurrent writers queue
    instead of deadlocking on a lock upgrade, while readers BEGIN DEFERRED and never wait for a writer."""

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn):  # pragma: no cover
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """The async engine and the transactions the services run in (one per operation)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        self.url = url
        self.sync_url, self.async_url = driver_urls(url)
        self.backend = make_url(url).get_backend_name()
        ensure_sqlite_dir(url)
        kwargs: dict = {"echo": echo}
        if self.backend == "postgresql":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.async_url, **kwargs)
        if self.backend == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        async with self._sessions() as session, session.begin():
            if self.backend == "sqlite":
                await session.connection(execution_options={"sqlite_immediate": True})
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
