"""Issue 14, item 4's must-show: a digest instead of a flood. An officer with 12 unbooked schools comes back after a
week away (the bot's worker ran every morning and afternoon meanwhile, its very first run late in the term) and gets
exactly one card of unbooked schools listing all 12, each once, with what each school was sent; nobody is told "a new
term has started" in the term's twelfth week; from the card the officer offers one school times in one press.

The demo LA through the router (tests/chat/chatkit.py) and the scheduler's own sweeps (scheduler/service.py
build_jobs) with the delivery ledger; the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cardtree import walk
from chatkit import choices, make_chat, text_of
from fakes.messenger import ScriptedMessenger
from sqlalchemy import update
from sqlmodel import col, select

from scheduler.service import build_jobs
from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import LA, Officer, School, SchoolContact
from tsm.adapters.db.teams import BotConversation
from tsm.chat import Reply
from tsm.messaging import Recipient

TOM = "tom.okafor@demo.example"
FIRST_RUN = datetime(
    2026, 11, 23, 7, 5, tzinfo=UTC
)  # 07:05 in London, Monday of the autumn term's twelfth week (3 Sep - 18 Dec)


async def installs(app, recipient: Recipient, at: datetime) -> None:
    """The person installs the app (the bot stores the conversation, as bot/ does on installationUpdate)."""
    async with app.db.transaction() as s:
        s.add(
            BotConversation(
                conversation_id=f"a:{recipient.kind}{recipient.id}",
                service_url="https://smba.example/",
                reference={},
                updated_at=at,
                contact_id=recipient.id if recipient.kind == "contact" else None,
                officer_id=recipient.id if recipient.kind == "officer" else None,
            )
        )


async def twelve_unbooked_schools_for_tom(chat, jobs) -> tuple[int, list[str]]:
    """Tom Okafor's schools made exactly 12 of those the LA's rules want a TSM from this term."""
    async with chat.app.db.reader() as s:
        tom = (await s.exec(select(Officer).where(Officer.email == TOM))).one()
        la = (await s.exec(select(LA))).one()
        term = (await chat.app.reference.calendar(s, la.id)).term_for(FIRST_RUN.date())
        wanted = sorted(await jobs._unbooked(s, la, term.id), key=lambda u: u.name)
    assert len(wanted) >= 12
    mine = [u.school_id for u in wanted[:12]]
    async with chat.app.db.transaction() as s:
        others = await s.exec(select(School.id).where(School.link_officer_id == tom.id))
        moved = [sid for sid in others if sid not in mine]
        if moved:  # the rest of his schools go to a colleague
            colleague = next(u.officer_id for u in wanted if u.officer_id != tom.id)
            await s.exec(update(School).where(col(School.id).in_(moved)).values(link_officer_id=colleague))
        await s.exec(update(School).where(col(School.id).in_(mine)).values(link_officer_id=tom.id))
    return tom.id, [u.name for u in wanted[:12]]


async def test_an_officer_back_after_a_week_away_gets_one_digest_of_12_schools_not_a_flood(
    any_db_url, tmp_path
):
    chat = await make_chat(any_db_url, tmp_path, now=FIRST_RUN)
    try:
        messenger = ScriptedMessenger(installs=chat.app.db)
        jobs = build_jobs(chat.app, messenger, worker_id="w1")
        tom_id, names = await twelve_unbooked_schools_for_tom(chat, jobs)
        tom = Recipient("officer", tom_id)
        # Every attendance lead of Tom's schools has the app; Tom is away (no app: everything to him waits).
        async with chat.app.db.reader() as s:
            leads = list(
                await s.exec(
                    select(SchoolContact.id)
                    .join(School, School.id == SchoolContact.school_id)
                    .where(School.link_officer_id == tom_id, SchoolContact.role == "attendance_lead")
                )
            )
        for cid in leads:
            await installs(chat.app, Recipient("contact", cid), FIRST_RUN)

        # A week of the worker, from its first run (the chasers' day and the term's start long past): mornings and
        # afternoons, Monday 23 to Sunday 29 November.
        for day in range(7):
            for hour in (0, 9):
                chat.clock.now = FIRST_RUN + timedelta(days=day, hours=hour)
                await jobs.run_all()
        assert messenger.to(tom) == []
        to_schools = [(r, m.text) for r, m in messenger.sent if r.kind == "contact"]
        assert to_schools and len(to_schools) == len({r for r, _ in to_schools})  # one message each at most
        assert not [t for _, t in to_schools if "new term" in t.lower()]  # never "a new term has started" now
        assert all("has no TSM booked this term yet" in t for _, t in to_schools)

        # Monday 30 November, early: Tom comes back and installs the app; the worker runs on through the morning.
        chat.clock.now = FIRST_RUN + timedelta(days=7) - timedelta(minutes=35)
        await installs(chat.app, tom, chat.clock.now)
        await jobs.run_all()
        chat.clock.now = FIRST_RUN + timedelta(days=7, hours=1)  # 08:05: this week's card falls due
        await jobs.run_all()
        to_tom = [m for r, m in messenger.sent if r == tom]
        assert [m.text for m in to_tom] == ["12 schools still to book this term"]  # one card, not 12 or 24
        [digest] = to_tom
        rows = [
            n["text"]
            for n in walk(digest.card)
            if n.get("type") == "TextBlock" and n["text"].startswith("**")
        ]
        listed = [r.split("**")[1] for r in rows]
        assert sorted(listed) == sorted(names) and len(set(listed)) == 12  # all 12, each once
        reminded = [r for r in rows if "arrange it" not in r]
        assert reminded and all(r.endswith("(reminded Monday 23 November)") for r in reminded), rows
        school_choice = choices(digest.card, "schoolId")
        assert len({c["value"] for c in school_choice}) == 12
        async with chat.app.db.reader() as s:
            tom_rows = list(
                await s.exec(
                    select(Outbound.kind, Outbound.status, Outbound.last_error).where(
                        Outbound.recipient_kind == "officer", Outbound.recipient_id == tom_id
                    )
                )
            )
        assert sorted(tom_rows) == [
            ("unbooked_weekly", "sent", ""),  # last week's card, the newest that had piled up
            ("unbooked_weekly", "skipped", ""),  # this week's: one a day, and he has had today's
            ("unbooked_weekly", "skipped", "superseded"),  # the chasers' day's card, older, piled up with it
        ]

        # One press from the card: Offer times to the school chosen on it.
        officer = await chat.officer_of(await urn_of(chat, int(school_choice[0]["value"])))
        assert officer.id == tom_id
        reply = await chat.press(officer, Reply(card=digest.card), "Offer times")
        assert not reply.error and names[0] in text_of(reply), text_of(reply)
    finally:
        await chat.app.close()


async def urn_of(chat, school_id: int) -> int:
    async with chat.app.db.reader() as s:
        return (await s.get(School, school_id)).urn
