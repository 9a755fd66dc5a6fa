"""Officer capacity (issue 13, item 11; Kent's FAQ: an officer covers 20-30 schools a term): the profile's
``booking.officer_capacity``; the link-officer import, "my schools" (every officer of the LA for an admin, one's own
list for an officer) and the coverage report warn when an officer holds more schools than that."""

from __future__ import annotations

import dataclasses

import pytest
from chatkit import text_of
from factories import local, make_world
from sqlalchemy import update
from sqlmodel import select

from tsm.adapters.db.directory import LA, School
from tsm.clock import FixedClock
from tsm.domain.policy import PolicyError, load_policy, parse_policy
from tsm.importers.people import import_link_officers
from tsm.services.actors import Actor
from tsm.services.officer_loads import officer_loads
from tsm.services.reference import ReferenceData
from tsm.services.reports import Reports, coverage_lines

ASHCOMBE = 990001  # Alex Carter's (an LA admin in the demo)
BROOKFIELD = 990002  # Priya Shah's


def test_kents_capacity_is_read_from_its_profile_and_a_bad_value_is_refused():
    assert load_policy("kent").officer_capacity == 30
    import tomllib
    from importlib.resources import files

    raw = tomllib.loads(files("tsm.policies").joinpath("kent.toml").read_text())
    raw["booking"]["officer_capacity"] = 0
    with pytest.raises(PolicyError, match="officer_capacity must be a whole number"):
        parse_policy("kent", raw)


async def test_the_link_officer_import_warns_when_an_officer_goes_over_the_capacity(
    db, tmp_path, monkeypatch
):
    world = await make_world(db, policy="kent")
    async with db.reader() as s:
        before = {x.name: x.schools for x in await officer_loads(s, world.la_id, 30)}
        bobs = [
            sc.urn
            for sc in (
                await s.exec(
                    select(School).where(
                        School.link_officer_id == world.officers["bob"],
                        School.trust_code == None,  # noqa: E711
                    )
                )
            )
        ]  # noqa: E711
    cap = before["Ann Officer"]  # Ann is exactly at the capacity: no warning yet
    kent = load_policy("kent")
    monkeypatch.setattr(
        "tsm.importers.people.load_policy", lambda name: dataclasses.replace(kent, officer_capacity=cap)
    )
    path = tmp_path / "links.csv"
    path.write_text(f"urn,officer_email\n{bobs[0]},bob@la.example\n")
    assert "more than the" not in (await import_link_officers(db, path)).summary()
    path.write_text(f"urn,officer_email\n{bobs[0]},ann@la.example\n")  # one of Bob's schools moves to Ann
    report = await import_link_officers(db, path)
    assert (
        f"Ann Officer has {cap + 1} schools, more than the {cap} one officer can hold TSMs with in a term"
        in report.summary()
    )
    assert "Bob Officer has" not in report.summary()


async def test_the_coverage_report_flags_an_officer_over_the_capacity(db, monkeypatch):
    await make_world(db, policy="kent")
    clock = FixedClock(local(2026, 1, 20, 9))
    ref = ReferenceData(db)
    kent = load_policy("kent")
    monkeypatch.setattr(ref, "policy", lambda name: dataclasses.replace(kent, officer_capacity=2))
    report = await Reports(db, ref, clock=clock).coverage(Actor("admin"), la_code="926")
    lines = "\n".join(coverage_lines(report))
    counts = {t.officer: t.schools for t in report.tallies}
    over = [name for name, n in counts.items() if n > 2 and name.endswith("Officer")]
    assert over, counts
    for name in over:
        assert f"{name}: {counts[name]} schools (over the capacity of 2 schools an officer)" in lines


async def test_my_schools_warns_an_admin_of_every_officer_over_the_capacity_and_an_officer_of_their_own(chat):
    demo = chat.app.reference.policy("demo")
    chat.app.reference._policies["demo"] = dataclasses.replace(demo, officer_capacity=5)
    admin = await chat.officer_of(ASHCOMBE)
    priya = await chat.officer_of(BROOKFIELD)
    seen_by_admin = text_of(await chat.say(admin, "my schools"))
    seen_by_priya = text_of(await chat.say(priya, "my schools"))
    assert "Priya Shah has" in seen_by_admin and "more than the 5 one officer can hold" in seen_by_admin
    assert "Priya Shah has" in seen_by_priya and "Tom Okafor has" not in seen_by_priya
    chat.app.reference._policies["demo"] = demo
    assert "more than the" not in text_of(await chat.say(admin, "my schools"))


async def test_an_officer_within_the_capacity_is_not_warned(db):
    world = await make_world(db, policy="kent")
    async with db.transaction() as s:
        await s.exec(update(LA).where(LA.id == world.la_id).values(policy="kent"))
    async with db.reader() as s:
        assert not [x for x in await officer_loads(s, world.la_id, 30) if x.over]
