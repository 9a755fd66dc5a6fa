"""The tables the code declares (SQLModel, every module of tsm/adapters/db) and the schema the Alembic migrations
build agree, on SQLite and PostgreSQL: Alembic's autogenerate finds nothing to add, drop or change (tables, columns,
types, nullability, indexes, unique and foreign keys). A model changed without its migration, or a migration without
its model, fails here with the difference."""

from __future__ import annotations

import importlib
import pkgutil

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import tsm.adapters.db as tables
from tsm.adapters.db.engine import driver_urls


def test_the_migrations_build_exactly_the_tables_the_models_declare(any_db_url):
    for module in pkgutil.iter_modules(tables.__path__):
        importlib.import_module(f"{tables.__name__}.{module.name}")  # each registers its tables
    engine = sa.create_engine(driver_urls(any_db_url)[0])
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
            )
    finally:
        engine.dispose()
    assert diff == [], "\n".join(map(str, diff))
