"""The must-show of issue 15 item 1 on the web page: another LA (Norfolk, from tests/factories) in the demo's database
with a meeting of its own. A signed-in demo contact cannot reach that meeting, and a signed-in demo LA admin cannot
reach that LA's school: each refused by the Teams rule, with nothing of the other LA on the page."""

from __future__ import annotations

import json
from pathlib import Path

from factories import make_world
from sqlmodel import select

from tsm.adapters.db.directory import Officer
from tsm.adapters.db.meetings import Meeting
from tsm.importers.terms import import_terms_file
from tsm.messaging import Recipient

TERMS = Path(__file__).resolve().parents[2] / "tsm" / "data" / "example-terms-2026-28.csv"
NORFOLK_WORDS = ("Low Primary School", "Ann Officer", "ann@la.example", "Norwich")


async def norfolk_meeting(site):
    b = await make_world(site.app.db)
    await import_terms_file(site.app.db, b.la_id, TERMS)
    offer = await site.app.booking.free_slots(b.officer("ann"), b.schools["low_primary"], limit=1)
    booked = await site.app.booking.book(b.officer("ann"), b.schools["low_primary"], offer.slots[0].start)
    return b, booked.meeting.id


async def act(u, verb: str, data: dict):
    return await u.post(
        "/web/act",
        {
            "csrf": u.csrf(),
            "action": json.dumps({"verb": verb, "data": {"verb": verb, **data}, "inputs": False}),
        },
    )


def shows_nothing_of_norfolk(page) -> None:
    for word in NORFOLK_WORDS:
        assert word not in page.text, word


async def meeting_row(site, meeting_id: int) -> tuple:
    async with site.app.db.reader() as s:
        m = await s.get(Meeting, meeting_id)
        return (m.status, m.start, m.end)


async def test_a_signed_in_contact_cannot_reach_another_las_meeting(site):
    b, meeting_id = await norfolk_meeting(site)
    before = await meeting_row(site, meeting_id)
    lead = await site.bookable_lead()
    u = await site.user()
    await u.open_link(await site.app.signin.issue(Recipient("contact", lead.id)))
    for verb, data in (
        ("meeting.cancel", {"meetingId": meeting_id, "reason": "forged"}),
        ("meeting.move_start", {"meetingId": meeting_id}),
        ("meeting.add_colleague", {"meetingId": meeting_id, "name": "Eve", "email": "eve@x.example"}),
        ("record.edit", {"meetingId": meeting_id}),
    ):
        page = await act(u, verb, data)
        assert u.status == 200 and "another school's meeting" in page.text, (verb, page.text)
        shows_nothing_of_norfolk(page)
    assert await meeting_row(site, meeting_id) == before


async def test_a_signed_in_la_admin_cannot_reach_another_las_school_or_meeting(site):
    b, meeting_id = await norfolk_meeting(site)
    before = await meeting_row(site, meeting_id)
    async with site.app.db.reader() as s:
        admin = (await s.exec(select(Officer).where(Officer.email == "alex.carter@demo.example"))).one()
    u = await site.user()
    await u.open_link(await site.app.signin.issue(Recipient("officer", admin.id)))
    for verb, data in (
        ("officer.pick_school", {"schoolId": b.schools["low_primary"]}),
        ("meeting.cancel", {"meetingId": meeting_id, "reason": "forged"}),
        ("meeting.move_start", {"meetingId": meeting_id}),
    ):
        page = await act(u, verb, data)
        assert u.status == 200 and "another LA" in page.text, (verb, page.text)
        shows_nothing_of_norfolk(page)
    assert await meeting_row(site, meeting_id) == before
