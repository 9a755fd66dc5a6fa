"""Evaluations through the service: submit, a second submit updates, anonymity, who may answer and when."""

from __future__ import annotations

from datetime import date

import pytest
from factories import local
from feedback_world import NOW
from sqlmodel import select

from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt
from tsm.adapters.db.history import AuditLog
from tsm.domain.errors import InvalidInput, NotAllowed

GOOD = {
    "usefulness": "4",
    "working_together": "5",
    "clarity": "3",
    "overall": "4",
    "comments": "Clear and useful.",
}


async def rows(env) -> list[Evaluation]:
    async with env.db.reader() as s:
        return list(await s.exec(select(Evaluation)))


async def test_submit_then_a_second_submit_updates_the_same_answer(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    lead = w.contact("low_primary.lead")
    v = await env.evaluations.submit(lead, mid, GOOD)
    assert (
        v.saved_now
        and not v.updated
        and v.ratings == {"usefulness": 4, "working_together": 5, "clarity": 3, "overall": 4}
    )
    v2 = await env.evaluations.submit(
        lead, mid, {**GOOD, "overall": 2, "comments": "On reflection, too long."}
    )
    assert v2.updated
    stored = await rows(env)
    assert len(stored) == 1
    assert (stored[0].overall, stored[0].comments, stored[0].contact_id) == (
        2,
        "On reflection, too long.",
        lead.id,
    )
    # The officer sees it with the author's name.
    answers = await env.evaluations.answers(w.officer("ann"), mid)
    assert [(a.author, a.ratings.overall) for a in answers] == [
        (lead.name or "Lead of Low Primary School", 2)
    ]
    # Opening the card again shows the saved answer.
    again = await env.evaluations.card_view(mid, lead.id)
    assert again.answered and again.ratings["overall"] == 2 and again.comments == "On reflection, too long."


async def test_anonymous_answer_stores_no_author_and_is_not_shown_to_the_officer(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    head = w.contact("low_primary.head")
    v = await env.evaluations.submit(head, mid, {**GOOD, "anonymous": "true", "comments": "Felt rushed."})
    assert v.anonymous and v.edit_token
    [e] = await rows(env)
    assert (
        e.anonymous and e.contact_id is None and e.edit_token_hash and v.edit_token not in e.edit_token_hash
    )
    async with env.db.reader() as s:
        audits = list(await s.exec(select(AuditLog).where(AuditLog.action.like("evaluation.%"))))
    # The audit says who answered which meeting, never which answer (no evaluation id anywhere).
    assert [(a.entity, a.entity_id) for a in audits] == [("meeting", str(mid))]
    assert all(e.id not in str(a.detail) for a in audits)
    answers = await env.evaluations.answers(w.officer("ann"), mid)
    assert [(a.author, a.comments) for a in answers] == [(None, "Felt rushed.")]
    report = await env.reports.evaluations(w.officer("ann"), "current")
    assert [(c.author, c.text) for c in report.comments] == [("Anonymous", "Felt rushed.")]
    assert head.id not in {r.contact_id for r in await rows(env)}


async def test_an_anonymous_answer_is_updated_with_its_edit_token_and_only_with_it(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    head = w.contact("low_primary.head")
    v = await env.evaluations.submit(head, mid, {**GOOD, "anonymous": "true"})
    # Without the token (e.g. the first card pressed again): refused, nothing added.
    with pytest.raises(InvalidInput, match="already answered this evaluation anonymously"):
        await env.evaluations.submit(head, mid, {**GOOD, "anonymous": "true"})
    assert len(await rows(env)) == 1
    # With it: updated, a new token is issued, still one answer.
    v2 = await env.evaluations.submit(
        head, mid, {**GOOD, "overall": "1", "anonymous": "true"}, edit_token=v.edit_token
    )
    assert v2.updated and v2.edit_token and v2.edit_token != v.edit_token
    [e] = await rows(env)
    assert e.overall == 1 and e.contact_id is None
    # Someone else holding the token (it leaked) cannot use it: they have no receipt for this answer.
    with pytest.raises(NotAllowed):
        await env.evaluations.submit(w.contact("low_primary.lead"), mid, GOOD, edit_token=v2.edit_token)
    assert len(await rows(env)) == 1


async def test_switching_a_named_answer_to_anonymous_drops_the_author(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    lead = w.contact("low_primary.lead")
    await env.evaluations.submit(lead, mid, GOOD)
    v = await env.evaluations.submit(lead, mid, {**GOOD, "anonymous": "true"})
    [e] = await rows(env)
    assert v.updated and e.anonymous and e.contact_id is None


async def test_one_receipt_per_person_and_the_unanswered_are_known(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    lead, head = w.contact("low_primary.lead"), w.contact("low_primary.head")
    await env.evaluations.submit(lead, mid, {**GOOD, "anonymous": "true"})
    assert await env.evaluations.unanswered(mid, [lead.id, head.id]) == [head.id]
    async with env.db.reader() as s:
        receipts = list(await s.exec(select(EvaluationReceipt)))
    # The meeting's day, not the day of answering (which could link an anonymous answer to its receipt).
    assert [(r.meeting_id, r.contact_id, r.answered_on) for r in receipts] == [
        (mid, lead.id, date(2026, 3, 10))
    ]
    async with env.db.reader() as s:
        assert [e.submitted_on for e in await s.exec(select(Evaluation))] == [date(2026, 3, 10)]
    assert NOW.date() != date(2026, 3, 10)


@pytest.mark.parametrize(
    "bad, message",
    [
        ({**GOOD, "usefulness": "6"}, "from 1 to 5"),
        ({**GOOD, "clarity": ""}, "Please rate"),
        ({**GOOD, "overall": True}, "from 1 to 5"),
        ({**GOOD, "working_together": "four"}, "from 1 to 5"),
        ({**GOOD, "comments": "x" * 2001}, "under 2000"),
        ({**GOOD, "comments": "We discussed A123456789012 at length"}, "looks like a pupil's UPN"),
        ({**GOOD, "comments": "Child born 01/02/2016 needs support"}, "date of birth"),
    ],
)
async def test_bad_answers_are_refused_and_change_nothing(env, bad, message):
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    with pytest.raises(InvalidInput, match=message):
        await env.evaluations.submit(env.world.contact("low_primary.lead"), mid, bad)
    assert await rows(env) == []


async def test_who_may_answer_and_when(env):
    w = env.world
    held = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    future = await env.meeting(["high_primary"], local(2026, 3, 25, 10), status="booked")
    cancelled = await env.meeting(["secondary"], local(2026, 3, 3, 10), status="cancelled")
    with pytest.raises(NotAllowed, match="another school"):
        await env.evaluations.submit(w.contact("high_primary.lead"), held, GOOD)
    with pytest.raises(NotAllowed):
        await env.evaluations.submit(w.officer("ann"), held, GOOD)
    with pytest.raises(InvalidInput, match="not happened yet"):
        await env.evaluations.submit(w.contact("high_primary.lead"), future, GOOD)
    with pytest.raises(InvalidInput, match="cancelled"):
        await env.evaluations.submit(w.contact("secondary.lead"), cancelled, GOOD)
    # Bob is not Low Primary's officer: he does not see its answers.
    with pytest.raises(NotAllowed):
        await env.evaluations.answers(w.officer("bob"), held)
    assert await rows(env) == []
