"""Issue 13 item 5: Norfolk's "one a year" schools are tracked over the academic year. A school that may book one
TSM a year and has had none is chased, and listed for its officer, in the summer term (the profile's
entitlement.yearly_chase_term); one that already had this year's TSM is not, and the coverage report says "held
this year" for it rather than "not booked". Kent asks every school for one a term."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from sqlmodel import update

from tsm.adapters.db.directory import School
from tsm.clock import FixedClock
from tsm.domain.entitlement import Entitlement
from tsm.domain.feedback import Coverage
from tsm.messaging import Recipient
from tsm.services.actors import Actor
from tsm.services.reports import Reports

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scheduler"))
from schedkit import Env  # noqa: E402  (the scheduler's test world)

SPRING_CHASE = local(2026, 1, 27, 9)  # three weeks into the spring term (6 Jan)
SUMMER_CHASE = local(2026, 5, 6, 9)  # three weeks into the summer term (15 Apr)
SUMMER_MONDAY = local(2026, 4, 20, 8, 5)


def yearly(rule="above_average_may_book_once_a_year") -> Entitlement:
    return Entitlement(rule, "yearly", "one a year", "at_or_above", 94.84)


@pytest.mark.parametrize(
    ("term", "had", "wanted"),
    [
        ("autumn", False, False),
        ("spring", False, False),
        ("summer", False, True),
        ("summer", True, False),
    ],
)
def test_a_yearly_school_is_wanted_in_the_summer_term_only_when_it_has_had_none_this_year(term, had, wanted):
    assert yearly().wanted_this_term(term, had_tsm_this_year=had, chase_from="summer") is wanted
    termly = Entitlement("below_average_books_each_term", "termly", "each term", "below", 94.84)
    assert termly.wanted_this_term(term, had_tsm_this_year=had, chase_from="summer")
    assert yearly().wanted_this_term(
        "spring", had_tsm_this_year=False, chase_from="spring"
    )  # the profile's choice


async def world_env(db, policy: str):
    clock = FixedClock(local(2025, 11, 3, 8))
    world = await make_world(db, policy=policy)
    env = Env(db, clock, ScriptedMessenger())
    env.world = world
    # a second "one a year" school (above the 2024/25 autumn+spring primary average, 94.84) that never books
    async with db.transaction() as s:
        await s.exec(update(School).where(School.id == world.schools["trust_b"]).values(attendance_pct=97.0))
    return env


def at(env, when):
    env.clock.now = when.astimezone(env.clock.now.tzinfo)


def contacts_chased(env) -> set[int]:
    return {r.id for r, _ in env.messenger.sent if r.kind == "contact"}


async def test_norfolks_one_a_year_schools_are_chased_in_the_summer_term_if_none_held_this_year(db):
    env = await world_env(db, "norfolk")
    w = env.world
    # High Primary holds its one TSM of the year in the autumn term; Trust B Primary has none all year.
    autumn = await env.booking.book(w.officer("ann"), w.schools["high_primary"], local(2025, 11, 10, 10))
    at(env, local(2025, 11, 10, 12))
    await env.booking.mark_held(w.officer("ann"), autumn.meeting.id)

    at(env, SPRING_CHASE)
    await env.jobs.chasers()
    assert not contacts_chased(env) & {w.contacts["trust_b.lead"], w.contacts["high_primary.lead"]}  # not yet

    env.messenger.sent.clear()
    at(env, SUMMER_CHASE)
    await env.jobs.chasers()
    chased = contacts_chased(env)
    assert w.contacts["trust_b.lead"] in chased  # none this year: the summer term is its last chance
    assert w.contacts["high_primary.lead"] not in chased  # had this year's TSM in the autumn
    # Ann hears of it in the day's digest of her unbooked schools, not one message per school
    assert not [m for r, m in env.messenger.sent if r.kind == "officer"]
    await env.jobs.unbooked_weekly()
    [digest] = [m for r, m in env.messenger.sent if r == Recipient("officer", w.officers["ann"])]
    assert "**Trust B Primary**: One a year, and none held yet this academic year (reminded" in str(
        digest.card
    )
    assert "High Primary School" not in str(digest.card)

    env.messenger.sent.clear()
    at(env, SUMMER_MONDAY)
    await env.jobs.unbooked_weekly()
    ann = next(m for r, m in env.messenger.sent if r == Recipient("officer", w.officers["ann"]))
    assert "Trust B Primary" in str(ann.card) and "High Primary School" not in str(ann.card)
    assert "**Trust B Primary**: One a year, and none held yet this academic year" in str(
        ann.card
    )  # why listed

    report = await Reports(db, env.ref, clock=env.clock).coverage(Actor("admin"), "current")
    assert report.term.label == "Summer term 2025-26"
    status = {r.school: r for r in report.rows}
    assert status["High Primary School"].status is Coverage.HELD_THIS_YEAR
    assert status["High Primary School"].meeting_start == autumn.meeting.start
    assert status["Trust B Primary"].status is Coverage.OFFERED  # chased this term, not booked
    assert status["Low Primary School"].status is Coverage.OFFERED  # termly: the autumn does not count
    assert Coverage.HELD_THIS_YEAR.label == "Held this year"


async def test_kent_chases_every_school_each_term(db):
    env = await world_env(db, "kent")
    w = env.world
    autumn = await env.booking.book(w.officer("ann"), w.schools["high_primary"], local(2025, 11, 10, 10))
    at(env, local(2025, 11, 10, 12))
    await env.booking.mark_held(w.officer("ann"), autumn.meeting.id)
    at(env, SPRING_CHASE)
    await env.jobs.chasers()
    assert {w.contacts["trust_b.lead"], w.contacts["high_primary.lead"]} <= contacts_chased(env)
    at(env, SUMMER_CHASE)
    report = await Reports(db, env.ref, clock=env.clock).coverage(Actor("admin"), "current")
    assert {r.school: r.status for r in report.rows}["High Primary School"] is Coverage.NOT_BOOKED
