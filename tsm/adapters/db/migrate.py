"""Run the Alembic migrations programmatically (``tsm db upgrade``); the same scripts for SQLite and PostgreSQL."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config

from .engine import driver_urls, ensure_sqlite_dir


def alembic_config(url: str) -> Config:
    sync_url, _ = driver_urls(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("tsm") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sync_url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), revision)


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
