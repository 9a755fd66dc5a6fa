"""LAs are tenants of the data (issue 15, item 1): two LAs in one database, and the one access rule
(``tsm.services.actors.may_act_for``) as every service applies it to an officer, an LA admin, a national admin and a
school contact of LA A facing LA B's schools and meetings. What each is told names nothing of B's."""

from __future__ import annotations

import pytest
from factories import local, make_world

from tsm.adapters.db.directory import Officer
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.domain.errors import NotAllowed
from tsm.domain.feedback import Coverage
from tsm.services.actors import ANOTHER_LA, Actor
from tsm.services.evaluations import load_meeting
from tsm.settings import Settings

NOW = local(2026, 1, 5, 8, 0)


@pytest.fixture
async def two_las(any_db_url, tmp_path):
    app = build_app(
        Settings(_env_file=None, database_url=any_db_url, invitations_dir=tmp_path / "inv"),
        clock=FixedClock(NOW),
    )
    a = await make_world(app.db)
    b = await make_world(app.db, la_code="886", la_name="Kent", urn_offset=100, email_domain="kent.example")
    # Each LA has a meeting booked by its own officer.
    a_meeting = (
        await app.booking.book(a.officer("ann"), a.schools["low_primary"], local(2026, 1, 7, 10))
    ).meeting
    b_meeting = (
        await app.booking.book(b.officer("ann"), b.schools["low_primary"], local(2026, 1, 7, 10))
    ).meeting
    yield app, a, b, a_meeting.id, b_meeting.id
    await app.close()


def refused_as_another_la(exc: pytest.ExceptionInfo, b_names: list[str]) -> None:
    assert str(exc.value) == ANOTHER_LA
    for name in b_names:
        assert name not in str(exc.value)


async def test_an_la_admin_cannot_see_or_act_on_another_las_school_or_meeting(two_las):
    app, a, b, a_meeting, b_meeting = two_las
    admin_a = a.admin("ann")
    b_school = b.schools["low_primary"]
    attempts = {
        "free slots": lambda: app.booking.free_slots(admin_a, b_school),
        "book for the school": lambda: app.booking.book(admin_a, b_school, local(2026, 1, 8, 10)),
        "see the meeting": lambda: app.booking.get_meeting(admin_a, b_meeting),
        "move it": lambda: app.booking.move(admin_a, b_meeting, local(2026, 1, 8, 11)),
        "cancel it": lambda: app.booking.cancel(admin_a, b_meeting, "mine now"),
        "the school's facts": lambda: app.conversation.school_info(admin_a, b_school),
        "its contacts": lambda: app.directory.contacts_of(admin_a, b_school),
        "the school by URN": lambda: app.directory.school_by_urn(admin_a, 100101),
        "add a contact": lambda: app.directory.add_contact(
            admin_a, 100101, "Eve Intruder", "eve@x.example", "other"
        ),
        "invite the school": lambda: app.directory.invite_school(admin_a, b_school),
        "the record": lambda: app.records.view(admin_a, b_meeting),
    }
    for what, attempt in attempts.items():
        with pytest.raises(NotAllowed) as refused:
            await attempt()
        assert str(refused.value) == ANOTHER_LA, what
    async with app.db.reader() as s:
        with pytest.raises(NotAllowed, match="another LA"):
            await load_meeting(s, admin_a, b_meeting)
    # Lists hold only their own LA's; B's meeting is untouched.
    assert [m.id for m in await app.booking.list_meetings(admin_a)] == [a_meeting]
    assert (await app.booking.get_meeting(b.admin("ann"), b_meeting)).status == "booked"
    # Their own LA is theirs: a school of A whose officer is someone else.
    assert (await app.booking.free_slots(admin_a, a.schools["bob_school"], limit=1)).slots


async def test_an_officer_acts_only_on_their_own_las_schools(two_las):
    app, a, b, _a_meeting, b_meeting = two_las
    ann_a = a.officer("ann")
    for attempt in (
        lambda: app.booking.free_slots(ann_a, b.schools["low_primary"]),
        lambda: app.booking.get_meeting(ann_a, b_meeting),
        lambda: app.directory.school_by_urn(ann_a, 100101),
    ):
        with pytest.raises(NotAllowed, match="another LA"):
            await attempt()
    assert [m.school_label for m in await app.booking.list_meetings(ann_a)] == ["Low Primary School"]
    assert {s.urn for s in await app.directory.officer_schools(ann_a)} <= set(range(100001, 100010))


async def test_a_national_admin_acts_only_in_their_own_la(two_las):
    app, a, b, a_meeting, b_meeting = two_las
    national_b = Actor("admin", b.officers["bob"], la_id=b.la_id, national=True)
    with pytest.raises(NotAllowed, match="another LA"):
        await app.booking.get_meeting(national_b, a_meeting)
    with pytest.raises(NotAllowed, match="another LA"):
        await app.booking.free_slots(national_b, a.schools["low_primary"])
    assert (await app.booking.get_meeting(national_b, b_meeting)).id == b_meeting


async def test_a_school_contact_cannot_see_another_las_meeting(two_las):
    app, a, _b, a_meeting, b_meeting = two_las
    lead_a = a.contact("low_primary.lead")
    with pytest.raises(NotAllowed, match="another school's meeting"):
        await app.booking.get_meeting(lead_a, b_meeting)
    assert [m.id for m in await app.booking.list_meetings(lead_a)] == [a_meeting]


async def test_every_channels_resolver_gives_the_actor_their_la_and_the_national_right(two_las):
    app, a, b, _a_meeting, _b_meeting = two_las
    async with app.db.transaction() as s:
        bob_b = await s.get(Officer, b.officers["bob"])
        bob_b.is_admin, bob_b.national_admin = True, True
        s.add(bob_b)
    officer = await app.directory.identify(None, "ann@la.example")
    assert (officer.kind, officer.la_id, officer.national) == ("officer", a.la_id, False)
    national = await app.directory.identify(None, "bob@kent.example")
    assert (national.kind, national.la_id, national.national) == ("admin", b.la_id, True)
    contact = await app.directory.identify(None, "lead@100101.sch.example")
    assert (contact.kind, contact.school_id, contact.la_id) == ("contact", b.schools["low_primary"], b.la_id)
    # The web page's session reads the person again, with their LA.
    from tsm.services.signin import Session

    web = await app.signin.actor(Session(0, "contact", contact.id, NOW, None))
    assert (web.kind, web.la_id) == ("contact", b.la_id)
    web_officer = await app.signin.actor(Session(0, "officer", b.officers["bob"], NOW, None))
    assert (web_officer.kind, web_officer.la_id, web_officer.national) == ("admin", b.la_id, True)


# ---------------------------------------------------------------- reports: per LA, and across LAs for a national admin


async def test_reports_are_per_la_and_only_a_national_admin_sees_another_la_or_every_la(two_las):
    app, a, b, _a_meeting, _b_meeting = two_las
    admin_a = a.admin("ann")
    # An LA admin: their own LA's report, with or without its code; another LA's refused naming nothing of it.
    own = await app.reports.coverage(admin_a, "current")
    assert own.scope.la_id == a.la_id and {r.urn for r in own.rows} == {*range(100001, 100010)}
    assert (await app.reports.coverage(admin_a, "current", la_code="926")).scope.la_id == a.la_id
    for code in ("886", "123"):  # another LA's, and no LA at all: the same answer
        with pytest.raises(NotAllowed, match="your own LA's reports only") as refused:
            await app.reports.coverage(admin_a, "current", la_code=code)
        assert "Kent" not in str(refused.value)
    with pytest.raises(NotAllowed, match="national admins"):
        await app.reports.across_las(admin_a, "coverage")
    with pytest.raises(NotAllowed):
        await app.reports.actions(a.officer("ann"), "current", la_code="886")
    with pytest.raises(NotAllowed):
        await app.reports.coverage(a.contact("low_primary.lead"), "current")

    # A national admin (granted in the database, as tsm admins grant-national does): any LA, and all of them.
    await app.directory.set_national_admin("bob@kent.example", True)
    national_b = await app.directory.identify(None, "bob@kent.example")
    assert national_b.national and national_b.la_id == b.la_id
    norfolk = await app.reports.coverage(national_b, "current", la_code="926")
    assert norfolk.scope.la_id == a.la_id and {r.urn for r in norfolk.rows} == {*range(100001, 100010)}
    every = await app.reports.across_las(national_b, "coverage", "spring 2025-26")  # both TSMs are in it
    assert [(x.la_code, x.report.scope.la_id) for x in every.las] == [("886", b.la_id), ("926", a.la_id)]
    tallies = every.coverage_tallies()
    assert [t.officer for t in tallies] == ["Kent (886)", "Norfolk (926)", "All LAs"]
    assert tallies[-1].schools == tallies[0].schools + tallies[1].schools == 18
    assert tallies[-1].counts[Coverage.BOOKED] == 2  # one TSM booked in each LA
    for kind in ("evaluations", "actions"):
        assert [x.la_code for x in (await app.reports.across_las(national_b, kind)).las] == ["886", "926"]

    # Taken back: the person resolved afterwards sees their own LA only; an actor still carrying the right from before
    # is refused across LAs too (the right is read again).
    await app.directory.set_national_admin("bob@kent.example", False)
    with pytest.raises(NotAllowed, match="national admins"):
        await app.reports.across_las(national_b, "coverage")
    again = await app.directory.identify(None, "bob@kent.example")
    with pytest.raises(NotAllowed):
        await app.reports.coverage(again, "current", la_code="926")
