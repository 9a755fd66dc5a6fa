"""An LA whose profile says its officers arrange every school's TSM (``booking.schools_book_themselves = false``): its
schools are never offered a booking they cannot make. The chat offered every card of the booking and refused only at
"Book it", because the chat asked the entitlement (``may_book``) and the booking service asked the profile too: the
rule is now one, the entitlement's. The officer still books for the school."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatkit import choices, make_chat, text_of, titles
from sqlmodel import select
from test_chat_booking import ASHCOMBE

from tsm.adapters.db.directory import LA, School
from tsm.adapters.db.history import DomainEvent

ARRANGED = "Your link officer arranges your TSMs."


@pytest.fixture
def officers_arrange(tmp_path) -> Path:
    """The demo profile with ``schools_book_themselves = false``, as a file an LA's policy can name."""
    text = (Path(__file__).resolve().parents[2] / "tsm" / "policies" / "demo.toml").read_text()
    assert "schools_book_themselves = true" in text
    path = tmp_path / "demo_officers_arrange.toml"
    path.write_text(text.replace("schools_book_themselves = true", "schools_book_themselves = false"))
    return path


@pytest.fixture
async def chat(sqlite_url, tmp_path, officers_arrange):
    c = await make_chat(sqlite_url, tmp_path)
    path = officers_arrange
    async with c.app.db.transaction() as s:
        for la in await s.exec(select(LA)):
            la.policy = str(path)
            s.add(la)
    c.app.reference.invalidate()
    yield c
    await c.app.close()


async def test_a_school_is_told_its_officer_arranges_it_at_book_and_is_offered_no_booking(chat):
    lead = await chat.contact(ASHCOMBE)
    officer = await chat.officer_of(ASHCOMBE)
    reply = await chat.say(lead, "book")
    assert "You don't need to book" in text_of(reply)
    assert ARRANGED in text_of(reply) and officer.name in text_of(reply)
    assert "Choose this time" not in titles(reply.card) and titles(reply.card) == ["My meetings", "Help"]
    assert await chat.meetings_of(ASHCOMBE) == []
    async with chat.app.db.reader() as s:  # the officer is told the school asked
        asked = list(await s.exec(select(DomainEvent.kind).where(DomainEvent.kind == "book_requested")))
    assert asked == ["book_requested"]
    help_reply = await chat.say(lead, "help")
    assert "you don't need to book" in text_of(help_reply)
    mine = await chat.say(lead, "my meetings")
    assert "Book this term's now?" not in text_of(mine) and ARRANGED in text_of(mine)


async def test_the_officer_still_books_for_the_school(chat):
    officer = await chat.officer_of(ASHCOMBE)
    async with chat.app.db.reader() as s:
        school = (await s.exec(select(School).where(School.urn == ASHCOMBE))).one()
    picker = await chat.say(officer, "book for school")
    start = await chat.press(officer, picker, "Next", schoolId=str(school.id))
    assert not start.error, text_of(start)
    assert choices(start.card, "start"), text_of(start)  # the free times, for the officer to choose
    review = await chat.press(officer, start, "Choose this time")
    done = await chat.press(officer, review, "Book it")
    assert not done.error, text_of(done)
    [m] = await chat.meetings_of(ASHCOMBE)
    assert m.booked_by == f"admin:{officer.id}"  # Alex Carter, the demo LA's admin, is Ashcombe's officer
