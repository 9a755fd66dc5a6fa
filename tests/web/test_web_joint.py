"""A joint TSM through the web page (issue 13, item 7): the page runs the same router as Teams, so a contact of one of
a trust's schools (Kent's profile allows it) books one TSM for several of the trust's schools from the same cards,
rendered as a form: the schools as checkboxes, the place and the time as choices."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import select

from tsm.adapters.db.directory import LA, School, SchoolContact
from tsm.adapters.db.meetings import Meeting, MeetingSchool
from tsm.messaging import Recipient

QUEENSWAY, LARKSPUR, ZEPHYR = 990017, 990013, 990025  # the Wexbridge Schools Partnership's, Priya Shah's


async def test_a_trust_contact_books_a_joint_tsm_through_the_page(site):
    async with site.app.db.transaction() as s:
        await s.exec(update(LA).values(policy="kent"))
    site.app.booking.ref._las.clear()
    async with site.app.db.reader() as s:
        schools = {sc.urn: sc.id for sc in await s.exec(select(School).where(School.trust_code == "9002"))}
        will = (
            await s.exec(
                select(SchoolContact).where(
                    SchoolContact.school_id == schools[QUEENSWAY], SchoolContact.role == "attendance_lead"
                )
            )
        ).one()
    u = await site.user()
    await u.open_link(await site.app.signin.issue(Recipient("contact", will.id)))
    page = await u.post("/web/say", {"csrf": u.csrf(), "text": "joint tsm"})
    assert u.status == 200 and "Book a joint TSM" in page.text, page.text
    form = next(f for f in page.forms if "i.schools" in f.choices)
    trio = {str(schools[urn]) for urn in (LARKSPUR, QUEENSWAY, ZEPHYR)}
    assert set(form.choices["i.schools"]) == trio and set(form.fields["i.schools"]) == trio  # all ticked
    pair = [str(schools[QUEENSWAY]), str(schools[LARKSPUR])]
    page = await u.press("Choose this time", values={"schools": pair})
    assert u.status == 200 and "Book this TSM?" in page.text, page.text
    page = await u.press("Book it")
    assert "Joint TSM booked" in page.text, page.text
    async with site.app.db.reader() as s:
        [mid] = list(
            await s.exec(select(MeetingSchool.meeting_id).where(MeetingSchool.school_id == schools[LARKSPUR]))
        )
        joined = set(await s.exec(select(MeetingSchool.school_id).where(MeetingSchool.meeting_id == mid)))
        m = await s.get(Meeting, mid)
    assert joined == {schools[QUEENSWAY], schools[LARKSPUR]} and m.booked_by == f"contact:{will.id}"
