"""Round trips per booking turn, counted, not timed: a later change that adds database work to the hot turns
fails here (``bench/bot_turns.py`` times them).

The driver reports every statement it runs (tests/driver_trace.py: SQLite's trace callback, BEGIN and ROLLBACK
included; psycopg's cursor executes), so the count covers every path a read can take: ORM, Core, or the driver
itself.
The actor is resolved outside the count (the transport does it for all turns in flight in one batched read).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from chatkit import Chat, actions, button, choices, make_chat, text_of
from driver_trace import DriverTrace

from tsm.adapters.db.offers import ChatOffer
from tsm.chat.common import conversation
from tsm.services.conversation import ConversationService, ExpiredOffer

ASHCOMBE = 990001  # demo primary, self-booking, officer Alex Carter
BROOKFIELD = 990002

# Budgets: statements SQLite runs for the booking flow of one turn (see the module docstring).
# "book" shows the soonest free times at once (issue 14, item 3: book in three presses, the mode step gone): the
# school, its officer, LA and trust allocation in one SELECT; the school's meetings; the free times (the officer,
# their meetings and calendar entries, in read transactions); the offer written (BEGIN IMMEDIATE, INSERT, COMMIT).
# Was 1 when "book" only asked how to meet and the next turn did the rest. 14 since the sender is found by AAD id in
# one statement (officer or contact; it was two for a contact: the officers first, then the contacts). 11 since the
# terms the school holds a TSM in come with the school (no read of its meetings unless one is booked) and the offer
# is one INSERT (issue 15 item 5). 8 since the free times take the school and officer that read gave (no second
# read of them) and read the officer's TSMs and calendar entries in one read transaction; 7 since those two are one
# statement (UNION ALL); 3 since the school, the free times' read and the offer's INSERT go straight to the driver
# (tsm.adapters.db.hot: no BEGIN/ROLLBACK around a read, the INSERT committed by itself).
BOOK_COMMAND = 3
# On PostgreSQL (psycopg's cursor executes, tests/driver_trace.py): the school with everything the card needs, the
# officer's TSMs and calendar entries, the offer's INSERT; each in autocommit, one round trip, no BEGIN/COMMIT.
BOOK_COMMAND_POSTGRES = 3
# "Choose this time" on the first card (book.pick_start, a contact): the school (one read that also gives the
# officer), the time's day re-checked (the officer's TSMs and calendar entries on that day, one read: not the whole
# term), the school's contacts for the attendees card (a read transaction: BEGIN, the school, its contacts,
# ROLLBACK). Was 10: the schools and officer read again in a session to re-search the whole term, and the school
# read a second time for the booking's facts.
PICK_START = 6
PICK_DATE_WARM = 0  # the offer this instance wrote (offers never change once written)
PICK_DATE_COLD = 1  # the offer written by another instance: one SELECT
# "Book it" with the local calendar, BEGIN/COMMIT included, in one transaction: the schools with their officer,
# the meetings that matter (the school's booking this term, the officer's day), the contacts and the officer's busy
# times (4 reads); the meeting, its school, attendees and 5-minute blocks as one multi-row INSERT each, the day's
# seat in one INSERT ... SELECT, the calendar entry, audit, domain event and status (9 writes). The confirmation is
# built from what the write had: no read after it. Was 70 statements in 10 transactions (issue 10 asked <= 15 in 3).
BOOK_CONFIRM = 15
BOOK_CONFIRM_TRANSACTIONS = 1


class TracedChat(Chat):
    """Identify outside the count: the flow's own statements only."""

    trace: DriverTrace

    async def identify(self, who):
        was, self.trace.on = self.trace.on, False
        try:
            return await super().identify(who)
        finally:
            self.trace.on = was


async def traced(chat: Chat) -> tuple[TracedChat, DriverTrace]:
    t = TracedChat(chat.app, chat.clock)
    t.trace = await DriverTrace().install(chat.app.db)
    return t, t.trace


async def _dates(chat: Chat, lead):
    start = await chat.say(lead, "book")
    return await chat.press(lead, start, "More dates", mode="teams")


async def test_book_command_turn_stays_within_its_statement_budget(chat):
    c, trace = await traced(chat)
    lead = await c.contact(ASHCOMBE)
    await c.say(lead, "book")  # warm: the pool's connection is made (and its PRAGMAs run) outside the count
    reply, stmts = await trace.count(lambda: c.say(lead, "book"))
    assert not reply.error, text_of(reply)
    assert [c["title"] for c in choices(reply.card, "mode")] == [
        "On Microsoft Teams (recommended)",
        "In person at school",
    ]
    assert "Alex Carter" in text_of(reply) and "below the national average" in text_of(reply)
    assert len(stmts) <= BOOK_COMMAND, stmts
    assert stmts and stmts[0].startswith("SELECT"), "the school is read from the database on every turn"


@pytest.mark.postgres
async def test_book_command_turn_on_postgres_stays_within_its_statement_budget(pg_url, tmp_path):
    chat = await make_chat(pg_url, tmp_path)
    try:
        c = TracedChat(chat.app, chat.clock)
        c.trace = await DriverTrace().install(chat.app.db)
        lead = await c.contact(ASHCOMBE)
        await c.say(lead, "book")  # warm: the LA's reference data and the pool's connection
        with c.trace:
            reply = await c.say(lead, "book")
        stmts = c.trace.statements
        assert not reply.error, text_of(reply)
        assert "Alex Carter" in text_of(reply) and choices(reply.card, "start")
        assert len(stmts) <= BOOK_COMMAND_POSTGRES, stmts
        assert [st.split()[0] for st in stmts] == ["SELECT", "SELECT", "INSERT"], stmts
    finally:
        await chat.app.close()


async def test_book_it_turn_stays_within_its_statement_budget(chat):
    c, trace = await traced(chat)
    lead = await c.contact(ASHCOMBE)
    dates = await _dates(c, lead)
    times = await c.press(lead, dates, "Show times", date=choices(dates.card, "date")[0]["value"])
    who = await c.press(lead, times, "Choose this time", start=choices(times.card, "start")[0]["value"])
    review = await c.press(lead, who, "Next")
    reply, stmts = await trace.count(lambda: c.press(lead, review, "Book it"))
    assert not reply.error and "TSM booked: Ashcombe Primary School" in text_of(reply)
    transactions = [st for st in stmts if st.startswith("BEGIN")]
    assert len(stmts) <= BOOK_CONFIRM, "\n".join(stmts)
    assert len(transactions) <= BOOK_CONFIRM_TRANSACTIONS, "\n".join(stmts)
    # one INSERT per table, however many blocks and people
    inserts = [st.split(" (")[0] for st in stmts if st.startswith("INSERT")]
    assert len(inserts) == len(set(inserts)), inserts


async def test_choose_this_time_turn_stays_within_its_statement_budget(chat):
    c, trace = await traced(chat)
    lead = await c.contact(ASHCOMBE)
    first = await c.say(lead, "book")
    start = choices(first.card, "start")[0]["value"]
    reply, stmts = await trace.count(lambda: c.press(lead, first, "Choose this time", start=start))
    assert not reply.error and "Book it" in [a["title"] for a in actions(reply.card)], text_of(reply)
    assert "Ashcombe Primary School" in text_of(reply)  # the booking's facts, from the turn's one school read
    assert len(stmts) <= PICK_START, "\n".join(stmts)


async def test_pick_date_turn_stays_within_its_statement_budget(chat):
    c, trace = await traced(chat)
    lead = await c.contact(ASHCOMBE)
    dates = await _dates(c, lead)
    day = choices(dates.card, "date")[0]["value"]
    data = dict(button(dates.card, "Show times")["data"])
    data.pop("verb")

    reply, stmts = await trace.count(lambda: c.act(lead, "book.pick_date", {**data, "date": day}))
    assert not reply.error, text_of(reply)
    assert choices(reply.card, "start"), "the times of that day are on the card"
    assert len(stmts) <= PICK_DATE_WARM, stmts

    # Another instance (its own services, nothing in memory) reads the offer from the database.
    other = ConversationService(c.app.db, c.app.booking, c.app.reference, clock=c.app.booking.clock)
    c.app.conversation = other
    reply2, stmts2 = await trace.count(lambda: c.act(lead, "book.pick_date", {**data, "date": day}))
    assert reply2.card == reply.card
    assert len(stmts2) <= PICK_DATE_COLD, stmts2
    assert stmts2 and stmts2[0].startswith("SELECT")


async def test_a_remembered_offer_is_still_checked_against_the_actor_and_the_clock(chat):
    lead = await chat.contact(ASHCOMBE)
    other_school = await chat.contact(BROOKFIELD)
    dates = await _dates(chat, lead)
    data = dict(button(dates.card, "Show times")["data"])
    data.pop("verb")
    day = choices(dates.card, "date")[0]["value"]
    assert data["offerId"] in conversation_of(chat)._offers

    forged = await chat.act(other_school, "book.pick_date", {**data, "date": day})
    assert forged.error and "someone else" in text_of(forged)

    # Past its expiry the offer is read afresh and the person gets fresh times, as before.
    chat.clock.now += timedelta(days=4)
    expired = await chat.act(lead, "book.pick_date", {**data, "date": day})
    assert "expired" in text_of(expired) and choices(expired.card, "date")
    fresh_id = button(expired.card, "Show times")["data"]["offerId"]
    assert fresh_id != data["offerId"]

    # Housekeeping deletes long-expired offers: then they are gone, from memory too.
    chat.clock.now += timedelta(days=31)
    assert await conversation_of(chat).purge_offers() >= 1
    assert data["offerId"] not in conversation_of(chat)._offers
    gone = await chat.act(lead, "book.pick_date", {**data, "date": day})
    assert gone.error and "no longer on offer" in text_of(gone)


async def test_an_offer_read_back_equals_the_one_written(chat):
    lead = await chat.contact(ASHCOMBE)
    await _dates(chat, lead)
    svc = conversation_of(chat)
    written = list(svc._offers.values())[-1]
    cold = ConversationService(
        chat.app.db, chat.app.booking, chat.app.reference, clock=chat.app.booking.clock
    )
    actor = await chat.identify(lead.who)
    read = await cold.offer(actor, written.id)
    assert read == written and read.days == written.days
    async with chat.app.db.reader() as s:
        row = await s.get(ChatOffer, written.id)
    assert read.expires_at == row.expires_at and list(read.school_ids) == row.school_ids
    # Not there at all: the same words as before.
    try:
        await cold.offer(actor, "0" * 32)
    except ExpiredOffer as exc:
        assert "no longer on offer" in str(exc) and exc.offer is None
    else:
        raise AssertionError("an unknown offer id must be refused")


def conversation_of(chat: Chat) -> ConversationService:
    class _Ctx:
        services = chat.app

    return conversation(_Ctx())  # type: ignore[arg-type]
