"""The booking conversation's edges (issue 17): what only an old card, a change made meanwhile (the LA's rules, a
colleague, the term dates) or a second press reaches. Each refusal is said in words, with the buttons that lead on,
and nothing is booked or changed. Driven through Router.dispatch with the demo LA (tests/chat/chatkit.py)."""

from __future__ import annotations

from datetime import date, datetime
from importlib import resources

import pytest
from chatkit import NOW, Chat, choices, facts, input_values, text_of, titles, told
from sqlalchemy import delete
from sqlmodel import col, select
from test_chat_booking import ASHCOMBE, BROOKFIELD, UPTON, book_through_chat, booked, walk_to_confirm
from test_chat_races import OutlookLike

from tsm.adapters.db.directory import LA, SchoolContact, Term, TermBreak
from tsm.adapters.db.engine import Database
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.demo import DEMO_LA_CODE, load_demo
from tsm.importers.gias import csv_text
from tsm.importers.people import import_trust_officers_in
from tsm.messaging import Recipient
from tsm.services.actors import Actor
from tsm.settings import Settings

KESTREL = 990012  # academy of trust 9002 (no allocated officer in the demo), Alex Carter's: books itself


async def _next_terms_not_set(chat: Chat) -> None:
    """The LA has published no term dates after the current (autumn 2026) term."""
    async with chat.app.db.transaction() as s:
        later = [t.id for t in await s.exec(select(Term).where(Term.start_date > NOW.date()))]
        await s.exec(delete(TermBreak).where(col(TermBreak.term_id).in_(later)))
        await s.exec(delete(Term).where(col(Term.id).in_(later)))
    chat.app.reference.invalidate()


async def _trust_gets_an_officer(chat: Chat, officer_email: str) -> None:
    """The LA allocates an officer to Kestrel's trust (the trust officers' import): under the demo's rules its
    schools are then contacted directly, and no longer book themselves."""
    async with chat.app.db.transaction() as s:
        report = await import_trust_officers_in(
            s,
            csv_text(("trust_code", "officer_email"), [("9002", officer_email)]),
            la_code=DEMO_LA_CODE,
            actor="system:test",
        )
    assert not report.errors, report.errors


def _nothing_to_book(reply) -> bool:
    return "Nothing to book just now" in text_of(reply)


# ---------------------------------------------------------------------- the next term


async def test_this_terms_tsm_booked_and_next_terms_dates_not_set_says_both_and_offers_no_time(chat):
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")  # this term's times, on a card kept open
    await _next_terms_not_set(chat)
    done, _ = await book_through_chat(chat, lead)
    assert not done.error, text_of(done)
    before = await chat.snapshot()

    again = await chat.say(lead, "book")
    words = text_of(again)
    assert _nothing_to_book(again)
    assert f"You already have the Autumn term 2026-27 TSM: {facts(done)['When']}." in words
    assert "Next term's dates are not set yet. Please try again later." in words
    assert titles(again.card) == ["My meetings", "Help"]  # to move or cancel the one booked

    # "More dates" on the card drawn before the booking: the same answer, not this term's dates again
    old = await chat.press(lead, first, "More dates", mode="teams")
    assert _nothing_to_book(old) and "Next term's dates are not set yet" in text_of(old)
    assert "You already have the Autumn term 2026-27 TSM" in text_of(old)
    assert titles(old.card) == ["My meetings", "Help"]
    assert await chat.snapshot() == before


async def test_this_and_next_terms_both_booked_says_so_at_the_first_card(chat):
    lead = await chat.contact(ASHCOMBE)
    school = await chat.school(ASHCOMBE)
    actor = await chat.identify(lead.who)
    for term in ("current", "next"):
        free = await chat.app.booking.free_slots(actor, school.id, term=term, mode="teams", limit=1)
        await chat.app.booking.book(actor, school.id, free.slots[0].start, mode="teams")
    r = await chat.say(lead, "book")
    assert _nothing_to_book(r)
    assert (
        "Ashcombe Primary School is already booked for the Autumn term 2026-27 and the Spring term 2026-27. "
        "Only one TSM per term: you can move or cancel one." in text_of(r)
    )
    assert titles(r.card) == ["My meetings", "Help"] and "start" not in input_values(r.card)


# ---------------------------------------------------------------------- a school the LA now contacts directly


async def test_choose_this_time_after_the_school_became_contacted_directly_says_who_will_contact_it(chat):
    lead = await chat.contact(KESTREL)
    officer = await chat.officer_of(KESTREL)
    first = await chat.say(lead, "book")
    assert not first.error and "Book your TSM" in text_of(first)
    await _trust_gets_an_officer(chat, officer.email)
    await told(chat)
    r = await chat.press(lead, first, "Choose this time")
    words = text_of(r)
    assert "You don't need to book" in words
    assert "Your trust has an allocated officer, who will contact you directly" in words
    assert f"Your link officer is {officer.name} ({officer.email})." in words
    assert "We have let them know you asked." in words
    assert titles(r.card) == ["My meetings", "Help"]  # nothing that books
    ((recipient, message),) = await told(chat)
    assert recipient == Recipient("officer", officer.id) and "contacted directly" in message.text
    assert await chat.meetings_of(KESTREL) == []


async def test_book_it_after_the_school_became_contacted_directly_is_refused_naming_the_officer_once(chat):
    """The booking service refuses with its own words, which name the officer already: said once, not twice."""
    lead = await chat.contact(KESTREL)
    officer = await chat.officer_of(KESTREL)
    review, _ = await walk_to_confirm(chat, lead)
    assert "Book it" in titles(review.card)
    await _trust_gets_an_officer(chat, officer.email)
    await told(chat)
    r = await chat.press(lead, review, "Book it")
    words = text_of(r)
    assert "You don't need to book" in words and "will contact you directly" in words
    assert words.count(officer.name) == 1 and f"{officer.name} ({officer.email})" in words
    assert "We have let them know you asked." in words
    assert titles(r.card) == ["My meetings", "Help"]
    assert [rc for rc, m in await told(chat) if "contacted directly" in m.text] == [
        Recipient("officer", officer.id)
    ]
    assert await chat.meetings_of(KESTREL) == []


async def test_the_next_tsm_card_pressed_after_the_school_became_contacted_directly_books_nothing(chat):
    lead = await chat.contact(KESTREL)
    officer = await chat.officer_of(KESTREL)
    school = await chat.school(KESTREL)
    free = await chat.app.booking.free_slots(Actor.system(), school.id, term="next", mode="teams", limit=1)
    await _trust_gets_an_officer(chat, officer.email)
    r = await chat.act(
        lead,
        "offer.pick_slot",
        {"schoolId": school.id, "start": free.slots[0].start.isoformat(), "mode": "teams"},
    )
    words = text_of(r)
    assert "You don't need to book" in words and f"Your link officer is {officer.name}" in words
    assert titles(r.card) == ["My meetings", "Help"] and "Who will attend?" not in words
    assert await chat.meetings_of(KESTREL) == []


async def test_undo_of_a_cancellation_by_a_school_the_la_contacts_is_refused_with_who_will_contact_it(chat):
    """The school's cancellation card offers it no Undo (issue 14, item 7g); the Undo verb sent anyway (an old
    client, a forged card) books nothing and says who will contact it."""
    school = await chat.school(UPTON)
    start = (await chat.app.booking.free_slots(Actor.system(), school.id, mode="teams")).slots[0].start
    await chat.app.booking.book(Actor.system(), school.id, start, mode="teams")  # the LA arranged it
    lead = await chat.contact(UPTON)
    officer = await chat.officer_of(UPTON)
    confirm = await chat.press(
        lead, await chat.say(lead, "cancel"), "Continue", reason="Ofsted visit that week"
    )
    done = await chat.press(lead, confirm, "Yes, cancel it")
    assert not done.error and "Undo" not in titles(done.card)
    [m] = await chat.meetings_of(UPTON)
    await told(chat)

    r = await chat.act(lead, "meeting.undo_cancel", {"meetingId": m.id})
    words = text_of(r)
    assert "You don't need to book" in words and "contact you directly" in words
    assert words.count(officer.name) == 1 and "We have let them know you asked." in words
    assert titles(r.card) == ["My meetings", "Help"]
    assert [x.status for x in await chat.meetings_of(UPTON)] == ["cancelled"]
    assert [rc for rc, msg in await told(chat) if "contacted directly" in msg.text] == [
        Recipient("officer", officer.id)
    ]


# ---------------------------------------------------------------------- the first card and who attends


async def test_a_way_to_meet_the_la_no_longer_offers_is_refused_at_choose_this_time(chat, tmp_path):
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")
    assert input_values(first.card)["mode"] == "teams"
    text = (resources.files("tsm.policies") / "demo.toml").read_text(encoding="utf-8")
    text = text.replace(
        'modes_allowed = ["teams", "on_site"]\ndefault_mode = "teams"',
        'modes_allowed = ["on_site"]\ndefault_mode = "on_site"',
    )
    policy = tmp_path / "onsite_only.toml"
    policy.write_text(text, encoding="utf-8")
    async with chat.app.db.transaction() as s:
        la = (await s.exec(select(LA))).first()
        la.policy = str(policy)
        s.add(la)
    chat.app.reference.invalidate()

    r = await chat.press(lead, first, "Choose this time")  # Teams, chosen on the card before the change
    assert r.error and "Demoshire offers TSMs in person at school only. Please pick one of them." in text_of(
        r
    )
    assert await chat.meetings_of(ASHCOMBE) == []
    again = await chat.say(lead, "book")  # starting again offers what the LA offers now
    assert not again.error and "How: In person at school." in text_of(again)


async def test_no_senior_leader_on_record_lets_the_school_pick_who_attends_as_one(chat):
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    async with chat.app.db.transaction() as s:
        c = await s.get(SchoolContact, leader.id)
        c.active = False  # left the school
        s.add(c)
    lead = await chat.contact(ASHCOMBE)
    first = await chat.say(lead, "book")
    who = await chat.press(lead, first, "Choose this time")
    assert "No one is recorded as your senior leader: pick who will attend as the senior leader." in text_of(
        who
    )
    picks = [c["value"] for c in choices(who.card, "leader")]
    assert str(lead.id) in picks and str(leader.id) not in picks
    assert input_values(who.card)["leader"] == str(lead.id)  # the person booking, unless they pick another
    done = await chat.press(lead, who, "Book it")
    assert not done.error, text_of(done)
    assert facts(done)["Invited"].startswith(f"{lead.name} (senior leader)")


async def test_the_senior_leader_booking_is_invited_once_as_the_senior_leader(chat):
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    review, _ = await walk_to_confirm(chat, leader)
    invited = facts(review)["Invited"]
    assert invited.startswith(f"{leader.name} (senior leader)")
    assert "(you)" not in invited and invited.count(leader.name) == 1


# ---------------------------------------------------------------------- pressed again, or raced


async def test_yes_cancel_it_pressed_again_says_it_is_cancelled_already_and_tells_no_one_twice(chat):
    lead, m = await booked(chat)
    confirm = await chat.press(
        lead, await chat.say(lead, "cancel"), "Continue", reason="Ofsted visit that week"
    )
    first = await chat.press(lead, confirm, "Yes, cancel it")
    assert not first.error and (await chat.meeting(m.id)).status == "cancelled"
    await told(chat)
    before = await chat.snapshot()
    again = await chat.press(lead, confirm, "Yes, cancel it")
    assert again.error and "That can't be changed" in text_of(again)
    assert "This meeting is cancelled, so it cannot be cancelled." in text_of(again)
    assert titles(again.card) == ["My meetings", "Help"]
    assert await chat.snapshot() == before and await told(chat) == []


async def test_the_officers_next_tsm_card_for_a_school_that_booked_meanwhile_says_already_booked(chat):
    officer = await chat.officer_of(BROOKFIELD)
    lead = await chat.contact(BROOKFIELD)
    school = await chat.school(BROOKFIELD)
    free = await chat.app.booking.free_slots(Actor.system(), school.id, term="next", mode="on_site")
    mine = free.slots[0].start
    assert mine.isoformat() == "2027-01-05T09:00:00+00:00"  # the spring term's first morning
    other = next(sl.start for sl in free.slots if sl.start.date() != mine.date())
    await chat.app.booking.book(
        await chat.identify(lead.who), school.id, mine, mode="on_site"
    )  # the school's own
    before = await chat.snapshot()
    r = await chat.act(
        officer, "offer.pick_slot", {"schoolId": school.id, "start": other.isoformat(), "mode": "on_site"}
    )
    words = text_of(r)
    assert r.error and "Already booked" in words
    assert "Brookfield Infant School is already booked for the spring term on 5 January at 09:00." in words
    assert "Only one TSM per term" in words and titles(r.card) == ["My meetings", "Help"]
    assert await chat.snapshot() == before


class ColleagueFirst(OutlookLike):
    """Outlook's stand-in, where a colleague's booking lands while the officer's busy times are asked of Outlook
    (between the booking's checks and its write): the moment two staff of one school press Book it together."""

    meanwhile = None

    async def busy(self, calendars, window):
        step, self.meanwhile = self.meanwhile, None
        if step is not None:
            await step()
        return await super().busy(calendars, window)


@pytest.fixture
async def colleague_chat(sqlite_url, tmp_path):
    clock = FixedClock(NOW)
    settings = Settings(
        database_url=sqlite_url, calendar_backend="graph", graph_tenant_id="t", graph_client_id="c"
    )
    db = Database(sqlite_url)
    calendar = ColleagueFirst(db)
    app = build_app(settings, clock=clock, calendar=calendar)
    await load_demo(app.db, today=date(2026, 11, 23))
    yield Chat(app, clock), calendar
    await app.close()
    await db.dispose()


async def test_a_colleague_booking_the_same_time_at_the_same_moment_is_said_as_the_schools_booking(
    colleague_chat,
):
    """With Outlook the busy times are read between the checks and the write: a colleague's booking of the very
    time lands there, and the time is refused as taken. It was taken by the school itself: the loser is told the
    school is booked (and when), not that the time has just gone with other times to pick."""
    chat, calendar = colleague_chat
    lead = await chat.contact(ASHCOMBE)
    leader = await chat.contact(ASHCOMBE, "senior_leader")
    school = await chat.school(ASHCOMBE)
    review, start = await walk_to_confirm(chat, lead)

    async def colleague_books() -> None:
        actor = await chat.identify(leader.who)
        await chat.app.booking.book(actor, school.id, datetime.fromisoformat(start), mode="teams")

    calendar.meanwhile = colleague_books
    r = await chat.press(lead, review, "Book it")
    words = text_of(r)
    assert r.error and "Already booked" in words and "Just taken" not in words
    when = facts(r)["When"]  # the colleague's booking, with its facts
    assert when.startswith("Wednesday 25 November 09:00")
    assert f"Ashcombe Primary School is already booked for the Autumn term 2026-27: {when}." in words
    assert "Only one TSM per term." in words and facts(r)["Link officer"] == "Alex Carter"
    assert titles(r.card) == ["My meetings", "Help"] and "start" not in input_values(r.card)
    [m] = await chat.meetings_of(ASHCOMBE)
    assert m.start.isoformat() == start and m.booked_by == f"contact:{leader.id}"
