"""Scheduler jobs called directly with a fixed clock: reminders, nudges, meeting end, claims and leases."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from cardtree import walk
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from schedkit import Env

from scheduler.ledger import Due
from tsm.adapters.db.engine import Database
from tsm.clock import FixedClock
from tsm.messaging import Recipient, SendResult, SendStatus


@pytest.fixture
async def env(db):
    clock = FixedClock(local(2026, 1, 5, 8))
    world = await make_world(db)
    e = Env(db, clock, ScriptedMessenger())
    e.world = world
    return e


async def test_reminders_go_once_each_across_a_restart(env):
    w = env.world
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    # At booking, the change's own messages: the confirmation to the other attendee (the booker saw it in the chat)
    # and the officer told; the reminder sweeps have nothing yet.
    res = await env.jobs.events()
    assert res.by_kind == {"ev.confirm": 1, "ev.school_booked": 1}
    assert {r for r, m in env.messenger.sent if "TSM booked" in m.text} == {
        Recipient("contact", w.contacts["low_primary.head"])
    }
    assert (await env.restart().jobs.events()).claimed == 0 and (await env.jobs.reminders()).claimed == 0

    env.clock.now = local(2026, 1, 27, 10, 1).astimezone(env.clock.now.tzinfo)  # 7 days before
    assert (await env.jobs.reminders()).by_kind == {"remind_7d": 2}
    card = env.messenger.sent[-1][1].card
    assert "To prepare, please bring:" in str(card) and "no pupil-level data" in str(card)
    assert (await env.restart().jobs.reminders()).claimed == 0

    env.clock.now = local(2026, 2, 2, 10, 1).astimezone(env.clock.now.tzinfo)  # 1 day before
    assert (await env.restart().jobs.reminders()).by_kind == {"remind_1d": 2}
    assert (await env.jobs.reminders()).claimed == 0
    env.clock.now = local(2026, 2, 3, 10, 30).astimezone(
        env.clock.now.tzinfo
    )  # during the meeting: nothing more
    assert (await env.jobs.reminders()).claimed == 0
    assert Counter((r.kind, r.id) for r, _ in env.messenger.sent) == {
        ("contact", w.contacts["low_primary.lead"]): 2,
        ("contact", w.contacts["low_primary.head"]): 3,
        ("officer", w.officers["ann"]): 1,
    }
    assert r.meeting.id


async def test_a_moved_meetings_reminders_move(env):
    w = env.world
    who = w.contact("low_primary.lead")
    r = await env.booking.book(who, w.schools["low_primary"], local(2026, 2, 3, 10))
    assert (await env.jobs.events()).by_kind == {"ev.confirm": 1, "ev.school_booked": 1}  # at booking
    env.clock.now = local(2026, 1, 27, 10, 1)
    assert (await env.jobs.reminders()).by_kind == {"remind_7d": 2}
    env.messenger.sent.clear()
    env.clock.now = local(2026, 1, 28, 9)
    await env.booking.move(who, r.meeting.id, local(2026, 2, 10, 10))
    res = await env.jobs.events()
    assert res.by_kind == {
        "ev.confirm": 1,
        "ev.moved": 1,
    }  # "your TSM has moved" to the colleague; the officer told
    [card] = [
        m.card for to, m in env.messenger.sent if to == Recipient("contact", w.contacts["low_primary.head"])
    ]
    assert "Your TSM has moved" in str(card)
    env.clock.now = local(2026, 2, 2, 10, 1)  # the day before the OLD time: no reminder
    assert (await env.jobs.reminders()).sent == 0
    env.clock.now = local(2026, 2, 3, 10, 1)  # 7 days before the NEW time
    assert (await env.jobs.reminders()).by_kind == {"remind_7d": 2}
    env.clock.now = local(2026, 2, 9, 10, 1)
    assert (await env.jobs.reminders()).by_kind == {"remind_1d": 2}


async def test_a_cancelled_meeting_has_no_reminders(env):
    w = env.world
    who = w.contact("low_primary.lead")
    r = await env.booking.book(who, w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.booking.cancel(who, r.meeting.id, "no longer needed")
    for when in (local(2026, 1, 5, 9), local(2026, 1, 27, 10, 1), local(2026, 2, 2, 10, 1)):
        env.clock.now = when
        assert (await env.jobs.reminders()).sent == 0
    assert env.messenger.sent == []


async def test_a_claim_left_by_a_crashed_worker_is_sent_once_after_its_lease(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 1, 27, 10, 1)
    crashed = env.restart("crashed")
    due = [
        Due(
            "remind_7d",
            "meeting",
            1,
            Recipient("contact", w.contacts["low_primary.lead"]),
            "2026-02-03T10:00Z",
        )
    ]
    assert len(await crashed.ledger.claim(due)) == 1  # claimed, then the process died before sending
    other = env.restart("w2")
    assert (await other.jobs.retry_expired()).claimed == 0  # the lease still holds
    res = await other.jobs.reminders()
    assert res.by_kind == {"remind_7d": 1}  # the head's; the lead's is the crashed worker's claim
    env.clock.now += timedelta(minutes=6)
    assert (await other.jobs.retry_expired()).by_kind == {"remind_7d": 1}
    assert (await other.jobs.retry_expired()).claimed == 0
    assert sum(1 for _, m in env.messenger.sent if m.text.startswith("TSM in a week")) == 2


async def test_throttled_sends_are_retried_and_blocked_ones_are_not(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 1, 27, 10, 1)
    lead, head = (Recipient("contact", w.contacts[k]) for k in ("low_primary.lead", "low_primary.head"))
    env.messenger.script = {
        lead: [SendResult(SendStatus.RETRY, "429", retry_after=2.0)],
        head: [SendResult(SendStatus.BLOCKED, "403")],
    }
    res = await env.jobs.reminders()
    assert (res.retry, res.undeliverable, res.sent) == (1, 1, 0)
    env.clock.now += timedelta(seconds=3)
    res = await env.jobs.retry_expired()
    assert res.sent == 1 and env.messenger.sent[0][0] == lead
    assert (await env.jobs.retry_expired()).claimed == 0
    assert (await env.ledger.counts()) == {"sent": 1, "undeliverable": 1}


async def test_the_meeting_end_event_and_the_timer_make_one_next_tsm_offer(env):
    w = env.world
    r = await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 2, 3, 11, 2)
    first, second = await asyncio.gather(
        env.jobs.on_meeting_end(r.meeting.id, source="teams"),
        env.restart("w2").jobs.on_meeting_end(r.meeting.id, source="teams"),
    )
    assert sorted([first.claimed, second.claimed]) == [0, 6]  # 3 offers + 2 evaluations + the gate
    env.clock.now = local(2026, 2, 3, 11, 45)
    assert (await env.jobs.meeting_ends()).claimed == 0  # the timer finds it held and claimed
    assert (await env.booking.get_meeting(w.officer("ann"), r.meeting.id)).status == "held"
    offers = [(rcp, m) for rcp, m in env.messenger.sent if m.text.startswith("Next term's TSM")]
    assert len(offers) == 3 and {rcp.kind for rcp, _ in offers} == {"officer", "contact"}
    # a school's card (the officer's also has "It didn't take place"; the sends' order is not fixed)
    card = next(m.card for rcp, m in offers if rcp.kind == "contact")
    assert "summer term 2025-26" in str(card)
    # the times are one choice and one button (Teams cuts a button's title): never a row of time buttons
    assert [a["verb"] for a in walk(card) if a.get("type") == "Action.Execute"] == ["offer.pick_slot"]
    [times] = [n for n in walk(card) if n.get("type") == "Input.ChoiceSet" and n["id"] == "start"]
    assert times["choices"] and all(c["value"] >= "2026-04-15" for c in times["choices"])  # next term's slots
    assert len([1 for _, m in env.messenger.sent if m.text.startswith("How was your TSM")]) == 2


async def test_the_next_term_offer_says_next_terms_tsm_is_booked_instead_of_offering_times(env):
    """Issue 13, item 9: a school that has already booked next term is not offered times that end in "already
    booked" three clicks later; the officer and the school are told it is booked, and when."""
    w = env.world
    lead = w.contact("low_primary.lead")
    r = await env.booking.book(lead, w.schools["low_primary"], local(2026, 2, 3, 10))
    summer = await env.booking.book(lead, w.schools["low_primary"], local(2026, 4, 21, 10))
    assert summer.meeting.term_label == "summer term 2025-26"
    env.clock.now = local(2026, 2, 3, 11, 2)
    await env.jobs.on_meeting_end(r.meeting.id, source="teams")
    offers = [(rcp, m) for rcp, m in env.messenger.sent if m.text.startswith("Next term's TSM")]
    assert {rcp.kind for rcp, _ in offers} == {"officer", "contact"}
    for _, m in offers:
        text = str(m.card)
        assert "Next term's TSM is booked" in text and "is already booked: Tuesday 21 April" in text
        verbs = {a["verb"] for a in walk(m.card) if a.get("type") == "Action.Execute"}
        assert "offer.pick_slot" not in verbs and "meeting.list" in verbs


async def test_the_timer_fallback_ends_an_on_site_meeting_with_no_event(env):
    w = env.world
    r = await env.booking.book(
        w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10), mode="on_site"
    )
    env.clock.now = local(2026, 2, 3, 11, 15)
    assert (await env.jobs.meeting_ends()).claimed == 0  # within the margin
    env.clock.now = local(2026, 2, 3, 11, 31)
    res = await env.jobs.meeting_ends()
    assert res.sent == 5 and (await env.booking.get_meeting(w.officer("ann"), r.meeting.id)).status == "held"


async def test_kent_officer_proposes_and_the_school_only_sees_the_times(db):
    clock = FixedClock(local(2026, 2, 3, 11, 45))
    world = await make_world(db, policy="kent")
    env = Env(db, FixedClock(local(2026, 1, 5, 8)), ScriptedMessenger())
    r = await env.booking.book(world.officer("ann"), world.schools["low_primary"], local(2026, 2, 3, 9))
    env.clock.now = clock.now
    await env.jobs.meeting_ends()
    by_kind = {rcp.kind: m.card for rcp, m in env.messenger.sent if m.text.startswith("Next term")}
    assert by_kind["officer"].get("actions") and not by_kind["contact"].get("actions")
    assert r.meeting.id


async def test_officer_agenda_for_the_next_working_day_from_four_pm(env):
    w = env.world
    await env.booking.book(
        w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 2, 10)
    )  # Monday
    await env.booking.book(w.contact("high_primary.lead"), w.schools["high_primary"], local(2026, 2, 2, 13))
    env.clock.now = local(2026, 1, 30, 15, 59)  # Friday
    assert (await env.jobs.officer_agendas()).claimed == 0
    env.clock.now = local(2026, 1, 30, 16, 0)
    res = await env.jobs.officer_agendas()
    assert res.by_kind == {"agenda": 1}
    recipient, message = env.messenger.sent[-1]
    assert (
        recipient == Recipient("officer", w.officers["ann"]) and message.text == "2 TSMs on Monday 2 February"
    )
    assert "Low Primary School" in str(message.card) and "High Primary School" in str(message.card)
    env.clock.now = local(2026, 1, 31, 16, 0)  # Saturday: not a working day
    assert (await env.jobs.officer_agendas()).claimed == 0


async def test_weekly_list_of_unbooked_schools_goes_once_a_week(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.clock.now = local(2026, 1, 12, 8, 5)  # Monday of the second week of term
    res = await env.jobs.unbooked_weekly()
    assert res.by_kind == {"unbooked_weekly": 2}  # Ann and Bob
    ann = next(m for r, m in env.messenger.sent if r == Recipient("officer", w.officers["ann"]))
    text = str(ann.card)
    assert "Low Primary School" not in text  # booked
    assert "High Primary School" not in text  # above average: once a year is enough
    assert "Town High School" in text and "Oak Independent School" in text  # secondary; contacted directly
    # Words for the officer, not the school's own message (issue 13, item 13): never "your link officer will contact
    # you directly" to the link officer.
    assert (
        "You arrange it" in text and "will contact you directly" not in text and "Your attendance" not in text
    )
    assert [a["verb"] for a in walk(ann.card) if a.get("type") == "Action.Execute"] == [
        "officer.offer_slots",
        "officer.pick_school",
        "officer.schools",
    ]
    [schools] = [n for n in walk(ann.card) if n.get("type") == "Input.ChoiceSet" and n["id"] == "schoolId"]
    assert {"Town High School", "Oak Independent School"} <= {c["title"] for c in schools["choices"]}
    env.clock.now = local(2026, 1, 14, 9)
    assert (await env.jobs.unbooked_weekly()).claimed == 0
    env.clock.now = local(2026, 1, 19, 8, 5)
    assert (await env.jobs.unbooked_weekly()).claimed == 2


async def test_term_start_nudges_the_schools_and_the_officer_hears_of_it_once_in_the_digest(env):
    w = env.world
    env.clock.now = local(2026, 1, 6, 9)  # the spring term's first day
    await env.jobs.term_start_nudges()
    nudged = {r.id for r, _ in env.messenger.sent if r.kind == "contact"}
    assert w.contacts["low_primary.lead"] in nudged and w.contacts["secondary.head"] in nudged
    assert w.contacts["high_primary.lead"] not in nudged  # once a year is enough for it
    assert w.contacts["independent.lead"] not in nudged  # contacted directly: its officer arranges it
    assert all("A new term has started" in m.text for r, m in env.messenger.sent)
    assert not [
        m for r, m in env.messenger.sent if r.kind == "officer"
    ]  # no message per school to the officer
    assert (await env.jobs.term_start_nudges()).claimed == 0
    env.messenger.sent.clear()
    await env.jobs.unbooked_weekly()  # the week's digest: every unbooked school once, with what it was sent
    ann = [m for r, m in env.messenger.sent if r == Recipient("officer", w.officers["ann"])]
    assert len(ann) == 1
    rows = [
        n["text"] for n in walk(ann[0].card) if n.get("type") == "TextBlock" and n["text"].startswith("**")
    ]
    assert any(r.startswith("**Oak Independent School**: You arrange it") for r in rows)
    assert "**Low Primary School**: Expected each term (invited Tuesday 6 January)" in rows
    assert len(rows) == len(set(rows))

    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    env.messenger.sent.clear()
    env.clock.now = local(2026, 1, 27, 9)  # three weeks in: the chasers
    await env.jobs.chasers()
    chased = {r.id: m.text for r, m in env.messenger.sent if r.kind == "contact"}
    assert w.contacts["low_primary.lead"] not in chased and w.contacts["secondary.lead"] in chased
    assert chased[w.contacts["secondary.lead"]].startswith("Town High School has no TSM booked this term yet")
    assert not [m for r, m in env.messenger.sent if r.kind == "officer"]
    env.messenger.sent.clear()
    await env.jobs.unbooked_weekly()
    [digest] = [m for r, m in env.messenger.sent if r == Recipient("officer", w.officers["ann"])]
    rows = [
        n["text"] for n in walk(digest.card) if n.get("type") == "TextBlock" and n["text"].startswith("**")
    ]
    assert "**Trust B Primary**: Expected each term (reminded Tuesday 27 January)" in rows, rows
    assert not [r for r in rows if r.startswith("**Low Primary School**")]  # booked since
    # the week's card and the chasers' day's were both due: one card, the chasers' day's
    assert "have been sent a reminder" in str(digest.card)


async def test_two_workers_at_once_send_every_message_exactly_once(any_db_url):
    db = Database(any_db_url)
    try:
        clock = FixedClock(local(2026, 1, 5, 8))
        world = await make_world(db)
        a = Env(db, clock, ScriptedMessenger(clock), "worker-a")
        plan = [
            ("low_primary", "ann", local(2026, 2, 3, 10)),
            ("secondary", "ann", local(2026, 2, 4, 10)),
            ("trust_a", "ann", local(2026, 2, 5, 10)),
            ("trust_b", "ann", local(2026, 2, 9, 10)),
            ("bob_school", "bob", local(2026, 2, 10, 10)),
        ]
        for key, officer, at in plan:
            await a.booking.book(world.officer(officer), world.schools[key], at)
        b = Env(db, clock, ScriptedMessenger(clock), "worker-b")
        for day in (local(2026, 1, 5, 8, 30), local(2026, 1, 28, 10, 1), local(2026, 2, 8, 10, 1)):
            clock.now = day
            await asyncio.gather(a.jobs.run_all(), b.jobs.run_all(), a.jobs.run_all(), b.jobs.run_all())
        # Each day's four concurrent passes must send each message once (same recipient, same text, same day).
        per_day = Counter(entry for env in (a, b) for entry in env.messenger.log)
        assert max(per_day.values()) == 1, [k for k, n in per_day.items() if n > 1]
        sends = Counter((r, text) for r, text, _ in per_day)
        by_kind = Counter(text.split(":")[0] for _, text in sends)
        # 5 meetings x 2 school contacts: booked by the officer, so both get the proposal (accept it or pick another
        # time) and no second "TSM booked" for the same change; on 28 Jan the 7-day reminders of the 3 Feb (due
        # since the 27th: "in 6 days") and 4 Feb meetings go; on 8 Feb the 10 Feb one's goes late ("in 2 days"),
        # and the 9 Feb one is tomorrow.
        assert sum(n for k, n in by_kind.items() if k.endswith("Officer booked your TSM")) == 10
        assert by_kind["TSM booked"] == 0 and by_kind["TSM tomorrow"] == 2
        assert (by_kind["TSM in 6 days"], by_kind["TSM in a week"], by_kind["TSM in 2 days"]) == (2, 2, 2)
        # The 3, 4 and 5 Feb meetings have ended: an offer to the officer and both contacts, an evaluation each.
        assert by_kind["Next term's TSM for Low Primary School"] == 3
        assert sum(n for k, n in by_kind.items() if k.startswith("Next term's TSM")) == 9
        assert sum(1 for _, t in sends if t.startswith("How was your TSM")) == 6
        assert (
            len(a.messenger.sent) + len(b.messenger.sent) == (await a.ledger.counts())["sent"] - 3
        )  # - 3 gates
    finally:
        await db.dispose()
