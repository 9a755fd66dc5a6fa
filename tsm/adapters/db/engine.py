"""Engines and transactions for SQLite (embedded default) and PostgreSQL (production, CI)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from tsm.domain.errors import ServiceBusy

DEFAULT_BUSY_TIMEOUT = (
    10.0  # seconds a SQLite write waits for another writer: under Teams' 15 s for an answer
)


def driver_urls(url: str) -> tuple[str, str]:
    """(sync URL for Alembic, async URL for the services) from a plain ``sqlite:///`` or ``postgresql://`` URL."""
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        return (
            u.set(drivername="sqlite").render_as_string(hide_password=False),
            u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False),
        )
    if backend == "postgresql":
        pg = u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return pg, pg
    raise ValueError(f"unsupported database '{backend}': use sqlite:/// or postgresql://")


def ensure_sqlite_dir(url: str) -> None:
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        Path(u.database).parent.mkdir(parents=True, exist_ok=True)


def is_busy(exc: Exception) -> bool:
    """A lock held by someone else, not a broken query: SQLite's "database is locked"/"busy", PostgreSQL's lock or
    statement timeout (SQLSTATE 55P03 lock_not_available, 57014 query_canceled)."""
    orig = getattr(exc, "orig", None) or exc  # Core's wrapper, or the driver's own error
    if getattr(orig, "sqlstate", None) in ("55P03", "57014"):
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def use_wal(cur, wait: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """Put a SQLite file in WAL mode (persistent: once per file). Reading the mode takes no lock, so a file already
    in WAL (every file ``upgrade`` made) costs nothing. Switching a rollback-journal file fails at once with
    "database is locked", without the busy handler, while another connection holds a write transaction (four
    engines opening one fresh file together hit this: CI, 2026-12-07), so the switch is retried for up to ``wait``
    seconds; another connection switching it meanwhile ends the wait."""
    import sqlite3
    import time

    def mode() -> str:
        # SQLAlchemy's aiosqlite cursor: execute, then fetch from the cursor
        cur.execute("PRAGMA journal_mode")
        return str(cur.fetchone()[0]).lower()

    if mode() == "wal":
        return
    deadline = time.monotonic() + wait
    while True:
        try:
            # Returns the mode it ends in: an in-memory database stays "memory", as it always did here.
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def _sqlite_pragmas(sync_engine, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> None:
    """Foreign keys on, WAL, a busy timeout; write transactions BEGIN IMMEDIATE so concurrent writers queue
    instead of deadlocking on a lock upgrade, while readers BEGIN DEFERRED and never wait for a writer."""

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_conn, _record):  # pragma: no cover - exercised by every SQLite test
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        use_wal(cur, busy_timeout)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "reset")
    def _reset(dbapi_conn, _record, reset_state):  # pragma: no cover - exercised by every SQLite test
        # A connection back in the pool is rolled back only if SQLite says a transaction is open (BEGIN is always
        # explicit here: isolation_level None). The pool's own reset would roll back every time, and on aiosqlite
        # every call is a trip to the connection's thread: for a read that went straight to the driver
        # (tsm.adapters.db.hot) it was a second trip after the statement's one.
        if reset_state.terminate_only:
            return
        if dbapi_conn.driver_connection._conn.in_transaction:
            dbapi_conn.rollback()

    @event.listens_for(sync_engine, "begin")
    def _begin(conn):  # pragma: no cover
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


IDLE_PING_SECONDS = 30.0  # a pooled PostgreSQL connection idle longer than this is pinged before it is used


def _ping_when_idle(sync_engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle over ``IDLE_PING_SECONDS`` (a server restart or a
    firewall's idle cut shows there); a dead one is replaced before the session uses it (``DisconnectionError``
    makes the pool connect afresh). A connection in steady use costs no round trip."""
    import time

    from sqlalchemy import exc

    @event.listens_for(sync_engine, "checkin")
    def _checkin(_dbapi_conn, record):  # pragma: no cover - every PostgreSQL test
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checkout(dbapi_conn, record, _proxy):  # pragma: no cover - every PostgreSQL test
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SELECT 1")
            finally:
                cur.close()
            dbapi_conn.rollback()
        except Exception as err:  # noqa: BLE001 - any failure means the connection is not usable
            raise exc.DisconnectionError("idle connection found dead") from err


class Database:
    """The async engine and the transactions the services run in (one per operation)."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        lock_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        """``busy_timeout``: how long a SQLite write waits for another writer; ``lock_timeout``: how long a
        PostgreSQL statement waits for a lock (a row another transaction holds). Then :class:`ServiceBusy`."""
        self.url = url
        self.sync_url, self.async_url = driver_urls(url)
        self.backend = make_url(url).get_backend_name()
        ensure_sqlite_dir(url)
        kwargs: dict = {"echo": echo}
        if self.backend == "postgresql":
            kwargs.update(
                pool_size=pool_size,
                max_overflow=pool_size * 2,
                # No pre-ping on every checkout (a round trip per session on the hot path): a connection idle
                # longer than IDLE_PING_SECONDS is pinged when checked out (_ping_when_idle), one in use is not, and
                # one found dead mid-statement is invalidated with the pool's older ones (SQLAlchemy's disconnect
                # handling); the operation fails whole and is tried again by its caller.
                pool_pre_ping=False,
                connect_args={"options": f"-c lock_timeout={int(lock_timeout * 1000)}"},
            )
        self.busy_timeout = busy_timeout
        # SQLite has one writer at a time: this process's writers take turns here, per event loop, and so never
        # meet each other in SQLite's busy handler, which sleeps in steps of up to 100 ms and so kept a writer
        # waiting long after the lock was free (the p99 of a turn under load). Other processes still wait there.
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        if self.backend == "sqlite":
            kwargs["pool_reset_on_return"] = None  # _sqlite_pragmas resets a connection only if it needs it
        self.engine: AsyncEngine = create_async_engine(self.async_url, **kwargs)
        if self.backend == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine, busy_timeout)
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._readers = self._sessions
        self.read_engine: AsyncEngine = (
            self.engine
        )  # for Core reads outside a session (``read_engine.connect()``)
        if self.backend == "postgresql":
            _ping_when_idle(self.engine.sync_engine)
            # Reads run in autocommit: no BEGIN and ROLLBACK round trips around them. Under PostgreSQL's READ
            # COMMITTED every statement takes its own snapshot inside a transaction too, so a reader sees what it
            # saw before; readers never write (writes go through ``transaction``).
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._readers = async_sessionmaker(self.read_engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    @asynccontextmanager
    async def one_writer(self) -> AsyncIterator[None]:
        """On SQLite, this process's write transactions one at a time (see ``_writer_locks``; ``tsm.adapters.db.hot``
        writes through it too); a turn that waits longer than the busy timeout gets :class:`ServiceBusy`, as it would
        from SQLite. Elsewhere nothing."""
        if self.backend != "sqlite":
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        try:
            await asyncio.wait_for(lock.acquire(), self.busy_timeout)
        except TimeoutError:
            raise ServiceBusy() from None
        try:
            yield
        finally:
            lock.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error. A database locked
        by someone else raises :class:`ServiceBusy` (nothing was written)."""
        try:
            async with self.one_writer(), self._sessions() as session, session.begin():
                if self.backend == "sqlite":
                    await session.connection(execution_options={"sqlite_immediate": True})
                yield session
        except OperationalError as exc:
            if is_busy(exc):
                raise ServiceBusy() from exc
            raise

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (on PostgreSQL in autocommit: each statement its own snapshot, as in a READ
        COMMITTED transaction, without the transaction's two round trips)."""
        try:
            async with self._readers() as session:
                yield session
        except OperationalError as exc:
            if is_busy(exc):
                raise ServiceBusy() from exc
            raise

    @asynccontextmanager
    async def core_transaction(self) -> AsyncIterator:
        """A Core connection inside one transaction (``BEGIN IMMEDIATE`` on SQLite), for writers that batch raw
        statements; a database locked by someone else raises :class:`ServiceBusy`, as in :meth:`transaction`."""
        try:
            async with self.one_writer(), self.engine.connect() as conn:
                if self.backend == "sqlite":
                    conn = await conn.execution_options(sqlite_immediate=True)
                async with conn.begin():
                    yield conn
        except OperationalError as exc:
            if is_busy(exc):
                raise ServiceBusy() from exc
            raise

    async def can_write(self, wait: float = 1.0) -> tuple[bool, str]:
        """Whether a write could start now (``/healthz``): SQLite takes and drops the write lock with its own
        short wait (a file locked by another process fails here, while SELECT 1 still answers); PostgreSQL
        starts a read-write transaction and gets it a transaction id (fails on a read-only server)."""
        if self.backend == "sqlite":
            import asyncio
            import sqlite3

            path = make_url(self.url).database or ""

            def probe() -> None:
                conn = sqlite3.connect(path, timeout=wait, isolation_level=None)
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    conn.execute("ROLLBACK")
                finally:
                    conn.close()

            try:
                await asyncio.to_thread(probe)
            except sqlite3.OperationalError as exc:
                return False, "locked" if "locked" in str(exc) or "busy" in str(exc) else type(exc).__name__
            return True, "ok"
        from sqlalchemy import text

        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {int(wait * 1000)}")
                await conn.execute(text("SELECT txid_current()"))
                await conn.rollback()
        except Exception as exc:  # noqa: BLE001 - reported, not raised: this is a health check
            return False, type(exc).__name__
        return True, "ok"

    async def dispose(self) -> None:
        await self.engine.dispose()
