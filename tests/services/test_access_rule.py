"""The one access rule, ``tsm.services.actors.may_act_for``: who may act for a school or a meeting. Each test is
named after the part of the rule it proves; the last ones show the booking service, the directory and the
evaluations apply it (they only word the refusal)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from factories import local, make_world

from tsm.adapters.calendar_local import LocalCalendar
from tsm.clock import FixedClock
from tsm.domain.errors import NotAllowed
from tsm.services.actors import Actor, check_meeting, check_school, may_act_for
from tsm.services.booking import BookingService
from tsm.services.directory import Directory
from tsm.services.evaluations import load_meeting
from tsm.services.reference import ReferenceData


@dataclass
class S:  # a school as the rule sees it
    id: int
    link_officer_id: int | None


ASH, BEECH, OAK = S(1, 10), S(2, 10), S(3, 20)
ACTORS = [
    Actor("admin", 99),
    Actor.system(),
    Actor("officer", 10),
    Actor("officer", 20),
    Actor("contact", 5, 1),
    Actor("contact", 6, 3),
    Actor("contact", 7, None),
]


def test_admins_and_the_system_may_act_for_any_school_or_meeting():
    for actor in (Actor("admin", 99), Actor.system()):
        assert (
            may_act_for(actor, [ASH], 10) and may_act_for(actor, [OAK], None) and may_act_for(actor, [], None)
        )


def test_an_officer_may_act_only_as_the_officer_of_the_school_or_meeting():
    assert may_act_for(Actor("officer", 10), [ASH], ASH.link_officer_id)
    assert not may_act_for(Actor("officer", 20), [ASH], ASH.link_officer_id)
    # A meeting is its holder's: the officer holding it, whoever the schools' link officer is now.
    assert may_act_for(Actor("officer", 20), [ASH], 20)
    assert not may_act_for(Actor("officer", 10), [ASH], 20)
    assert not may_act_for(Actor("officer", 10), [ASH], None)  # no officer (a school without one): not theirs


def test_school_staff_may_act_for_their_own_school_only():
    lead = Actor("contact", 5, ASH.id)
    assert may_act_for(lead, [ASH], 10)
    assert not may_act_for(lead, [OAK], 20)
    assert not may_act_for(Actor("contact", 7, None), [ASH], 10)  # a contact without a school: none


def test_a_contact_of_one_school_in_a_trusts_joint_tsm_may_see_it():
    assert may_act_for(Actor("contact", 5, ASH.id), [ASH, BEECH], 10)
    assert may_act_for(Actor("contact", 8, BEECH.id), [ASH, BEECH], 10)
    assert not may_act_for(Actor("contact", 6, OAK.id), [ASH, BEECH], 10)


def test_an_unknown_kind_of_actor_may_not_act():
    assert not may_act_for(Actor("stranger", 1, 1), [ASH], 10)  # type: ignore[arg-type]


def test_a_school_and_a_one_school_meeting_of_its_link_officer_follow_the_same_rule():
    for actor, school in itertools.product(ACTORS, (ASH, BEECH, OAK)):
        allowed = may_act_for(actor, [school], school.link_officer_id)
        for check, args in (
            (check_school, (actor, school)),
            (check_meeting, (actor, [school], school.link_officer_id)),
        ):
            if allowed:
                check(*args)
            else:
                with pytest.raises(NotAllowed):
                    check(*args)


def test_refusals_say_which_rule_in_words():
    with pytest.raises(NotAllowed, match="not on your list"):
        check_school(Actor("contact", 6, OAK.id), ASH)
    with pytest.raises(NotAllowed, match="another school's meeting"):
        check_meeting(Actor("contact", 6, OAK.id), [ASH, BEECH], 10)
    with pytest.raises(NotAllowed, match="not on your list"):
        check_meeting(Actor("officer", 20), [ASH], 10)


# ---------------------------------------------------------------- the services apply it


async def test_the_booking_service_directory_and_evaluations_apply_the_one_rule_to_a_joint_tsm(db):
    w = await make_world(db)
    clock = FixedClock(local(2026, 1, 5, 8, 0))
    svc = BookingService(db, LocalCalendar(db, None), ReferenceData(db), clock=clock)
    joint = (
        await svc.book(w.officer("ann"), [w.schools["trust_a"], w.schools["trust_b"]], local(2026, 1, 7, 9))
    ).meeting
    # Staff of either school in the trust's joint TSM see it; staff of another school and another officer do not.
    for key in ("trust_a.lead", "trust_b.head"):
        assert (await svc.get_meeting(w.contact(key), joint.id)).id == joint.id
        assert [m.id for m in await svc.list_meetings(w.contact(key))] == [joint.id]
    with pytest.raises(NotAllowed, match="another school's meeting"):
        await svc.get_meeting(w.contact("low_primary.lead"), joint.id)
    with pytest.raises(NotAllowed, match="not on your list"):
        await svc.get_meeting(w.officer("bob"), joint.id)
    assert await svc.list_meetings(w.officer("bob")) == []
    # Evaluations (their own wording) and the directory (a school) by the same rule.
    async with db.reader() as s:
        assert (await load_meeting(s, w.contact("trust_b.lead"), joint.id)).id == joint.id
        with pytest.raises(NotAllowed, match="another school's meeting"):
            await load_meeting(s, w.contact("low_primary.lead"), joint.id)
        with pytest.raises(NotAllowed, match="not one of yours"):
            await load_meeting(s, w.officer("bob"), joint.id)
    directory = Directory(db, clock=clock)
    assert (await directory.school_by_urn(w.contact("trust_b.lead"), 100007)).id == w.schools["trust_b"]
    with pytest.raises(NotAllowed, match="not on your list"):
        await directory.school_by_urn(w.contact("trust_b.lead"), 100006)  # one school: only their own
    with pytest.raises(NotAllowed, match="not on your list"):
        await directory.school_by_urn(w.officer("bob"), 100006)
