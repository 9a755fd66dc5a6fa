"""The must-show of issue 15 item 1 in Teams: an LA admin of one LA (Demoshire's Alex Carter) asks for free times and
"book for school" for a school of another LA in the same database (Norfolk's, from tests/factories): refused with a
clear message, and nothing of that LA shown (no school, officer or time), nothing changed."""

from __future__ import annotations

from chatkit import Person, text_of, titles
from factories import make_world
from sqlmodel import select

from tsm.adapters.db.directory import Officer, School
from tsm.chat import Who
from tsm.services.actors import ANOTHER_LA


async def people_of_b(chat):
    world = await make_world(chat.app.db)  # Norfolk (926), beside the demo LA (999)
    return world, ["Low Primary School", "Ann Officer", "ann@la.example", "100001", "Norwich"]


async def demo_admin(chat) -> Person:
    async with chat.app.db.reader() as s:
        o = (await s.exec(select(Officer).where(Officer.email == "alex.carter@demo.example"))).one()
    assert o.is_admin
    return Person(Who(email=o.email, name=o.name, aad_object_id=f"aad-o{o.id}"), o.id, o.name, o.email)


async def test_an_la_admin_asking_for_another_las_schools_times_or_booking_is_refused_and_shown_nothing(chat):
    b, b_words = await people_of_b(chat)
    admin = await demo_admin(chat)
    before = await chat.snapshot()
    b_school = b.schools["low_primary"]
    for verb in ("officer.pick_school", "officer.offer_slots", "officer.invite"):
        reply = await chat.act(admin, verb, {"schoolId": b_school})
        said = text_of(reply)
        assert ANOTHER_LA in said, verb
        for word in b_words:
            assert word not in said, (verb, word)
        assert not any(t.startswith(("Choose", "Book")) for t in titles(reply.card)), verb  # no time to press
    assert await chat.snapshot() == before
    # "book for school" offers the admin their own schools only.
    picker = await chat.say(admin, "book for school")
    assert "Low Primary School" not in str(picker.card) and "Low Primary School" not in text_of(picker)


async def test_an_la_admin_still_books_for_a_school_of_their_own_la(chat):
    b_la = (await people_of_b(chat))[0].la_id
    admin = await demo_admin(chat)
    async with chat.app.db.reader() as s:
        school = (
            await s.exec(
                select(School).where(
                    School.la_id != b_la,
                    School.link_officer_id != admin.id,
                    School.booking_route == "self",
                    School.open == True,  # noqa: E712
                )
            )
        ).first()  # a demo school of another officer
    reply = await chat.act(admin, "officer.pick_school", {"schoolId": school.id})
    assert ANOTHER_LA not in text_of(reply) and school.name in text_of(reply)
    assert any(t.startswith("Choose") for t in titles(reply.card))
