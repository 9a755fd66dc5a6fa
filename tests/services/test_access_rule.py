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
from tsm.services.actors import Actor, check_meeting, check_school, may_act_for, may_report_on
from tsm.services.booking import BookingService
from tsm.services.directory import Directory
from tsm.services.evaluations import load_meeting
from tsm.services.reference import ReferenceData


@dataclass
class S:  # a school as the rule sees it
    id: int
    link_officer_id: int | None
    la_id: int = 1


# LA 1: Ash and Beech (officer 10), Oak (officer 20). LA 2: Elm (officer 30).
ASH, BEECH, OAK, ELM = S(1, 10), S(2, 10), S(3, 20), S(4, 30, la_id=2)
ACTORS = [
    Actor("admin", 99, la_id=1),
    Actor("admin", 98, la_id=2),
    Actor("admin", 97, la_id=2, national=True),
    Actor.operator(),
    Actor.system(),
    Actor("officer", 10, la_id=1),
    Actor("officer", 20, la_id=1),
    Actor("officer", 30, la_id=2),
    Actor("contact", 5, 1, la_id=1),
    Actor("contact", 6, 3, la_id=1),
    Actor("contact", 9, 4, la_id=2),
    Actor("contact", 7, None),
]


def test_the_operator_and_the_system_may_act_for_any_school_or_meeting_of_any_la():
    for actor in (Actor.operator(), Actor.system()):
        assert may_act_for(actor, [ASH], 10) and may_act_for(actor, [OAK], None)
        assert may_act_for(actor, [ELM], 30) and may_act_for(actor, [], None)


def test_an_la_admin_may_act_for_any_school_or_meeting_of_their_own_la_only():
    admin = Actor("admin", 99, la_id=1)
    assert (
        may_act_for(admin, [ASH], 10)
        and may_act_for(admin, [OAK], None)
        and may_act_for(admin, [ASH, OAK], 20)
    )
    assert not may_act_for(admin, [ELM], 30)
    assert not may_act_for(admin, [ASH, ELM], 10)  # one school of another LA is enough to refuse
    assert not may_act_for(admin, [], None)  # nothing of their LA to act for


def test_a_national_admin_acts_only_in_their_own_la_like_any_la_admin():
    national = Actor("admin", 97, la_id=2, national=True)
    assert may_act_for(national, [ELM], 30)
    assert not may_act_for(national, [ASH], 10)


def test_an_admin_whose_la_is_not_known_may_act_for_nothing():
    assert not may_act_for(Actor("admin", 99), [ASH], 10)  # only the operator (no id) goes without an LA


def test_an_officer_may_act_only_as_the_officer_of_the_school_or_meeting():
    assert may_act_for(Actor("officer", 10, la_id=1), [ASH], ASH.link_officer_id)
    assert not may_act_for(Actor("officer", 20, la_id=1), [ASH], ASH.link_officer_id)
    # A meeting is its holder's: the officer holding it, whoever the schools' link officer is now.
    assert may_act_for(Actor("officer", 20, la_id=1), [ASH], 20)
    assert not may_act_for(Actor("officer", 10, la_id=1), [ASH], 20)
    assert not may_act_for(
        Actor("officer", 10, la_id=1), [ASH], None
    )  # no officer (no link officer): not theirs


def test_an_officer_may_not_act_for_a_school_of_another_la_even_as_its_officer():
    # Data linking an officer of LA 1 to LA 2's school (the importers refuse it) still gives them nothing there.
    assert not may_act_for(Actor("officer", 10, la_id=1), [S(4, 10, la_id=2)], 10)


def test_school_staff_may_act_for_their_own_school_only():
    lead = Actor("contact", 5, ASH.id, la_id=1)
    assert may_act_for(lead, [ASH], 10)
    assert not may_act_for(lead, [OAK], 20)
    assert not may_act_for(lead, [ELM], 30)
    assert not may_act_for(Actor("contact", 7, None), [ASH], 10)  # a contact without a school: none


def test_reports_a_national_admin_sees_every_la_an_la_admin_or_officer_their_own_and_staff_none():
    assert may_report_on(Actor("admin", 97, la_id=2, national=True), 1)
    assert may_report_on(Actor("admin", 97, la_id=2, national=True), None)  # every LA at once
    assert may_report_on(Actor.operator(), None)
    assert may_report_on(Actor("admin", 99, la_id=1), 1) and not may_report_on(Actor("admin", 99, la_id=1), 2)
    assert not may_report_on(Actor("admin", 99, la_id=1), None)
    assert may_report_on(Actor("officer", 10, la_id=1), 1) and not may_report_on(
        Actor("officer", 10, la_id=1), 2
    )
    assert not may_report_on(Actor("contact", 5, 1, la_id=1), 1)


def test_a_contact_of_one_school_in_a_trusts_joint_tsm_may_see_it():
    assert may_act_for(Actor("contact", 5, ASH.id, la_id=1), [ASH, BEECH], 10)
    assert may_act_for(Actor("contact", 8, BEECH.id, la_id=1), [ASH, BEECH], 10)
    assert not may_act_for(Actor("contact", 6, OAK.id, la_id=1), [ASH, BEECH], 10)


def test_an_unknown_kind_of_actor_may_not_act():
    assert not may_act_for(Actor("stranger", 1, 1), [ASH], 10)  # type: ignore[arg-type]


def test_a_school_and_a_one_school_meeting_of_its_link_officer_follow_the_same_rule():
    for actor, school in itertools.product(ACTORS, (ASH, BEECH, OAK, ELM)):
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
        check_school(Actor("contact", 6, OAK.id, la_id=1), ASH)
    with pytest.raises(NotAllowed, match="another school's meeting"):
        check_meeting(Actor("contact", 6, OAK.id, la_id=1), [ASH, BEECH], 10)
    with pytest.raises(NotAllowed, match="not on your list"):
        check_meeting(Actor("officer", 20, la_id=1), [ASH], 10)
    for someone_of_la_1 in (Actor("admin", 99, la_id=1), Actor("officer", 10, la_id=1)):
        with pytest.raises(NotAllowed, match="another LA") as refused:
            check_school(someone_of_la_1, ELM)
        with pytest.raises(NotAllowed, match="another LA"):
            check_meeting(someone_of_la_1, [ELM], 30)
        assert "Elm" not in str(refused.value)


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
