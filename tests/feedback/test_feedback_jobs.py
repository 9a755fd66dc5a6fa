"""The feedback sweeps with a fixed clock: the one evaluation reminder (once, across workers and restarts),
action reminders to their owners, and the retention purge."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from factories import local
from fakes.messenger import ScriptedMessenger
from sqlmodel import select

from scheduler.feedback_jobs import FeedbackJobs
from scheduler.ledger import Ledger
from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt, RecordAction, TsmRecord
from tsm.adapters.db.history import AuditLog
from tsm.messaging import Recipient, SendResult, SendStatus

RATINGS = {"usefulness": "4", "working_together": "4", "clarity": "4", "overall": "4"}


def jobs(env, messenger, worker="w1", **kw) -> FeedbackJobs:
    return FeedbackJobs(
        db=env.db,
        messenger=messenger,
        ledger=Ledger(env.db, worker, clock=env.clock),
        clock=env.clock,
        evaluations=env.evaluations,
        **kw,
    )


async def test_one_evaluation_reminder_to_those_who_have_not_answered(env):
    w = env.world
    end_day = local(2026, 3, 10, 11)
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    lead, head = w.contacts["low_primary.lead"], w.contacts["low_primary.head"]
    for c in (lead, head):  # the scheduler asked both at the meeting's end
        await env.sent("evaluation", "meeting", mid, ("contact", c), "2026-03-10T10:00Z", at=end_day)
    await env.evaluations.submit(w.contact("low_primary.lead"), mid, RATINGS)
    m = ScriptedMessenger()
    env.clock.now = end_day + timedelta(days=2, hours=23)  # not yet: 3 days after the request
    assert (await jobs(env, m).evaluation_reminders()).claimed == 0
    env.clock.now = end_day + timedelta(days=3, minutes=1)
    first, second = jobs(env, m, "w1"), jobs(env, m, "w2")
    r1 = await first.evaluation_reminders()
    r2 = await second.evaluation_reminders()  # another worker, same moment
    assert (r1.sent, r2.claimed) == (1, 0)
    [(to, msg)] = m.sent
    assert to == Recipient("contact", head) and msg.text.startswith("Reminder: How was your TSM")
    assert "eval.submit" in json.dumps(msg.card)
    env.clock.now += timedelta(days=1)
    assert (await jobs(env, m, "w3").evaluation_reminders()).claimed == 0  # a restart: still once
    assert len(m.sent) == 1


async def test_an_answer_given_after_the_claim_skips_the_reminder(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    head = w.contacts["low_primary.head"]
    await env.sent(
        "evaluation", "meeting", mid, ("contact", head), "2026-03-10T10:00Z", at=local(2026, 3, 10, 11)
    )
    env.clock.now = local(2026, 3, 14, 9)
    j = jobs(env, ScriptedMessenger())
    claims = await j.ledger.claim(await j.due_evaluation_reminders())
    await env.evaluations.submit(w.contact("low_primary.head"), mid, {**RATINGS, "anonymous": "true"})
    result = await j._deliver(claims)
    assert (result.claimed, result.sent, result.skipped) == (1, 0, 1)
    assert j.messenger.sent == []


async def test_a_throttled_reminder_is_retried_not_duplicated(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    head = w.contacts["low_primary.head"]
    await env.sent(
        "evaluation", "meeting", mid, ("contact", head), "2026-03-10T10:00Z", at=local(2026, 3, 10, 11)
    )
    env.clock.now = local(2026, 3, 14, 9)
    m = ScriptedMessenger()
    m.answers = [SendResult(SendStatus.RETRY, "429", retry_after=60)]
    j = jobs(env, m)
    assert (await j.evaluation_reminders()).retry == 1
    assert (await j.evaluation_reminders()).claimed == 0  # still held by the claim, not claimed again
    [row] = await env.outbound("evaluation_reminder")
    assert row.status == "claimed" and row.last_error == "429"


async def test_actions_remind_their_owner_once_before_the_due_date(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    await env.records.save(
        w.officer("ann"),
        mid,
        {
            "action1_text": "Send first-day calling letters",
            "action1_owner": "school",
            "action1_due": "2026-03-27",
            "action2_text": "Arrange a multi-agency meeting",
            "action2_owner": "la",
            "action2_due": "2026-03-26",
            "action3_text": "Family sessions",
            "action3_owner": "other",
            "action3_detail": "Early Help",
            "action3_due": "2026-06-20",
        },
    )
    m = ScriptedMessenger()
    env.clock.now = local(2026, 3, 18, 9)  # 9 and 8 days before: too early
    assert (await jobs(env, m).action_reminders()).claimed == 0
    env.clock.now = local(2026, 3, 20, 9)  # 7 and 6 days before
    r = await jobs(env, m).action_reminders()
    assert r.sent == 3
    assert sorted((to.kind, to.id) for to, _ in m.sent) == sorted(
        [
            ("contact", w.contacts["low_primary.lead"]),
            ("contact", w.contacts["low_primary.head"]),
            ("officer", w.officers["ann"]),
        ]
    )
    officer_msg = next(msg for to, msg in m.sent if to.kind == "officer")
    assert "Arrange a multi-agency meeting" in json.dumps(
        officer_msg.card
    ) and "record.action_done" in json.dumps(officer_msg.card)
    env.clock.now = local(2026, 3, 26, 9)
    assert (await jobs(env, m, "w2").action_reminders()).claimed == 0  # once
    # A new due date is a new reminder; an action done is not reminded; the June one waits for June.
    async with env.db.transaction() as s:
        a1 = (
            await s.exec(select(RecordAction).where(RecordAction.text == "Send first-day calling letters"))
        ).one()
        a1.due_date = a1.due_date + timedelta(days=7)
        s.add(a1)
        a2 = (await s.exec(select(RecordAction).where(RecordAction.owner == "la"))).one()
    await env.records.set_action_done(w.officer("ann"), a2.id)
    env.clock.now = local(2026, 3, 28, 9)
    r = await jobs(env, m).action_reminders()
    assert (r.sent, len(m.sent)) == (2, 5)


async def test_actions_due_after_the_next_tsm_are_left_to_that_meeting(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    await env.meeting(["low_primary"], local(2026, 4, 20, 10), status="booked", term="summer")
    await env.records.save(
        w.officer("ann"),
        mid,
        {
            "action1_text": "Before the next TSM",
            "action1_owner": "la",
            "action1_due": "2026-04-17",
            "action2_text": "After the next TSM",
            "action2_owner": "la",
            "action2_due": "2026-04-22",
        },
    )
    m = ScriptedMessenger()
    env.clock.now = local(2026, 4, 17, 9)
    assert (await jobs(env, m).action_reminders()).sent == 1
    assert "Before the next TSM" in json.dumps(m.sent[0][1].card)


async def test_retention_purge(env):
    w = env.world
    old = await env.meeting(["low_primary"], local(2025, 11, 10, 10), term="autumn")
    new = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    for mid in (old, new):
        await env.evaluations.submit(
            w.contact("low_primary.lead"), mid, {**RATINGS, "comments": "named comment"}
        )
        await env.evaluations.submit(
            w.contact("low_primary.head"),
            mid,
            {**RATINGS, "overall": "2", "anonymous": "true", "comments": "anon"},
        )
        await env.records.save(
            w.officer("ann"),
            mid,
            {
                "notes": "Trends discussed",
                "pa": "12",
                "action1_text": "Letters",
                "action1_owner": "school",
                "action1_due": "2026-03-27",
            },
        )
    env.clock.now = local(2026, 3, 20, 12)
    j = jobs(
        env, ScriptedMessenger(), retention_days=120
    )  # cut-off 20 Nov 2025: the November meeting is past it
    result = await j.purge()
    assert (result.evaluations, result.receipts, result.records, result.actions) == (2, 2, 1, 1)
    async with env.db.reader() as s:
        evals = list(await s.exec(select(Evaluation).order_by(Evaluation.meeting_id)))
        records = list(await s.exec(select(TsmRecord)))
        receipts = list(await s.exec(select(EvaluationReceipt)))
        audit = list(await s.exec(select(AuditLog).where(AuditLog.action == "feedback.purge")))
    purged = [e for e in evals if e.meeting_id == old]
    kept = [e for e in evals if e.meeting_id == new]
    # Old answers: ratings kept, anonymous, no comment, no author, no token.
    assert sorted(e.overall for e in purged) == [2, 4]
    assert all(
        e.purged and e.anonymous and e.contact_id is None and e.comments == "" and e.edit_token_hash is None
        for e in purged
    )
    assert sorted(e.comments for e in kept) == ["anon", "named comment"] and not any(e.purged for e in kept)
    assert [r.meeting_id for r in records] == [new] and {r.meeting_id for r in receipts} == {new}
    assert audit[0].detail["records"] == 1
    # The ratings still count in the autumn report; the comments are gone from it.
    from tsm.services.actors import Actor

    autumn = await env.reports.evaluations(Actor("admin"), "autumn 2025-26")
    assert autumn.summaries[-1].answers == 2 and autumn.comments == ()
    assert (await j.purge()).total == 0  # idempotent


@pytest.mark.parametrize("days", [0, -5])
async def test_a_retention_period_under_a_day_is_refused(env, days):
    with pytest.raises(ValueError):
        await jobs(env, ScriptedMessenger(), retention_days=days).purge()


async def test_the_officer_is_asked_for_the_record_once_after_the_meeting(env):
    w = env.world
    m1 = await env.meeting(["low_primary"], local(2026, 3, 19, 10))
    m2 = await env.meeting(["high_primary"], local(2026, 3, 19, 13))
    await env.meeting(["secondary"], local(2026, 3, 19, 9), status="cancelled")
    m = ScriptedMessenger()
    env.clock.now = local(2026, 3, 19, 11, 20)  # 20 minutes after the first ended: not yet
    assert (await jobs(env, m).record_prompts()).claimed == 0
    env.clock.now = local(2026, 3, 19, 11, 31)
    assert (await jobs(env, m).record_prompts()).sent == 1
    [(to, msg)] = m.sent
    assert (
        to == Recipient("officer", w.officers["ann"])
        and msg.text == "Write the TSM record: Low Primary School"
    )
    assert "record.edit" in json.dumps(msg.card)
    env.clock.now = local(2026, 3, 19, 14, 5)  # the second has ended; the school writes its record at once
    await env.records.save(w.contact("high_primary.lead"), m2, {"pa": "9"})
    env.clock.now = local(2026, 3, 19, 15)
    assert (await jobs(env, m, "w2").record_prompts()).sent == 0  # m1 once; m2 has its record
    assert [o.subject_id for o in await env.outbound("record_prompt")] == [m1]


async def test_action_reminders_an_hour_on_work_out_only_what_is_new_and_the_next_day_reaches_a_new_colleague(
    any_env,
):
    """The hourly pass of the action reminders: the day's first pass works out every open action in the window; the
    day's later passes only the actions not reminded yet for their due date (issue 15: every hour re-judged every
    open action of the country). A re-dated action is reminded within the hour; a colleague who joined the school
    after its action was reminded gets it at the next day's first pass, while the reminder is still due."""
    from tsm.adapters.db.directory import SchoolContact

    env = any_env
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    await env.records.save(
        w.officer("ann"),
        mid,
        {
            "action1_text": "Send first-day calling letters",
            "action1_owner": "school",
            "action1_due": "2026-03-27",
            "action2_text": "Arrange a multi-agency meeting",
            "action2_owner": "la",
            "action2_due": "2026-03-26",
        },
    )
    m = ScriptedMessenger()
    j = jobs(env, m)
    env.clock.now = local(2026, 3, 20, 9)
    assert (await j.action_reminders()).sent == 3  # the school's two contacts and the officer
    everything = await j.due_action_reminders()
    assert len(everything) == 3  # still due (the ledger keeps them once): the whole pass finds them again
    assert await j.due_action_reminders(only_new=True) == []  # an hour on: nothing new to work out
    async with env.db.transaction() as s:
        new_head = SchoolContact(
            school_id=w.schools["low_primary"],
            name="New Deputy",
            email="deputy@low.example",
            role="senior_leader",
        )
        s.add(new_head)
        a2 = (await s.exec(select(RecordAction).where(RecordAction.owner == "la"))).one()
        a2.due_date = a2.due_date + timedelta(days=1)  # re-dated: a new reminder
        s.add(a2)
    env.clock.now = local(2026, 3, 20, 10)
    r = await j.action_reminders()
    assert r.sent == 1 and m.sent[-1][0] == Recipient("officer", w.officers["ann"])
    assert "Arrange a multi-agency meeting" in json.dumps(m.sent[-1][1].card)
    env.clock.now = local(2026, 3, 20, 11)
    assert (await j.action_reminders()).claimed == 0  # the new colleague waits for the day's first pass
    env.clock.now = local(2026, 3, 21, 0, 30)  # the next day (UTC): the whole window again
    r = await j.action_reminders()
    assert r.sent == 1 and m.sent[-1][0] == Recipient("contact", new_head.id)
    assert "Send first-day calling letters" in json.dumps(m.sent[-1][1].card)
