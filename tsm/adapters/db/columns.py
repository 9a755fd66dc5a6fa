"""Column types every table module shares: UTC timestamps.

Stored as naive UTC (SQLite has no time zones) and always read back timezone-aware in UTC, the same on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Column, Field


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones), always returned timezone-aware in UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def now_utc() -> datetime:
    return datetime.now(UTC)


def utc_ts(**kw: Any) -> Any:
    """A ``UTCDateTime`` field: ``start: datetime = utc_ts(nullable=False, index=True)``."""
    return Field(sa_column=Column(UTCDateTime(), **kw))
