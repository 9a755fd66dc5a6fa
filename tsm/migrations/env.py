from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

from tsm.adapters.db import (
    bot_tables,  # noqa: F401  (Teams bot: conversations, processed activities)
    chat_tables,  # noqa: F401  (conversations: offers kept server-side)
    feedback_tables,  # noqa: F401  (evaluations, TSM records and actions)
    graph_tables,  # noqa: F401  (Graph subscriptions, delta state, officer notices)
    scheduler_tables,  # noqa: F401  (the scheduler's ledger)
    tables,  # noqa: F401  (registers the tables on the metadata)
)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
