"""Run the Alembic migrations programmatically (``tsm db upgrade``); the same scripts for SQLite and PostgreSQL."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from .engine import DEFAULT_BUSY_TIMEOUT, driver_urls, ensure_sqlite_dir, use_wal


def alembic_config(url: str) -> Config:
    sync_url, _ = driver_urls(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("tsm") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return cfg


# pg_advisory_lock key held while migrating, so that instances starting together on one PostgreSQL database
# migrate one after the other (the first builds the schema, the others find it at head) instead of racing.
MIGRATION_LOCK_KEY = 7_315_447_201


def upgrade(url: str, revision: str = "head") -> None:
    ensure_sqlite_dir(url)
    cfg = alembic_config(url)
    if make_url(url).get_backend_name() != "postgresql":
        command.upgrade(cfg, revision)  # SQLite: one file, writers serialised by its own lock
        _sqlite_wal(url)
        return
    engine = create_engine(driver_urls(url)[0], poolclass=NullPool)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            try:
                command.upgrade(cfg, revision)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
    finally:
        engine.dispose()


def _sqlite_wal(url: str) -> None:
    """Leave the file in WAL mode (persistent), so the engines that open it next never switch its journal mode while
    another holds a write transaction (see :func:`engine.use_wal`)."""
    import sqlite3

    path = make_url(url).database
    if not path or path == ":memory:":
        return
    conn = sqlite3.connect(path, timeout=DEFAULT_BUSY_TIMEOUT, isolation_level=None)
    try:
        use_wal(conn.cursor())
    finally:
        conn.close()


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    sync_url, _ = driver_urls(url)
    eng = create_engine(sync_url)
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        eng.dispose()
