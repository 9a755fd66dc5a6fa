from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlmodel import SQLModel

from tsm.adapters.db import (  # importing the table modules registers their tables on the metadata
    calendars,  # noqa: F401  (officers' calendars: local events, the calendar outbox, Graph sync state)
    delivery,  # noqa: F401  (the delivery ledger)
    directory,  # noqa: F401  (LAs, officers, schools, contacts, trusts, terms)
    feedback,  # noqa: F401  (evaluations, TSM records and actions)
    history,  # noqa: F401  (domain events, the audit log)
    meetings,  # noqa: F401  (meetings and what hangs on them)
    offers,  # noqa: F401  (card offers kept server-side)
    signin,  # noqa: F401  (the web page: sign-in links and sessions)
    teams,  # noqa: F401  (the Teams channel: conversations, processed activities, files)
    tenants,  # noqa: F401  (Microsoft tenants registered for schools, trusts and LAs)
)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
