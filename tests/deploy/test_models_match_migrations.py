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


def test_alembic_env_registers_every_table_module():
    """``tsm/migrations/env.py`` imports every table module, so an autogenerate run from it sees every table (it
    missed ``tenants`` and would have proposed dropping ``ms_tenant``)."""
    import ast
    from pathlib import Path

    env = Path(tables.__file__).resolve().parents[2] / "migrations" / "env.py"
    tree = ast.parse(env.read_text(encoding="utf-8"))
    imported = {
        a.name
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module == tables.__name__
        for a in n.names
    }
    declaring = {
        m.name
        for m in pkgutil.iter_modules(tables.__path__)
        if "table=True" in (Path(tables.__path__[0]) / f"{m.name}.py").read_text(encoding="utf-8")
    }
    assert declaring - imported == set()
