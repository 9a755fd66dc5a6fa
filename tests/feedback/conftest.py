"""Fixtures of the feedback tests (helpers in ``feedback_world``)."""

from __future__ import annotations

import pytest
from factories import make_world
from feedback_world import NOW, Env

from tsm.adapters.db.engine import Database
from tsm.clock import FixedClock
from tsm.services.evaluations import Evaluations
from tsm.services.records import Records
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports


@pytest.fixture
async def env(db) -> Env:
    return await _env(db)


@pytest.fixture
async def any_env(any_db_url) -> Env:
    """``env`` on SQLite and on PostgreSQL (what reads SQL that differs between the two)."""
    db = Database(any_db_url)
    try:
        yield await _env(db)
    finally:
        await db.dispose()


async def _env(db: Database) -> Env:
    world = await make_world(db)
    clock = FixedClock(NOW)
    ref = ReferenceData(db)
    return Env(
        db,
        world,
        clock,
        Evaluations(db, clock=clock),
        Records(db, clock=clock),
        Reports(db, ref, clock=clock),
        ref,
    )
