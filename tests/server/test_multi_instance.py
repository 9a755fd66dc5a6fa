"""Several instances on one PostgreSQL: 2 bot processes (``tsm run``) and 2 workers (``tsm worker``) as subprocesses.

School staff book through both bots at once, two colleagues of each school racing through different bots, by posting
literal Teams activities and pressing the bots' own card buttons; a fake Bot Connector on loopback records the
replies and the proactive sends. Then both workers start together on the confirmations of the bookings just made,
and 7-day and 1-day reminders fall due in waves (with both running, then with each paused in turn), while the
connector throttles one recipient (429) and refuses another who blocked the bot (403). Figures are printed and kept
in var/production-figures.json.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from card_walker import card_text, invoke_card, next_step, reply_cards
from fakes.connector import FakeConnector, ThreadServer, installation_update, invoke, message
from fakes.messenger import ScriptedMessenger
from processes import start_bot, start_worker, wait_healthy, wait_log
from prod_figures import record_figures
from sqlalchemy import func, text
from sqlmodel import col, select

from scheduler.jobs import Jobs
from scheduler.ledger import Ledger
from tsm.adapters.db.directory import School, SchoolContact, Term
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.bootstrap import build_app
from tsm.clock import StartedClock, local_today
from tsm.demo import load_demo
from tsm.messaging import SendResult, SendStatus
from tsm.settings import Settings

LONDON = ZoneInfo("Europe/London")
BOOKING_SCHOOLS = 6
REMINDER_SCHOOLS = 10
REMINDER_KINDS = ("confirm", "remind_7d", "remind_1d")
# One clock for the test and every process it starts (each gets TSM_CLOCK_START = this clock's now when spawned):
# a Tuesday in the demo's autumn term, so the bookings find free times whatever the day the test runs.
CLOCK_ORIGIN = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def clocked(clock) -> dict[str, str]:
    # Teams only (TSM_DELIVERY=teams): this test counts what reaches the Bot Connector against the ledger, so the
    # person who blocked the bot must stay undeliverable rather than be emailed (tests/mail covers the fallback).
    return {"TSM_CLOCK_START": clock().isoformat(), "TSM_DELIVERY": "teams"}


async def _prepare(app) -> tuple[list[tuple[int, list[int]]], list[tuple[School, SchoolContact]], int]:
    """Demo data; (school, [two contacts]) pairs that may book; (school, contact) pairs to remind; a term id."""
    await load_demo(app.db, today=local_today(app.clock))
    async with app.db.reader() as s:
        schools = list(
            await s.exec(select(School).where(col(School.link_officer_id).is_not(None)).order_by(School.id))
        )
        contacts: dict[int, list[SchoolContact]] = {}
        for c in await s.exec(
            select(SchoolContact)
            .where(SchoolContact.active == True)  # noqa: E712
            .order_by(SchoolContact.id)
        ):
            contacts.setdefault(c.school_id, []).append(c)
        term = (await s.exec(select(Term).order_by(Term.start_date))).first()
    bookers: list[tuple[int, list[int]]] = []
    reminding: list[tuple[School, SchoolContact]] = []
    for sc in schools:
        people = contacts.get(sc.id, [])
        if (
            len(people) >= 2
            and len(bookers) < BOOKING_SCHOOLS
            and (await app.booking.entitlement(sc.id)).may_book
        ):
            bookers.append((sc.id, [people[0].id, people[1].id]))
        elif people and len(reminding) < REMINDER_SCHOOLS:
            reminding.append((sc, people[0]))
    assert len(bookers) == BOOKING_SCHOOLS and len(reminding) == REMINDER_SCHOOLS
    async with app.db.transaction() as s:
        for cid in [c for _, pair in bookers for c in pair] + [c.id for _, c in reminding]:
            c = await s.get(SchoolContact, cid)
            c.teams_aad_id = f"aad-{cid}"
            s.add(c)
    return bookers, reminding, term.id


async def _due_meeting(app, school: School, contact: SchoolContact, term_id: int, i: int) -> tuple:
    """A meeting booked ten days ago whose 7-day (even i) or 1-day (odd i) reminder fell due a second ago (the
    sweeps read what fell due since their last run: issue 15, ``scheduler/marks.py``)."""
    now = app.clock()
    start = now + (timedelta(days=7) if i % 2 == 0 else timedelta(days=1)) - timedelta(seconds=1)
    async with app.db.transaction() as s:
        m = Meeting(
            officer_id=school.link_officer_id,
            term_id=term_id,
            start=start,
            end=start + timedelta(hours=1),
            mode="teams",
            meeting_type="tsm",
            status="booked",
            booked_by="officer:1",
            ical_uid=f"tsm-{uuid.uuid4()}@test",
            created_at=now - timedelta(days=10),
            updated_at=now - timedelta(days=10),
        )
        s.add(m)
        await s.flush()
        s.add(MeetingSchool(meeting_id=m.id, school_id=school.id, term_id=term_id, active_term_id=None))
        s.add(
            MeetingAttendee(
                meeting_id=m.id,
                contact_id=contact.id,
                name=contact.name,
                email=contact.email,
                role=contact.role,
                required=True,
            )
        )
        return ("remind_7d" if i % 2 == 0 else "remind_1d", m.id, "contact", contact.id)


async def _until_finished(app, items: set, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with app.db.reader() as s:
            rows = {
                (r[0], r[1], r[2], r[3])
                for r in await s.exec(
                    text(
                        "SELECT kind, subject_id, recipient_kind, recipient_id FROM outbound WHERE status <> 'claimed'"
                    )
                )
            }
        if items <= rows:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not sent within {within}s: {items - rows}")


def posts_to(connector: FakeConnector, conv: str, before: Counter) -> int:
    return Counter(s.conversation_id for s in connector.snapshot())[conv] - before[conv]


async def _walk_booking(http: httpx.AsyncClient, bot_url: str, connector: FakeConnector, cid: int) -> dict:
    """One person booking through one bot: "book", then the cards' buttons until booked or refused."""
    conv, uid, aad = f"a:conv-{cid}", f"29:user-{cid}", f"aad-{cid}"
    before = len([s for s in connector.snapshot() if s.conversation_id == conv])
    r = await http.post(
        bot_url + "/api/messages", json=message(connector.url, "book", conv=conv, user_id=uid, aad=aad)
    )
    statuses = [r.status_code]
    card = (
        reply_cards([s.activity for s in connector.snapshot() if s.conversation_id == conv][before:])
        or [None]
    )[-1]
    outcome = "no_card"
    for _ in range(14):
        if card is None:
            break
        step = next_step(card)
        if step is None:
            outcome = "refused"  # e.g. "your school has this term's TSM already": no booking button left
            break
        verb, data = step
        r = await http.post(
            bot_url + "/api/messages", json=invoke(connector.url, verb, data, conv=conv, user_id=uid, aad=aad)
        )
        statuses.append(r.status_code)
        card = invoke_card(r.json()) if r.status_code == 200 else None
        if verb == "book.confirm" and card is not None and "is booked" in card_text(card):
            outcome = "booked"
            break
    return {"contact": cid, "outcome": outcome, "statuses": statuses, "turns": len(statuses)}


async def test_two_bots_two_workers_on_one_postgres(pg_url, tmp_path):
    app = build_app(
        Settings(_env_file=None, database_url=pg_url, invitations_dir=tmp_path / "inv"),
        clock=StartedClock(CLOCK_ORIGIN),
    )
    threads = ThreadServer()
    connector = FakeConnector()
    connector.url = threads.serve(connector.app()) + "/"
    procs = []
    try:
        bookers, reminding, term_id = await _prepare(app)
        reminded = [c.id for _, c in reminding]
        bots = [start_bot(f"bot{i}", pg_url, tmp_path, **clocked(app.clock)) for i in (1, 2)]
        procs += bots
        for b in bots:
            wait_healthy(b)

        async with httpx.AsyncClient(timeout=30) as http:
            # Everyone installs the app (through either bot): the conversation references the workers will use.
            people = [cid for _, pair in bookers for cid in pair] + reminded
            installs = await asyncio.gather(
                *(
                    http.post(
                        bots[i % 2].url + "/api/messages",
                        json=installation_update(
                            connector.url, conv=f"a:conv-{cid}", user_id=f"29:user-{cid}", aad=f"aad-{cid}"
                        ),
                    )
                    for i, cid in enumerate(people)
                )
            )
            assert all(r.status_code == 200 for r in installs)
            # Two colleagues of each school book at the same time, one through each bot.
            t0 = time.perf_counter()
            walks = await asyncio.gather(
                *(
                    _walk_booking(http, bots[j].url, connector, cid)
                    for _, pair in bookers
                    for j, cid in enumerate(pair)
                )
            )
            booking_seconds = time.perf_counter() - t0

        async with app.db.reader() as s:
            per_school = {
                sc: (
                    await s.exec(
                        select(func.count())
                        .select_from(MeetingSchool)
                        .where(MeetingSchool.school_id == sc, col(MeetingSchool.active_term_id).is_not(None))
                    )
                ).one()
                for sc, _ in bookers
            }
        statuses = Counter(code for w in walks for code in w["statuses"])
        outcomes = Counter(w["outcome"] for w in walks)
        assert all(code < 500 for code in statuses), statuses
        assert per_school == {sc: 1 for sc, _ in bookers}, per_school  # exactly one TSM per school, never two
        assert outcomes["booked"] == BOOKING_SCHOOLS, walks

        # The confirmations of the bookings just made are due now (the sweep's own read-only query, before any
        # worker runs); the reminders are added in waves while both workers run, so both get some to race for.
        jobs = Jobs(
            db=app.db,
            messenger=ScriptedMessenger(answer=SendResult(SendStatus.FAILED)),
            booking=app.booking,
            reference=app.reference,
            ledger=Ledger(app.db, "probe"),
            clock=app.clock,
        )
        due = {(d.kind, d.subject_id, d.recipient.kind, d.recipient.id) for d in await jobs.due_reminders()}
        assert {d[0] for d in due} <= {"confirm"}
        sent_before = Counter(s.conversation_id for s in connector.snapshot())
        # Faults on the way out: Teams throttles one recipient twice (429, Retry-After 1 s); another has blocked the
        # bot (403 MessageWritesBlocked).
        throttled, blocked = f"a:conv-{reminded[0]}", f"a:conv-{reminded[1]}"
        connector.fail_plan[throttled] = [(429, {"Retry-After": "1"}, "TooManyRequests")] * 2
        connector.fail_plan[blocked] = [(403, {}, "ConversationBlockedByUser")] * 5
        attempts_before = Counter(connector.attempts)

        # Both workers start together, sweeping for reminders every second, and race for the same messages.
        fast = {"TSM_SCHEDULER_REMINDER_SWEEP_SECONDS": "1"}
        workers = [start_worker(f"worker{i}", pg_url, tmp_path, **fast, **clocked(app.clock)) for i in (1, 2)]
        procs += workers
        for w in workers:
            wait_log(w, "scheduler started as")
        # Reminders fall due in waves: a few while both workers run; then with each worker paused (SIGSTOP) in turn,
        # so that each one certainly sends some, whatever the phase of their sweeps.
        waves = [reminding[:4], reminding[4:7], reminding[7:]]
        for wave, paused in zip(waves, (None, workers[0], workers[1]), strict=True):
            if paused is not None:
                paused.popen.send_signal(signal.SIGSTOP)
            new = set()
            for school, contact in wave:
                new.add(await _due_meeting(app, school, contact, term_id, len(due)))
                await asyncio.sleep(0.3)
            due |= new
            await _until_finished(app, new)
            if paused is not None:
                paused.popen.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 45
        rows: list = []
        while time.monotonic() < deadline:
            async with app.db.reader() as s:
                rows = list(
                    await s.exec(
                        text(
                            "SELECT kind, subject_id, recipient_kind, recipient_id, status, claimed_by FROM outbound"
                        )
                    )
                )
            done = {(r[0], r[1], r[2], r[3]) for r in rows if r[4] != "claimed"}
            if due <= done and not any(r[4] == "claimed" for r in rows):
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.0)  # let any stray second send (there should be none) reach the connector
        for w in workers:
            assert w.terminate() == 0, w.tail()
        async with app.db.reader() as s:
            rows = list(
                await s.exec(
                    text(
                        "SELECT kind, subject_id, recipient_kind, recipient_id, status, claimed_by FROM outbound"
                    )
                )
            )

        reminder_rows = [r for r in rows if r[0] in REMINDER_KINDS]
        assert {(r[0], r[1], r[2], r[3]) for r in reminder_rows} == due, (
            "due reminders missing, or extra ones"
        )
        # The throttled reminder went out once after waiting; the blocked person was tried once and recorded.
        attempts = Counter(connector.attempts) - attempts_before
        to_throttled = [r for r in rows if r[2] == "contact" and r[3] == reminded[0]]
        assert {r[4] for r in reminder_rows if r[3] == reminded[0]} == {"sent"}
        assert posts_to(connector, throttled, sent_before) == sum(r[4] == "sent" for r in to_throttled)
        assert (
            attempts[throttled] == posts_to(connector, throttled, sent_before) + 2
        )  # two 429s, then accepted
        # The blocked person: one attempt in all (403 recorded), every message to them undeliverable, none retried.
        assert attempts[blocked] == 1 and posts_to(connector, blocked, sent_before) == 0
        assert {r[4] for r in rows if r[2] == "contact" and r[3] == reminded[1]} == {"undeliverable"}
        async with app.db.reader() as s:
            blocked_at = (
                await s.exec(
                    text("SELECT blocked_at FROM bot_conversation WHERE conversation_id = :c").bindparams(
                        c=blocked
                    )
                )
            ).one()[0]
        assert blocked_at is not None
        # Every message a worker recorded as sent reached the connector exactly once, and nothing else did.
        sent_rows = Counter(f"a:conv-{r[3]}" for r in rows if r[4] == "sent" and r[2] == "contact")
        posts = Counter(s.conversation_id for s in connector.snapshot()) - sent_before
        duplicated = sum(max(0, posts[c] - sent_rows[c]) for c in posts)
        missing = sum(max(0, sent_rows[c] - posts[c]) for c in sent_rows)
        reminders_sent = sum(1 for r in reminder_rows if r[4] == "sent")
        by_worker = Counter(r[5] for r in rows if r[4] == "sent")
        reminders_by_worker = Counter(r[5] for r in reminder_rows if r[4] == "sent")
        assert duplicated == 0 and missing == 0, (posts, sent_rows)
        reminder_status = Counter(r[4] for r in reminder_rows)
        # Every due reminder was dealt with once: sent, skipped at compose time (a confirmation to the person who made
        # the change), or undeliverable (the one who blocked the bot). None failed, none left claimed.
        assert reminder_status["undeliverable"] == 1 and reminder_status["sent"] == reminders_sent > 0
        assert reminder_status["sent"] + reminder_status["skipped"] + 1 == len(due), reminder_status
        assert reminder_status["sent"] >= REMINDER_SCHOOLS - 1
        assert len(reminders_by_worker) == 2, f"one worker sent every reminder ({reminders_by_worker})"

        record_figures(
            "multi_instance",
            {
                "bots": 2,
                "workers": 2,
                "database": "postgresql",
                "bookings_attempted": len(walks),
                "bookings_succeeded": outcomes["booked"],
                "bookings_refused": len(walks) - outcomes["booked"],
                "schools_double_booked": 0,
                "booking_turns": sum(w["turns"] for w in walks),
                "booking_http_5xx": 0,
                "booking_seconds": round(booking_seconds, 2),
                "reminders_due": len(due),
                "reminders_sent": reminders_sent,
                "reminders_duplicated": duplicated,
                "reminders_undeliverable_blocked": reminder_status["undeliverable"],
                "reminders_skipped_not_needed": reminder_status["skipped"],
                "connector_faults_injected": {"429": 2, "403": 1},
                "connector_faults_survived": 3,
                "proactive_sends_total": sum(posts.values()),
                "outbound_sent_by_worker": dict(by_worker),
                "reminders_sent_by_worker": dict(reminders_by_worker),
                "outbound_by_status": dict(Counter(r[4] for r in rows)),
            },
        )
    finally:
        for p in procs:
            p.terminate()
        threads.close()
        await app.close()
