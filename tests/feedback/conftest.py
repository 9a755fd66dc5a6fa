"""Fixtures of the feedback tests (helpers in ``feedback_world``)."""

from __future__ import annotations

import pytest
from factories import make_world
from feedback_world import NOW, Env

from tsm.clock import FixedClock
from tsm.services.evaluations import Evaluations
from tsm.services.records import Records
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports


@pytest.fixture
async def env(db) -> Env:
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
