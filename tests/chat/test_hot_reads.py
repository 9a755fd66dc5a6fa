"""The turns' one-statement reads give what the ORM reads gave, on SQLite (the driver-level read) and on
PostgreSQL (plain Core): a school's facts with its officer, LA and trust allocation, and a stored offer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import make_world

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.directory import Officer, School, TrustOfficer
from tsm.adapters.db.engine import Database
from tsm.domain.entitlement import entitlement_for
from tsm.domain.errors import NotAllowed, NotFound
from tsm.domain.schools import school_facts
from tsm.services.booking import BookingService
from tsm.services.conversation import ConversationService
from tsm.services.reference import ReferenceData
from tsm.services.views import SlotOffer

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
async def hot(any_db_url, tmp_path):
    db = Database(any_db_url)
    world = await make_world(db)
    ref = ReferenceData(db)
    booking = BookingService(db, LocalCalendar(db, tmp_path), ref, clock=lambda: NOW)
    yield db, world, ConversationService(db, booking, ref, clock=lambda: NOW)
    await db.dispose()


async def test_school_info_matches_the_orm_reading_for_every_school(hot):
    db, world, conv = hot
    admin = world.admin("ann")
    policy = ReferenceData(db).policy("norfolk")
    for key, school_id in world.schools.items():
        info = await conv.school_info(admin, school_id)
        async with db.reader() as s:
            school = await s.get(School, school_id)
            officer = await s.get(Officer, school.link_officer_id)
            trust = (
                await s.get(TrustOfficer, (school.trust_code, school.la_id)) if school.trust_code else None
            )
        ent = entitlement_for(
            school_facts(school, trust_has_allocated_officer=trust is not None),
            policy,
        )
        assert (info.id, info.urn, info.name, info.phase, info.attendance_pct, info.address) == (
            school.id,
            school.urn,
            school.name,
            school.phase,
            school.attendance_pct,
            school.address,
        ), key
        assert (info.officer_id, info.officer_name, info.officer_email) == (
            officer.id,
            officer.name,
            officer.email,
        ), key
        assert info.entitlement == ent, key
        assert info.la_name == policy.la_name
    # The trust join is what decides this one: its trust has an officer of its own.
    allocated = await conv.school_info(admin, world.schools["allocated"])
    plain = await conv.school_info(admin, world.schools["trust_a"])
    assert allocated.entitlement.route != plain.entitlement.route


async def test_school_info_still_refuses_other_schools_and_unknown_ids(hot):
    _, world, conv = hot
    with pytest.raises(NotAllowed):
        await conv.school_info(world.officer("bob"), world.schools["low_primary"])  # Ann's school
    with pytest.raises(NotAllowed):
        await conv.school_info(world.contact("low_primary.lead"), world.schools["high_primary"])
    with pytest.raises(NotFound):
        await conv.school_info(world.officer("ann"), 999_999)
    with pytest.raises(NotFound):
        await conv.school_info(world.officer("ann"), "1")  # type: ignore[arg-type]
    ok = await conv.school_info(world.contact("low_primary.lead"), world.schools["low_primary"])
    assert ok.name == "Low Primary School"


async def test_an_offer_read_from_the_database_equals_the_one_written(hot):
    db, world, conv = hot
    lead = world.contact("low_primary.lead")
    starts = [NOW + timedelta(days=1, hours=h) for h in (1, 2, 3)]
    offer = SlotOffer(
        (world.schools["low_primary"],),
        world.officers["ann"],
        "Ann Officer",
        world.terms["spring"],
        "spring term 2025-26",
        "teams",
        "primary",
        60,
        "Europe/London",
        [],
    )
    written = await conv.save_offer(lead, "book", offer, starts=starts, school_name="Low Primary School")
    cold = ConversationService(
        db, conv.booking, conv.ref, clock=lambda: NOW
    )  # another instance: nothing in memory
    read = await cold.offer(lead, written.id)
    assert read == written
    assert read.starts == tuple(starts) and read.expires_at.tzinfo is not None
    with pytest.raises(NotAllowed):
        await cold.offer(world.contact("high_primary.lead"), written.id)
