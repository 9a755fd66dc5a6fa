"""The same guarantees on SQLite and PostgreSQL: one answer per person under concurrent submits, one record per
meeting under concurrent first saves, the database's own checks, and the purge."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from factories import local, make_world
from feedback_world import NOW, Env
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from scheduler.feedback_jobs import FeedbackJobs
from scheduler.ledger import Ledger
from tsm.adapters.db.engine import Database
from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt, RecordAction, TsmRecord
from tsm.clock import FixedClock
from tsm.domain.errors import InvalidInput
from tsm.services.evaluations import Evaluations
from tsm.services.records import Records
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports

RATINGS = {"usefulness": "4", "working_together": "4", "clarity": "4", "overall": "4"}


@pytest.fixture
async def env2(any_db_url):
    db = Database(any_db_url)
    world = await make_world(db)
    clock = FixedClock(NOW)
    ref = ReferenceData(db)
    yield Env(
        db,
        world,
        clock,
        Evaluations(db, clock=clock),
        Records(db, clock=clock),
        Reports(db, ref, clock=clock),
        ref,
    )
    await db.dispose()


async def test_concurrent_submits_by_one_person_leave_one_answer(env2):
    mid = await env2.meeting(["low_primary"], local(2026, 3, 10, 10))
    lead = env2.world.contact("low_primary.lead")
    results = await asyncio.gather(
        *(env2.evaluations.submit(lead, mid, {**RATINGS, "overall": str(n)}) for n in range(1, 6)),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, Exception)]
    assert ok and all(isinstance(r, InvalidInput) for r in results if isinstance(r, Exception))
    async with env2.db.reader() as s:
        evals = list(await s.exec(select(Evaluation)))
        receipts = list(await s.exec(select(EvaluationReceipt)))
    assert len(evals) == 1 and len(receipts) == 1 and evals[0].contact_id == lead.id


async def test_concurrent_first_saves_leave_one_record(env2):
    mid = await env2.meeting(["low_primary"], local(2026, 3, 10, 10))
    people = [
        env2.world.officer("ann"),
        env2.world.contact("low_primary.lead"),
        env2.world.contact("low_primary.head"),
    ]
    form = {
        "pa": "12",
        "action1_text": "Send letters",
        "action1_owner": "school",
        "action1_due": "2026-03-27",
    }
    await asyncio.gather(
        *(env2.records.save(p, mid, {**form, "notes": f"version {i}"}) for i, p in enumerate(people))
    )
    async with env2.db.reader() as s:
        records = list(await s.exec(select(TsmRecord)))
        actions = list(await s.exec(select(RecordAction)))
    assert len(records) == 1 and records[0].notes.startswith("version ") and len(actions) == 1


async def test_the_database_refuses_a_named_anonymous_answer_and_a_rating_out_of_range(env2):
    mid = await env2.meeting(["low_primary"], local(2026, 3, 10, 10))
    base = dict(
        meeting_id=mid,
        usefulness=3,
        working_together=3,
        clarity=3,
        overall=3,
        comments="",
        submitted_on=NOW.date(),
        purged=False,
    )
    with pytest.raises(IntegrityError):
        async with env2.db.transaction() as s:
            s.add(
                Evaluation(
                    id="a" * 32, anonymous=True, contact_id=env2.world.contacts["low_primary.lead"], **base
                )
            )
    with pytest.raises(IntegrityError):
        async with env2.db.transaction() as s:
            s.add(Evaluation(id="b" * 32, anonymous=False, **{**base, "overall": 6}))


async def test_purge_on_each_database(env2):
    old = await env2.meeting(["low_primary"], local(2025, 11, 10, 10), term="autumn")
    await env2.evaluations.submit(env2.world.contact("low_primary.lead"), old, {**RATINGS, "comments": "ok"})
    await env2.records.save(
        env2.world.officer("ann"),
        old,
        {"notes": "n", "action1_text": "a", "action1_owner": "la", "action1_due": "2025-12-01"},
    )
    jobs = FeedbackJobs(
        db=env2.db,
        messenger=None,
        ledger=Ledger(env2.db, "w", clock=env2.clock),
        clock=env2.clock,
        retention_days=100,
    )
    env2.clock.now = local(2026, 3, 20) + timedelta(hours=1)
    r = await jobs.purge()
    assert (r.evaluations, r.receipts, r.records, r.actions) == (1, 1, 1, 1)
    assert (await jobs.purge()).total == 0
