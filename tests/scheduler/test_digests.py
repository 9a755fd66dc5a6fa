"""What piles up for someone goes as one message per kind, never one by one (issue 14, item 4; scheduler/digests.py):
an officer back after a while gets one card of news from their schools (each school once, its newest news), the
newest agenda and unbooked digest only; a school is never told "a new term has started" once that moment is gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cardtree import walk
from factories import local, make_world
from sqlmodel import select
from test_scheduler_late_install import env_for, install

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.engine import Database
from tsm.clock import FixedClock
from tsm.messaging import Recipient


@pytest.fixture
async def env(db):
    return env_for(db, FixedClock(local(2026, 1, 5, 8)), await make_world(db))


def lines(card: dict | None) -> list[str]:
    return [n["text"] for n in walk(card or {}) if n.get("type") == "TextBlock"]


async def rows(db: Database, recipient: Recipient) -> list[tuple[str, str, str]]:
    async with db.reader() as s:
        return sorted(
            (r.kind, r.status, r.last_error)
            for r in await s.exec(
                select(Outbound).where(
                    Outbound.recipient_kind == recipient.kind, Outbound.recipient_id == recipient.id
                )
            )
        )


async def test_an_officer_back_after_a_while_gets_one_card_of_news_with_each_schools_newest(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        env = env_for(db, clock, await make_world(db))
        w = env.world
        ann = Recipient("officer", w.officers["ann"])
        low = w.contact("low_primary.lead")
        booked = await env.booking.book(low, w.schools["low_primary"], local(2026, 2, 3, 10))
        await env.jobs.events()
        for key, day in (("high_primary", 4), ("secondary", 5)):
            await env.booking.book(w.contact(f"{key}.lead"), w.schools[key], local(2026, 2, day, 10))
            await env.jobs.events()
        await env.booking.move(low, booked.meeting.id, local(2026, 2, 10, 10))
        await env.jobs.events()
        await env.booking.cancel(low, booked.meeting.id, "Ofsted visit that week")
        await env.jobs.events()
        assert env.messenger.to(ann) == []  # Ann has not installed the app: five messages wait for her

        await install(db, ann, clock())
        res = await env.jobs.late_installs()
        assert env.messenger.to(ann) == ["News from 3 of your schools"]  # one message, not five
        [(_, digest)] = [(r, m) for r, m in env.messenger.sent if r == ann]
        news = [t.removeprefix("- ") for t in lines(digest.card) if t.startswith("- ")]
        assert len(news) == 3
        assert news[0].startswith("High Primary School booked its TSM: ")
        assert news[1].startswith("Town High School booked its TSM: ")
        # Low Primary's newest news only: booked, moved, then cancelled is "cancelled"
        assert news[2].startswith("The TSM for Low Primary School on Tuesday 10 February") and news[
            2
        ].endswith("was cancelled by Lead of Low Primary School. Reason: Ofsted visit that week")
        assert (res.claimed, res.sent, res.skipped) == (5, 3, 2)
        assert await rows(db, ann) == [
            ("ev.cancelled", "sent", ""),
            ("ev.moved", "skipped", ""),  # cancelled since: not news any more
            ("ev.school_booked", "sent", ""),
            ("ev.school_booked", "sent", ""),
            ("ev.school_booked", "skipped", ""),  # Low Primary's booking: cancelled since, not news any more
        ]
        # once: nothing again, whichever worker looks
        assert (await env.jobs.late_installs()).claimed == 0
        assert (await env.restart("w2").jobs.late_installs()).claimed == 0
    finally:
        await db.dispose()


async def test_an_officer_who_installs_late_gets_the_newest_unbooked_digest_only(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 19, 8, 5))  # Monday of the spring term's third week
        env = env_for(db, clock, await make_world(db))
        w = env.world
        ann = Recipient("officer", w.officers["ann"])
        await env.booking.book(
            w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 1, 28, 10)
        )
        await env.booking.book(w.contact("secondary.lead"), w.schools["secondary"], local(2026, 1, 29, 10))
        for day in range(19, 28):  # nine days of the scheduler, twice a day, while Ann has no app
            for hour in (8, 16):
                clock.now = local(2026, 1, day, hour, 5)
                await env.jobs.run_all()
        assert env.messenger.to(ann) == []
        async with db.reader() as s:
            digests = {
                r.ref.split(":")[1]: r.id
                for r in await s.exec(select(Outbound).where(Outbound.kind == "unbooked_weekly"))
                if r.recipient_id == ann.id
            }
        # the weekly cards of weeks 4 and 5, and the chasers' day's (Tuesday 27 January): none reached her
        assert sorted(digests) == ["2026-W04", "2026-W05", "chased"]

        clock.now = local(2026, 1, 28, 9)  # Wednesday morning: she installs the app
        await install(db, ann, clock())
        await env.jobs.late_installs()
        texts = sorted(env.messenger.to(ann))
        assert len(texts) == 3, texts  # one agenda, one unbooked digest (not three), one card of news
        assert texts[0] == "1 TSM on Wednesday 28 January" and texts[2] == "News from 2 of your schools"
        assert texts[1].endswith("schools still to book this term")
        [card] = [m.card for r, m in env.messenger.sent if r == ann and "still to book" in m.text]
        schools = [t for t in lines(card) if t.startswith("**")]
        assert len(schools) == len(set(schools)) and not [t for t in schools if "Low Primary" in t]
        assert "have been sent a reminder" in " ".join(lines(card))  # the chasers' day's card, the newest
        async with db.reader() as s:
            status = {
                ref: (r.status, r.last_error)
                for ref, rid in digests.items()
                for r in [await s.get(Outbound, rid)]
            }
        assert status == {
            "2026-W04": ("undeliverable", "no_conversation"),  # a week old: past its use, never sent
            "2026-W05": ("skipped", "superseded"),
            "chased": ("sent", ""),
        }
    finally:
        await db.dispose()


async def test_a_start_of_term_nudge_after_the_first_week_no_longer_says_a_new_term_has_started(env):
    w = env.world
    lead = Recipient("contact", w.contacts["low_primary.lead"])
    await install(env.db, lead, env.clock.now)
    env.clock.now = local(
        2026, 1, 15, 9
    )  # the spring term began on the 6th: the worker's first run is on day 10
    await env.jobs.term_start_nudges()
    assert env.messenger.to(lead) == [
        "Low Primary School has no TSM booked this term yet: please pick a time with Ann Officer."
    ]
    assert await rows(env.db, lead) == [("term_start", "sent", "")]


async def test_a_first_run_late_in_term_tells_schools_their_tsm_is_not_booked_never_that_term_has_started(db):
    clock = FixedClock(local(2026, 3, 9, 9))  # the spring term's tenth week: the worker's very first run
    env = env_for(db, clock, await make_world(db))
    w = env.world
    for key in ("low_primary.lead", "secondary.lead"):
        await install(db, Recipient("contact", w.contacts[key]), clock())
    await install(db, Recipient("officer", w.officers["ann"]), clock())
    await env.jobs.run_all()
    to_schools = [m.text for r, m in env.messenger.sent if r.kind == "contact"]
    assert to_schools and not [t for t in to_schools if "new term" in t]
    assert all("has no TSM booked this term yet" in t for t in to_schools)
    assert len(to_schools) == len(set(to_schools)) == 2  # one each, not a nudge and a chaser
    to_ann = [m for r, m in env.messenger.sent if r == Recipient("officer", w.officers["ann"])]
    assert [m.text for m in to_ann] == ["6 schools still to book this term"]  # one card, not one per school
    assert len({t for t in lines(to_ann[0].card) if t.startswith("**")}) == 6
    assert "have been sent a reminder" in " ".join(lines(to_ann[0].card))
    env.messenger.sent.clear()
    clock.now += timedelta(hours=8)  # later that day: nothing more
    await env.jobs.run_all()
    assert env.messenger.sent == []


async def test_the_unbooked_digest_says_which_schools_the_invitation_reached_and_which_it_could_not(env):
    w = env.world
    ann = Recipient("officer", w.officers["ann"])
    await install(env.db, ann, env.clock.now)
    await install(env.db, Recipient("contact", w.contacts["low_primary.lead"]), env.clock.now)
    async with env.db.transaction() as s:  # Trust B Primary's staff have left: nobody on record
        for c in await s.exec(select(SchoolContact).where(SchoolContact.school_id == w.schools["trust_b"])):
            c.active = False
            s.add(c)
    env.clock.now = local(2026, 1, 6, 9)  # the term's first day
    await env.jobs.run_all()
    [digest] = [m for r, m in env.messenger.sent if r == ann and "still to book" in m.text]
    rows = {t.split("**")[1]: t for t in lines(digest.card) if t.startswith("**")}
    assert rows["Low Primary School"].endswith("(invited Tuesday 6 January)")  # its lead has the app
    assert rows["Trust B Primary"].endswith("(no attendance lead or senior leader on record to invite)")
    # neither of Town High's staff has the app, and these tests give nobody an email channel
    assert rows["Town High School"].endswith(
        "(not reached: its staff have neither the app nor an email address)"
    )
    assert rows["Oak Independent School"].endswith("You arrange it")  # contacted directly: no invitation
