"""Issue 15, item 4: history does not slow today. The booking turns ("book" with its first card, "More dates" with
the dates card, "Book it" with the booking's checks) read only the current and next term's meetings: a school with
six years of held TSMs behind it costs the same statements as a school with none (it cost 2 + 4 statements a past
meeting). Counted with SQLite's trace callback (``test_turn_statements``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chatkit import choices, make_chat, text_of
from sqlmodel import select
from test_turn_statements import ASHCOMBE, traced

from tsm.adapters.db.directory import School, SchoolContact, Term
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.adapters.db.migrate import upgrade

YEARS = 6


async def _held_history(chat, urn: int, years: int) -> int:
    """``years`` academic years of held TSMs (three a year, one per term, each with two attendees) before the demo's
    terms; returns how many meetings were added."""
    added = 0
    async with chat.app.db.transaction() as s:
        school = (await s.exec(select(School).where(School.urn == urn))).one()
        contacts = list(await s.exec(select(SchoolContact).where(SchoolContact.school_id == school.id)))
        for y in range(2026 - years, 2026):
            for name, (month, day) in (("autumn", (10, 6)), ("spring", (2, 3)), ("summer", (6, 9))):
                year = y if name == "autumn" else y + 1
                term = Term(
                    la_id=school.la_id,
                    academic_year=f"{y}-{str(y + 1)[2:]}",
                    name=name,
                    start_date=date(year, month, 1),
                    end_date=date(year, month, 28),
                    source="test history",
                )
                s.add(term)
                await s.flush()
                start = datetime(year, month, day, 10, tzinfo=UTC)
                m = Meeting(
                    officer_id=school.link_officer_id,
                    term_id=term.id,
                    start=start,
                    end=start + timedelta(hours=1),
                    mode="teams",
                    meeting_type="tsm",
                    status="held",
                    booked_by=f"contact:{contacts[0].id}",
                    ical_uid=f"history-{term.id}@test",
                    created_at=start - timedelta(days=20),
                    updated_at=start,
                )
                s.add(m)
                await s.flush()
                s.add(
                    MeetingSchool(
                        meeting_id=m.id, school_id=school.id, term_id=term.id, active_term_id=term.id
                    )
                )
                for c in contacts[:2]:
                    s.add(
                        MeetingAttendee(
                            meeting_id=m.id, contact_id=c.id, name=c.name, email=c.email, role=c.role
                        )
                    )
                added += 1
    return added


async def _booking_turns(chat):
    """Statements of "book", "More dates" and "Book it" for Ashcombe's attendance lead, each counted alone."""
    c, trace = await traced(chat)
    lead = await c.contact(ASHCOMBE)
    await c.say(lead, "book")  # warm: the pool's connection is made outside the count
    first, book = await trace.count(lambda: c.say(lead, "book"))
    assert not first.error, text_of(first)
    dates, more = await trace.count(lambda: c.press(lead, first, "More dates"))
    assert not dates.error and choices(dates.card, "date"), text_of(dates)
    review = await c.press(lead, first, "Choose this time")
    done, book_it = await trace.count(lambda: c.press(lead, review, "Book it"))
    assert not done.error and "Your TSM is booked" in text_of(done), text_of(done)
    return {"book": len(book), "More dates": len(more), "Book it": len(book_it)}


async def test_the_booking_turns_cost_the_same_with_years_of_past_meetings(sqlite_url, tmp_path):
    fresh = await make_chat(sqlite_url, tmp_path)
    try:
        without = await _booking_turns(fresh)
    finally:
        await fresh.app.close()

    other_db = f"sqlite:///{tmp_path}/history.db"
    upgrade(other_db)
    old = await make_chat(other_db, tmp_path)
    try:
        assert await _held_history(old, ASHCOMBE, YEARS) == 3 * YEARS
        with_history = await _booking_turns(old)
    finally:
        await old.app.close()
    assert with_history == without, (with_history, without)
