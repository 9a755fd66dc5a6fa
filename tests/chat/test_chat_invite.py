"""An officer sends a school its link to book from Teams ("invite school"): an ``invited`` event, told to the school's
attendance leads and senior leaders by the notifications (Teams, or an email with their sign-in link)."""

from __future__ import annotations

from chatkit import choices, facts, text_of, told

from tsm.adapters.db.directory import SchoolContact

BROOKFIELD = 990002  # Priya Shah's
ASHCOMBE = 990001  # Alex Carter's


async def test_an_officer_invites_one_of_their_schools_from_teams(chat):
    officer = await chat.officer_of(BROOKFIELD)
    school = await chat.school(BROOKFIELD)
    other = await chat.school(ASHCOMBE)
    picker = await chat.say(officer, "invite school")
    values = [c["value"] for c in choices(picker.card, "schoolId")]
    assert str(school.id) in values and str(other.id) not in values  # only their own schools
    done = await chat.press(officer, picker, "Send the invitation", schoolId=str(school.id))
    assert "Invitation on its way" in text_of(done)
    assert facts(done)["School"] == school.name
    assert "by email with their link to book" in text_of(done)
    messages = await told(chat)
    assert {m.text for _, m in messages} == {f"{officer.name} invites {school.name} to book this term's TSM."}
    async with chat.app.db.reader() as s:
        roles = {(await s.get(SchoolContact, r.id)).role for r, _ in messages}
    assert roles <= {"attendance_lead", "senior_leader"} and len(messages) >= 1
    card = messages[0][1].card
    assert "book.start" in str(card)  # the Book button (an email carries the sign-in link instead)


async def test_an_officer_cannot_invite_another_officers_school(chat):
    officer = await chat.officer_of(BROOKFIELD)
    other = await chat.school(ASHCOMBE)
    reply = await chat.act(officer, "officer.invite", {"schoolId": str(other.id)})
    assert reply.error and "not on your list" in text_of(reply)
    assert await told(chat) == []


async def test_school_staff_cannot_invite(chat):
    contact = await chat.contact(BROOKFIELD)
    reply = await chat.say(contact, "invite school")
    assert reply.error and "That command is not open to you" in text_of(reply)
