"""The scheduler end to end: the service (APScheduler sweeps), two workers and restarts on SQLite and PostgreSQL,
leases taken over, the senior-leader path from an Outlook decline, Teams' meetingEnd, and the worker command."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import types
from collections import Counter
from datetime import timedelta
from urllib.parse import quote

import pytest
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from schedkit import Env
from sqlmodel import select

from scheduler.jobs import JobSettings, _end_gate
from scheduler.ledger import Due, Ledger
from scheduler.meeting_events import teams_meeting_ended, thread_id
from scheduler.service import SchedulerService, SweepIntervals
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.engine import Database
from tsm.adapters.db.meetings import Meeting, MeetingLeaderUnavailable
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.domain.errors import TsmError
from tsm.messaging import Recipient
from tsm.ports import CalendarChange
from tsm.services.calendar_changes import CalendarChanges
from tsm.settings import Settings
from tsm.worker import run_worker

THREAD = "19:meeting_NjA5ZTdiYzUtYWJjZC00ZjE2LTk3ZDItZmQ3YjQxOTI4ZGU3@thread.v2"
JOIN_URL = (
    f"https://teams.microsoft.com/l/meetup-join/{quote(THREAD, safe='').replace('%3A', '%3a')}/0"
    "?context=%7b%22Tid%22%3a%22t-1%22%2c%22Oid%22%3a%22o-1%22%7d"
)


@pytest.fixture
async def env(db):
    clock = FixedClock(local(2026, 1, 5, 8))
    e = Env(db, clock, ScriptedMessenger())
    e.world = await make_world(db)
    return e


def texts_to(messenger: ScriptedMessenger, recipient: Recipient) -> list[str]:
    return [m.text for r, m in messenger.sent if r == recipient]


# ---------------------------------------------------------------- claims and leases


async def test_a_claim_taken_over_after_its_lease_is_sent_by_the_new_holder_only(any_db_url):
    """Worker A claimed, stalled past its lease; B took the claim over. A, waking up, must not send it too."""
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        w = await make_world(db)
        a, b = (
            Env(db, clock, ScriptedMessenger(), "worker-a"),
            Env(db, clock, ScriptedMessenger(), "worker-b"),
        )
        await a.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
        clock.now = local(2026, 1, 27, 10, 1).astimezone(clock.now.tzinfo)
        claims = await a.ledger.claim(await a.jobs.due_reminders())
        assert len(claims) == 2
        clock.now += timedelta(minutes=6)  # A stalled: its lease ran out
        taken = await b.ledger.reclaim_expired()
        assert {c.id for c in taken} == {c.id for c in claims} and all(c.attempts == 2 for c in taken)
        late = await a.jobs._deliver(claims)  # A wakes up with its old claims
        assert (late.lost, late.sent) == (2, 0) and a.messenger.sent == []
        assert not await a.ledger.finish(claims[0], "sent")  # nor can it record an outcome on B's claim
        done = await b.jobs._deliver(taken)
        assert done.sent == 2 and len(b.messenger.sent) == 2
        assert await b.ledger.counts() == {"sent": 2}
    finally:
        await db.dispose()


async def test_a_workers_own_retry_sweep_taking_a_claim_over_does_not_double_send(env):
    """Same worker id, two attempts: only the latest attempt may send (the older one is stale)."""
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 1, 27, 10, 1).astimezone(env.clock.now.tzinfo)
    first = await env.ledger.claim(await env.jobs.due_reminders())
    env.clock.now += timedelta(minutes=6)
    again = await env.ledger.reclaim_expired()
    assert (await env.jobs._deliver(first)).lost == 2
    assert (await env.jobs._deliver(again)).sent == 2
    assert len(env.messenger.sent) == 2


async def test_once_per_period_across_workers(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        ledgers = [Ledger(db, f"w{i}", clock=clock) for i in range(5)]
        won = await asyncio.gather(*(lg.once("graph_subscriptions", "100") for lg in ledgers))
        assert sorted(won) == [False] * 4 + [True]
        assert await ledgers[0].once("graph_subscriptions", "101")
        assert await ledgers[1].once("graph_delta", "100")
        assert await ledgers[0].counts() == {"sent": 3}
    finally:
        await db.dispose()


async def test_purge_drops_only_old_finished_rows(env):
    def due(i: int) -> Due:
        return Due("agenda", "officer", 1, Recipient("officer", 1), f"2025-01-{i:02d}")

    old = await env.ledger.claim([due(1), due(2)])
    await env.ledger.finish(old[0], "sent")  # old[1] stays claimed: a send in flight is never purged
    env.clock.now += timedelta(days=181)
    recent = await env.ledger.claim([due(3)])
    await env.ledger.finish(recent[0], "sent")
    assert await env.ledger.purge() == 1
    assert await env.ledger.counts() == {"claimed": 1, "sent": 1}


async def test_daily_housekeeping_also_drops_chat_offers_expired_over_30_days_ago(sqlite_url, tmp_path):
    from tsm.adapters.db.offers import ChatOffer

    clock = FixedClock(local(2026, 1, 5, 8))
    app = service_app(sqlite_url, tmp_path, clock)
    try:
        w = await make_world(app.db)
        now = clock.now
        async with app.db.transaction() as s:
            for oid, expired_days_ago in (("a" * 32, 31), ("b" * 32, 29), ("c" * 32, -1)):
                s.add(
                    ChatOffer(
                        id=oid,
                        kind="book",
                        school_ids=[w.schools["low_primary"]],
                        term_id=w.terms["spring"],
                        mode="teams",
                        meeting_type="tsm",
                        duration_minutes=60,
                        timezone="Europe/London",
                        slots=[],
                        created_at=now - timedelta(days=40),
                        expires_at=now - timedelta(days=expired_days_ago),
                    )
                )
        service = SchedulerService(app, ScriptedMessenger(), worker_id="a")
        other = SchedulerService(app, ScriptedMessenger(), worker_id="b")
        assert "tsm.ledger_purge" in service.sweeps()
        assert await service.ledger_purge() == {
            "ledger": 0,
            "offers": 1,
            "files": 0,
            "invitations": 0,
            "signin": 0,
            "history": 0,
        }
        assert await other.ledger_purge() is None  # once a day across workers
        async with app.db.reader() as s:
            assert sorted(o.id[0] for o in await s.exec(select(ChatOffer))) == ["b", "c"]
        clock.now += timedelta(days=2)  # a later day: the offer that expired 29 days ago is now over 30 days
        assert await other.ledger_purge() == {
            "ledger": 0,
            "offers": 1,
            "files": 0,
            "invitations": 0,
            "signin": 0,
            "history": 0,
        }
        async with app.db.reader() as s:
            assert [o.id[0] for o in await s.exec(select(ChatOffer))] == ["c"]
    finally:
        await app.close()


async def test_a_move_is_confirmed_to_the_colleague_not_to_the_person_who_moved_it(env):
    w = env.world
    lead, head = (Recipient("contact", w.contacts[k]) for k in ("low_primary.lead", "low_primary.head"))
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    first = await env.jobs.events()
    # the confirmation to the head (the lead booked it and saw it in the chat), and the officer told
    assert first.by_kind == {"ev.confirm": 1, "ev.school_booked": 1}
    env.clock.now += timedelta(hours=2)
    await env.booking.move(w.contact("low_primary.head"), r.meeting.id, local(2026, 2, 10, 10))
    res = await env.jobs.events()
    assert res.by_kind == {"ev.confirm": 1, "ev.moved": 1}
    confirmed = [
        rcp for rcp, m in env.messenger.sent if "TSM" in m.text and m.card and "has moved" in str(m.card)
    ]
    assert confirmed == [lead]  # the colleague, not the head who moved it
    assert (await env.jobs.reminders()).claimed == 0  # no second confirmation from the reminder sweep


# ---------------------------------------------------------------- the service: two workers, a restart


def service_app(url: str, tmp_path, clock):
    settings = Settings(database_url=url, invitations_dir=tmp_path / "invitations", calendar_backend="local")
    return build_app(settings, clock=clock)


async def test_two_scheduler_services_at_once_then_a_restart_send_each_message_once(any_db_url, tmp_path):
    clock = FixedClock(local(2026, 1, 5, 8))
    app_a, app_b = service_app(any_db_url, tmp_path, clock), service_app(any_db_url, tmp_path, clock)
    try:
        w = await make_world(app_a.db)
        clock.now = local(2026, 1, 26, 9).astimezone(clock.now.tzinfo)
        for key, at in (
            ("low_primary", local(2026, 2, 3, 10)),
            ("secondary", local(2026, 2, 3, 13)),
            ("bob_school", local(2026, 2, 3, 14)),
        ):
            officer = "bob" if key == "bob_school" else "ann"
            await app_a.booking.book(w.officer(officer), w.schools[key], at)
        # The next day: the proposals (the officer booked) and the 7-day reminders are all due.
        clock.now = local(2026, 1, 27, 14, 10).astimezone(clock.now.tzinfo)
        fast = SweepIntervals(reminders=1, meetings=1, nudges=1, retries=1, calendar_outbox=1)
        ma, mb = ScriptedMessenger(), ScriptedMessenger()
        a = SchedulerService(app_a, ma, worker_id="svc-a", intervals=fast)
        b = SchedulerService(app_b, mb, worker_id="svc-b", intervals=fast)
        await asyncio.gather(a.start(), b.start())
        assert {j.id for j in a.scheduler.get_jobs()} == {
            "tsm.events",
            "tsm.reminders",
            "tsm.meetings",
            "tsm.nudges",
            "tsm.retries",
            "tsm.calendar_outbox",
            "tsm.ledger_purge",
            "tsm.feedback",
        }
        await asyncio.sleep(2.5)  # both run every sweep at once, then twice more each
        await asyncio.gather(a.shutdown(), b.shutdown())
        assert not a.running and not b.running
        sends = Counter((r, m.text) for r, m in ma.sent + mb.sent)
        assert sends and max(sends.values()) == 1, [k for k, n in sends.items() if n > 1]
        week = [t for (_, t) in sends if t.startswith("TSM in a week")]
        proposed = [t for (_, t) in sends if " Officer booked your TSM" in t]
        # 3 meetings x 2 contacts each: the officer booked, so each gets the proposal, and no second "TSM booked"
        assert (
            len(week) == 6
            and len(proposed) == 6
            and not [t for (_, t) in sends if t.startswith("TSM booked")]
        )
        assert any(r.kind == "officer" for r, _ in sends)  # Monday nudges: weekly unbooked lists

        # A restart (a new process on the same database) sends nothing again; the next day's work goes once.
        app_c = service_app(any_db_url, tmp_path, clock)
        mc = ScriptedMessenger()
        c = SchedulerService(app_c, mc, worker_id="svc-c", intervals=fast)
        await c.start()
        await asyncio.sleep(1.5)
        await c.shutdown()
        assert mc.sent == []
        clock.now = local(2026, 2, 2, 14, 5).astimezone(clock.now.tzinfo)
        await c.start()
        await asyncio.sleep(1.5)
        await c.shutdown()
        tomorrow = [m.text for _, m in mc.sent if m.text.startswith("TSM tomorrow")]
        assert len(tomorrow) == 6 and len({(r, m.text) for r, m in mc.sent}) == len(mc.sent)
        await app_c.close()
    finally:
        await app_a.close()
        await app_b.close()


async def test_shutdown_lets_a_running_sweep_finish(tmp_path, sqlite_url):
    clock = FixedClock(local(2026, 1, 5, 8))
    app = service_app(sqlite_url, tmp_path, clock)
    try:
        w = await make_world(app.db)
        await app.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
        release = asyncio.Event()

        m = ScriptedMessenger(gate=release)
        svc = SchedulerService(app, m, worker_id="slow", intervals=SweepIntervals(events=3600))
        await svc.start()
        await asyncio.sleep(0.3)  # the event sweep is now waiting on the messenger
        stopping = asyncio.create_task(svc.shutdown(grace=5))
        await asyncio.sleep(0.2)
        assert not stopping.done()  # waits for the running sweep
        release.set()
        await stopping
        assert len([1 for _, msg in m.sent if msg.text.startswith("Ann Officer booked your TSM")]) == 2
        assert (await svc.ledger.counts()).get("claimed", 0) == 0
    finally:
        await app.close()


async def test_graph_sweeps_are_scheduled_and_renewals_run_once_an_hour_across_workers(tmp_path, sqlite_url):
    clock = FixedClock(local(2026, 1, 5, 8))
    calls = Counter()

    class Watcher:
        async def renew_subscriptions(self):
            calls["renew"] += 1
            return {"created": 1}

        async def sweep_delta(self, officer_ids=None):
            calls["delta"] += 1
            return {"officers": 1}

    def make(worker: str, url_set: bool) -> SchedulerService:
        settings = Settings(
            database_url=sqlite_url,
            invitations_dir=tmp_path,
            calendar_backend="local",
            graph_notification_url="https://bot.example/api/graph/notifications" if url_set else "",
            graph_client_state="s" * 40,
        )
        return SchedulerService(
            build_app(settings, clock=clock), ScriptedMessenger(), worker_id=worker, watcher=Watcher()
        )

    a, b = make("a", True), make("b", True)
    try:
        assert {"tsm.graph_subscriptions", "tsm.graph_delta"} <= set(a.sweeps())
        assert "tsm.graph_subscriptions" not in make("c", False).sweeps()  # no public URL: delta only
        await asyncio.gather(
            a.graph_subscriptions(), b.graph_subscriptions(), a.graph_delta(), b.graph_delta()
        )
        assert calls == {"renew": 1, "delta": 1}
        clock.now += timedelta(minutes=16)
        await asyncio.gather(
            a.graph_subscriptions(), b.graph_subscriptions(), a.graph_delta(), b.graph_delta()
        )
        assert calls == {"renew": 1, "delta": 2}
        clock.now += timedelta(hours=1)
        await b.graph_subscriptions()
        assert calls["renew"] == 2
    finally:
        await a.app.close()
        await b.app.close()


# ---------------------------------------------------------------- senior leader unavailable


async def test_a_senior_leader_declining_in_outlook_offers_the_school_other_times_and_nudges_the_officer(env):
    w = env.world
    lead, head = (Recipient("contact", w.contacts[k]) for k in ("low_primary.lead", "low_primary.head"))
    ann = Recipient("officer", w.officers["ann"])
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    async with env.db.reader() as s:
        meeting = await s.get(Meeting, r.meeting.id)
    assert meeting.calendar_event_id  # the local calendar made the event
    changes = CalendarChanges(env.db, env.booking, clock=env.clock)
    assert (await env.jobs.leader_unavailable()).claimed == 0  # nobody declined yet

    env.clock.now = local(2026, 1, 12, 9).astimezone(env.clock.now.tzinfo)
    await changes.apply(
        CalendarChange(
            w.officers["ann"],
            meeting.calendar_event_id,
            "updated",
            attendee_responses={"head@100001.sch.example": "declined"},
        )
    )
    res = await env.jobs.leader_unavailable()
    assert res.by_kind == {"leader_rebook": 2, "leader_unavailable_officer": 1}
    card = next(m.card for rcp, m in env.messenger.sent if rcp == lead)
    [move] = [a for a in card["actions"] if a["verb"] == "meeting.move"]  # one button; the times are a choice
    assert move["data"]["meetingId"] == r.meeting.id
    starts = [c["value"] for b in card["body"] if b.get("id") == "start" for c in b["choices"]]
    assert starts
    assert all("2026-01-06" <= s[:10] <= "2026-03-27" for s in starts)  # the same (spring) term
    assert meeting.start.isoformat() not in starts
    assert texts_to(env.messenger, head) and "can't attend" in texts_to(env.messenger, ann)[0]

    env.clock.now += timedelta(hours=47)
    assert (await env.jobs.leader_unavailable()).claimed == 0  # told once; not overdue yet
    env.clock.now += timedelta(hours=2)
    assert (await env.jobs.leader_unavailable()).by_kind == {"leader_rebook_overdue": 1}
    assert "has not picked a new time" in texts_to(env.messenger, ann)[-1]
    env.clock.now += timedelta(days=1)
    assert (await env.jobs.leader_unavailable()).claimed == 0  # nudged once

    # The school picks one of the times: the meeting moves, the decline no longer holds, nothing more is sent.
    await env.booking.move(w.contact("low_primary.lead"), r.meeting.id, local(2026, 2, 10, 10))
    assert (await env.jobs.leader_unavailable()).claimed == 0


async def _school_says_leader_unavailable(env, meeting_id: int) -> None:
    """What the bot records when the school says so (it answers in chat with other times and tells the officer)."""
    async with env.db.transaction() as s:
        s.add(
            MeetingLeaderUnavailable(meeting_id=meeting_id, reported_at=env.clock(), reported_by="contact:1")
        )


async def test_the_school_saying_so_in_the_bot_is_not_repeated_and_the_officer_is_nudged_if_nothing_is_chosen(
    env,
):
    w = env.world
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await _school_says_leader_unavailable(env, r.meeting.id)
    assert (await env.jobs.leader_unavailable()).claimed == 0  # the bot already answered and told the officer
    env.clock.now += timedelta(hours=48)
    res = await env.jobs.leader_unavailable()
    assert res.by_kind == {"leader_rebook_overdue": 1}
    assert env.messenger.sent[-1][0] == Recipient("officer", w.officers["ann"])
    assert (await env.jobs.leader_unavailable()).claimed == 0


async def test_every_sweep_runs_its_sql_on_both_databases(any_db_url):
    """Each sweep called directly (the service logs a failing sweep and carries on, so it would hide one)."""
    db = Database(any_db_url)
    try:
        env = Env(db, FixedClock(local(2026, 1, 5, 8)), ScriptedMessenger())
        w = await make_world(db)
        r = await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
        async with db.reader() as s:
            event_id = (await s.get(Meeting, r.meeting.id)).calendar_event_id
        await CalendarChanges(db, env.booking, clock=env.clock).apply(
            CalendarChange(
                w.officers["ann"],
                event_id,
                "updated",
                attendee_responses={"head@100001.sch.example": "declined"},
            )
        )
        env.clock.now = local(2026, 1, 27, 16, 5).astimezone(env.clock.now.tzinfo)
        sent = Counter()
        for sweep in (
            env.jobs.reminders,
            env.jobs.leader_unavailable,
            env.jobs.meeting_ends,
            env.jobs.officer_agendas,
            env.jobs.unbooked_weekly,
            env.jobs.term_start_nudges,
            env.jobs.chasers,
            env.jobs.retry_expired,
        ):
            sent.update((await sweep()).by_kind)
        assert (
            sent["remind_7d"] == 2 and sent["leader_rebook"] == 2 and sent["leader_unavailable_officer"] == 1
        )
        # The first run is three weeks into term: the start-of-term nudge has lost its moment (dropped, never sent
        # late); the chaser says the term's TSM is not booked yet.
        assert sent["unbooked_weekly"] == 2 and sent["chaser"] > 0 and sent["term_start"] == 0
        env.clock.now += timedelta(hours=49)
        assert (await env.jobs.leader_unavailable()).by_kind == {"leader_rebook_overdue": 1}
        env.clock.now = local(2026, 2, 3, 11, 31).astimezone(env.clock.now.tzinfo)
        assert (await env.jobs.meeting_ends()).by_kind == {"next_tsm_offer": 3, "evaluation": 2}
    finally:
        await db.dispose()


async def test_rebooking_chosen_in_time_means_no_officer_nudge(env):
    w = env.world
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await _school_says_leader_unavailable(env, r.meeting.id)
    env.clock.now += timedelta(hours=3)
    await env.booking.move(w.contact("low_primary.lead"), r.meeting.id, local(2026, 2, 10, 10))
    env.clock.now += timedelta(days=3)
    assert (await env.jobs.leader_unavailable()).claimed == 0
    assert env.messenger.sent == []


async def test_one_of_two_senior_leaders_declining_needs_no_rebooking(env):
    w = env.world
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.booking.add_attendee(
        w.officer("ann"),
        r.meeting.id,
        name="Deputy Head",
        email="deputy@100001.sch.example",
        role="senior_leader",
    )
    async with env.db.reader() as s:
        event_id = (await s.get(Meeting, r.meeting.id)).calendar_event_id
    changes = CalendarChanges(env.db, env.booking, clock=env.clock)
    await changes.apply(
        CalendarChange(
            w.officers["ann"], event_id, "updated", attendee_responses={"head@100001.sch.example": "declined"}
        )
    )
    assert (await env.jobs.leader_unavailable()).claimed == 0
    await changes.apply(
        CalendarChange(
            w.officers["ann"],
            event_id,
            "updated",
            attendee_responses={"deputy@100001.sch.example": "declined"},
        )
    )
    assert (await env.jobs.leader_unavailable()).by_kind["leader_rebook"] == 2


# ---------------------------------------------------------------- end of meeting


def test_thread_id_from_a_join_url_and_from_a_teams_meeting_id():
    assert thread_id(JOIN_URL) == THREAD
    encoded = base64.b64encode(f"0#{THREAD}#0".encode()).decode().rstrip("=")
    assert thread_id(teams_meeting_id=encoded) == THREAD
    assert thread_id(teams_meeting_id=THREAD) == THREAD
    assert thread_id("https://teams.microsoft.com/meet/2345?p=abc") is None
    assert thread_id(teams_meeting_id="not base64 at all!") is None


async def _teams_meeting(env, at):
    w = env.world
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], at)
    async with env.db.transaction() as s:  # what the Graph calendar stores for a Teams meeting
        m = await s.get(Meeting, r.meeting.id)
        m.join_url = JOIN_URL
        s.add(m)
    return r.meeting.id


async def test_meeting_end_event_by_teams_meeting_id_then_the_timer_makes_one_offer(env):
    mid = await _teams_meeting(env, local(2026, 2, 3, 10))
    app = types.SimpleNamespace()  # not needed when the caller passes its Jobs
    env.clock.now = local(2026, 2, 3, 10, 58).astimezone(env.clock.now.tzinfo)
    meeting_id = base64.b64encode(f"0#{THREAD}#0".encode()).decode()
    out = await teams_meeting_ended(app, env.messenger, teams_meeting_id=meeting_id, jobs=env.jobs)
    assert (out.meeting_id, out.status) == (mid, "ended") and out.result.sent == 5
    again = await teams_meeting_ended(app, env.messenger, join_url=JOIN_URL, jobs=env.restart("w2").jobs)
    assert (again.meeting_id, again.status) == (mid, "already_handled")
    env.clock.now = local(2026, 2, 3, 11, 45).astimezone(env.clock.now.tzinfo)
    assert (await env.jobs.meeting_ends()).claimed == 0
    assert sum(1 for _, m in env.messenger.sent if m.text.startswith("Next term's TSM")) == 3
    evaluations = [(r, m) for r, m in env.messenger.sent if m.text.startswith("How was your TSM")]
    assert len(evaluations) == 2 and {r.kind for r, _ in evaluations} == {"contact"}
    actions = evaluations[0][1].card["actions"]
    assert [a["verb"] for a in actions] == ["eval.submit"] and actions[0]["data"]["meetingId"] == mid


async def test_a_feedback_claim_left_by_a_dead_worker_is_composed_and_sent_by_the_retry_sweep(env):
    w = env.world
    r = await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 2, 6, 12).astimezone(env.clock.now.tzinfo)
    await env.booking.mark_held(w.officer("ann"), r.meeting.id)
    lead = Recipient("contact", w.contacts["low_primary.lead"])
    assert await env.restart("dead").ledger.claim(
        [Due("evaluation_reminder", "meeting", r.meeting.id, lead, "2026-02-03T10:00Z")]
    )
    env.clock.now += timedelta(minutes=6)
    res = await env.jobs.retry_expired()
    assert res.by_kind == {"evaluation_reminder": 1}
    assert env.messenger.sent[0][1].text.startswith("Reminder: How was your TSM")


async def test_the_end_event_finds_its_meeting_on_both_databases(any_db_url):
    db = Database(any_db_url)
    try:
        env = Env(db, FixedClock(local(2026, 1, 5, 8)), ScriptedMessenger())
        env.world = await make_world(db)
        mid = await _teams_meeting(env, local(2026, 2, 3, 10))
        env.clock.now = local(2026, 2, 3, 11, 2).astimezone(env.clock.now.tzinfo)
        by_id = base64.b64encode(f"0#{THREAD}#0".encode()).decode()
        outcomes = await asyncio.gather(
            teams_meeting_ended(None, env.messenger, teams_meeting_id=by_id, jobs=env.jobs),
            teams_meeting_ended(None, env.messenger, join_url=JOIN_URL, jobs=env.restart("w2").jobs),
        )
        assert sorted(o.status for o in outcomes) == ["already_handled", "ended"]
        assert {o.meeting_id for o in outcomes} == {mid}
        assert sum(1 for _, m in env.messenger.sent if m.text.startswith("Next term's TSM")) == 3
    finally:
        await db.dispose()


async def test_an_end_event_before_the_meeting_or_for_another_meeting_changes_nothing(env):
    mid = await _teams_meeting(env, local(2026, 2, 3, 10))
    env.clock.now = local(2026, 2, 2, 16).astimezone(
        env.clock.now.tzinfo
    )  # someone tried the link the day before
    out = await teams_meeting_ended(None, env.messenger, join_url=JOIN_URL, jobs=env.jobs)
    assert out.status == "unknown_meeting" and env.messenger.sent == []
    assert (await env.jobs.on_meeting_end(mid, source="teams")).claimed == 0  # not started: not ended either
    other = JOIN_URL.replace("NjA5", "OTk5")
    env.clock.now = local(2026, 2, 3, 11).astimezone(env.clock.now.tzinfo)
    assert (
        await teams_meeting_ended(None, env.messenger, join_url=other, jobs=env.jobs)
    ).status == "unknown_meeting"
    assert (await teams_meeting_ended(None, env.messenger, jobs=env.jobs)).status == "no_identifier"
    assert env.messenger.sent == []
    env.clock.now = local(2026, 2, 3, 11, 31).astimezone(
        env.clock.now.tzinfo
    )  # the timer still ends it, once
    assert (await env.jobs.meeting_ends()).sent == 5
    assert (await env.booking.get_meeting(env.world.officer("ann"), mid)).status == "held"


async def test_a_cancelled_meeting_has_no_end(env):
    mid = await _teams_meeting(env, local(2026, 2, 3, 10))
    await env.booking.cancel(env.world.contact("low_primary.lead"), mid, "Ofsted visit")
    env.clock.now = local(2026, 2, 3, 11, 40).astimezone(env.clock.now.tzinfo)
    assert (await env.jobs.on_meeting_end(mid, source="teams")).claimed == 0
    assert (await env.jobs.meeting_ends()).claimed == 0
    assert env.messenger.sent == []


async def test_a_meeting_the_officer_marked_held_early_still_gets_its_offer_once(env):
    w = env.world
    r = await env.booking.book(
        w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10), mode="on_site"
    )
    env.clock.now = local(2026, 2, 3, 11, 5).astimezone(env.clock.now.tzinfo)
    await env.booking.mark_held(w.officer("ann"), r.meeting.id)
    env.clock.now = local(2026, 2, 3, 11, 31).astimezone(env.clock.now.tzinfo)
    assert (await env.jobs.meeting_ends()).sent == 5
    assert (await env.jobs.meeting_ends()).claimed == 0


async def test_a_worker_dying_half_way_through_a_meeting_end_is_finished_by_another(env):
    w = env.world
    r = await env.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 2, 3, 11, 31).astimezone(env.clock.now.tzinfo)
    crashed = env.restart("crashed")
    async with env.db.reader() as s:
        m = await s.get(Meeting, r.meeting.id)
    assert await crashed.ledger.claim([_end_gate(m.id, m.officer_id, m.start)])  # then the process died
    # ... after claiming one of the messages too
    await crashed.ledger.claim(
        [
            Due(
                "evaluation",
                "meeting",
                m.id,
                Recipient("contact", w.contacts["low_primary.lead"]),
                "2026-02-03T10:00Z",
            )
        ]
    )
    other = env.restart("w2")
    assert (await other.jobs.meeting_ends()).claimed == 0  # claimed, lease running
    env.clock.now += timedelta(minutes=6)
    res = await other.jobs.retry_expired()
    assert res.sent == 5 and (await env.booking.get_meeting(w.officer("ann"), m.id)).status == "held"
    assert (await other.jobs.retry_expired()).claimed == 0
    assert (await other.jobs.meeting_ends()).claimed == 0
    async with env.db.reader() as s:
        rows = list(await s.exec(select(Outbound.kind, Outbound.status).where(Outbound.subject_id == m.id)))
    assert Counter(rows) == {
        ("meeting_end", "sent"): 1,
        ("next_tsm_offer", "sent"): 3,
        ("evaluation", "sent"): 2,
    }


# ---------------------------------------------------------------- the worker process


async def test_the_worker_refuses_an_unmigrated_database(tmp_path):
    with pytest.raises(TsmError, match="tsm db upgrade"):
        await run_worker(
            Settings(database_url=f"sqlite:///{tmp_path}/empty.db"), messenger=ScriptedMessenger()
        )


async def test_the_worker_says_plainly_when_the_database_cannot_be_opened(tmp_path):
    with pytest.raises(TsmError, match="Cannot open the database") as err:
        await run_worker(
            Settings(database_url=f"sqlite:///{tmp_path}/no/such/dir/tsm.db"), messenger=ScriptedMessenger()
        )
    assert str(tmp_path) not in str(err.value)  # a URL may hold a password: it is not repeated


async def test_the_worker_runs_the_sweeps_and_stops_cleanly_on_sigterm(sqlite_url, tmp_path):
    db = Database(sqlite_url)
    w = await make_world(db)
    clock = FixedClock(local(2026, 1, 5, 8))
    app = service_app(sqlite_url, tmp_path, clock)
    await app.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await app.close()
    await db.dispose()
    messenger = ScriptedMessenger()
    settings = Settings(database_url=sqlite_url, invitations_dir=tmp_path / "inv")
    worker = asyncio.create_task(run_worker(settings, messenger=messenger, worker_id="proc", clock=clock))

    def told():  # the local calendar's invitations (by email, to everyone invited) aside
        return [m for _, m in messenger.sent if m.invitation is None]

    for _ in range(50):
        await asyncio.sleep(0.1)
        if len(told()) >= 2:
            break
    os.kill(os.getpid(), signal.SIGTERM)  # the handler sets the stop event; the test process lives on
    await asyncio.wait_for(worker, timeout=10)
    # The officer booked it: the school's two contacts get the proposal (accept it or pick another time), once,
    # and no second "TSM booked" for the same change.
    assert [m.text.split(":")[0] for m in told()] == ["Ann Officer booked your TSM"] * 2
    async with Database(sqlite_url).reader() as s:
        assert list(await s.exec(select(Outbound.status).where(Outbound.status == "claimed"))) == []


async def test_job_settings_come_from_the_environment():
    s = JobSettings.from_settings(
        Settings(
            scheduler_chaser_after_weeks=5,
            scheduler_leader_rebook_hours=24,
            scheduler_meeting_end_margin_minutes=10,
            scheduler_agenda_hour=15,
        )
    )
    assert (s.chaser_after_weeks, s.leader_rebook_within, s.meeting_end_margin, s.agenda_hour) == (
        5,
        timedelta(hours=24),
        timedelta(minutes=10),
        15,
    )
    assert JobSettings.from_settings(Settings()) == JobSettings()
