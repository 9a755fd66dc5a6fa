"""A joint TSM for several schools of one trust, in the conversation (issue 13, item 7; Kent's FAQ: one TSM for
several of a trust's schools at one of the sites, with one officer).

The demo's Wexbridge Schools Partnership (trust 9002) has three schools on Priya Shah's list (Larkspur, Queensway,
Zephyr) and four on other officers'; the Demoshire Learning Trust (9001) is Tom Okafor's. Driven through
Router.dispatch (tests/chat/chatkit.py); every turn is counted where the presses matter.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from chatkit import button, choices, facts, input_values, inputs, make_chat, text_of, titles, told
from sqlalchemy import update
from sqlmodel import select

import tsm.policies
from tsm.adapters.db.directory import LA, School, SchoolContact
from tsm.adapters.db.meetings import MeetingAttendee
from tsm.messaging import Recipient
from tsm.services.actors import Actor

LARKSPUR, QUEENSWAY, ZEPHYR = 990013, 990017, 990025  # trust 9002, Priya Shah's
KESTREL = 990012  # trust 9002, Alex Carter's
HARTWELL = 990009  # trust 9001, Tom Okafor's
ASHCOMBE = 990001  # no trust


class Counted:
    """The chat, counting the person's round trips (a typed message or a pressed button each)."""

    def __init__(self, chat) -> None:
        self.chat, self.turns = chat, 0

    async def say(self, person, text):
        self.turns += 1
        return await self.chat.say(person, text)

    async def press(self, person, reply, title, **inputs):
        self.turns += 1
        return await self.chat.press(person, reply, title, **inputs)


async def ids(chat, *urns) -> list[int]:
    return [(await chat.school(u)).id for u in urns]


async def with_profile(chat, profile: str) -> None:
    """The demo LA on a seed's profile (its term dates and people stay the demo's)."""
    async with chat.app.db.transaction() as s:
        await s.exec(update(LA).values(policy=profile))
    chat.app.booking.ref._las.clear()


async def test_the_officer_books_a_joint_tsm_for_three_schools_in_as_few_presses_as_one_schools(chat):
    priya = await chat.officer_of(LARKSPUR)
    trio = await ids(chat, LARKSPUR, QUEENSWAY, ZEPHYR)
    c = Counted(chat)

    first = await c.say(priya, "joint tsm")
    assert not first.error, text_of(first)
    words = text_of(first)
    assert "Wexbridge Schools Partnership" in words and "with you as link officer" in words
    # the trust's schools on her list, each with its status this term, all chosen; the others with why not
    offered = {int(ch["value"]): ch["title"] for ch in choices(first.card, "schools")}
    assert set(offered) == set(trio)
    assert all("not booked" in t for t in offered.values())
    assert sorted(input_values(first.card)["schools"].split(",")) == sorted(str(i) for i in trio)
    assert "Kestrel Primary Academy: its link officer is Alex Carter" in words
    # the place: Teams (the demo LA's default, chosen) or one of the three schools' sites
    places = [ch["value"] for ch in choices(first.card, "mode")]
    assert places[0] == "teams" and {f"on_site:{i}" for i in trio} <= set(places)
    assert titles(first.card) == ["Choose this time", "More dates", "Stop"]

    last = await c.press(priya, first, "Choose this time")
    assert not last.error, text_of(last)
    assert "Book this TSM?" in text_of(last)
    assert facts(last)["Schools"] == "Larkspur Primary School, Queensway Academy, Zephyr Academy"
    leader_inputs = {k for k in inputs(last.card) if k.startswith("leader_")}
    assert leader_inputs == {f"leader_{i}" for i in trio}  # a senior leader for each school, prefilled
    assert all(input_values(last.card)[k] for k in leader_inputs)

    done = await c.press(priya, last, "Book it")
    assert not done.error and "Joint TSM booked" in text_of(done), text_of(done)
    assert (
        c.turns == 3
    )  # one school's booking by an officer: book for school, Next, Choose this time, Book it
    [m] = await chat.meetings_of(LARKSPUR)
    assert (
        [x.id for x in await chat.meetings_of(QUEENSWAY)]
        == [m.id]
        == [x.id for x in await chat.meetings_of(ZEPHYR)]
    )
    assert m.booked_by == f"officer:{priya.id}" and m.mode == "teams"
    async with chat.app.db.reader() as s:
        invited = list(await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == m.id)))
    leaders = [a for a in invited if a.role == "senior_leader"]
    assert len(leaders) == 3  # one per school

    # each school's contacts are told (the notifications table): the proposal to accept or pick another time
    sent = await told(chat)
    for urn in (LARKSPUR, QUEENSWAY, ZEPHYR):
        for role in ("attendance_lead", "senior_leader"):
            person = await chat.contact(urn, role)
            assert Recipient("contact", person.id) in {r for r, _ in sent}, (urn, role)

    # in each school's "my meetings": a joint TSM with the other two; in the officer's schools: booked (joint)
    will = await chat.contact(QUEENSWAY)
    mine = await chat.say(will, "my meetings")
    assert "Joint TSM with Larkspur Primary School, Zephyr Academy" in text_of(mine)
    hers = await chat.say(priya, "my meetings")
    assert "Joint TSM: Larkspur Primary School, Queensway Academy, Zephyr Academy" in text_of(hers)
    schools = await chat.say(priya, "my schools")
    assert "Queensway Academy (990017): Booked (joint):" in text_of(schools)


async def test_the_place_of_a_joint_tsm_is_one_of_the_schools_sites(chat):
    priya = await chat.officer_of(LARKSPUR)
    zephyr = await chat.school(ZEPHYR)
    first = await chat.say(priya, "joint tsm")
    last = await chat.press(priya, first, "Choose this time", mode=f"on_site:{zephyr.id}")
    if last.error:  # that time is not free in person (travel time): the card again with in-person times
        assert "not all the same" in text_of(last)
        last = await chat.press(priya, last, "Choose this time")
    assert not last.error and facts(last)["Where"] == "At Zephyr Academy", text_of(last)
    done = await chat.press(priya, last, "Book it")
    assert not done.error, text_of(done)
    [m] = await chat.meetings_of(ZEPHYR)
    assert m.mode == "on_site" and m.location == zephyr.address


async def test_a_forged_card_naming_a_school_of_another_trust_is_refused_with_the_card_back(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway = await ids(chat, LARKSPUR, QUEENSWAY)
    ashcombe_of_alex, brookfield = await ids(chat, ASHCOMBE, 990002)  # no trust; Brookfield is Priya's own
    first = await chat.say(priya, "joint tsm")
    for forged in (f"{larkspur},{brookfield}", f"{larkspur},{ashcombe_of_alex}"):
        again = await chat.press(priya, first, "Choose this time", schools=forged)
        assert again.error and "it is not one of this trust's schools" in text_of(again), text_of(again)
        assert titles(again.card) == titles(first.card)  # the same card, with why under the schools
        assert choices(again.card, "schools") == choices(first.card, "schools")
    assert await chat.count_meetings() == 0
    # a place that is not one of the schools chosen
    again = await chat.press(
        priya, first, "Choose this time", schools=f"{larkspur},{queensway}", mode=f"on_site:{brookfield}"
    )
    assert again.error and "site of one of the schools chosen" in text_of(again)
    assert await chat.count_meetings() == 0


async def test_a_forged_card_naming_a_school_that_cannot_join_is_refused(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway, zephyr, kestrel = await ids(chat, LARKSPUR, QUEENSWAY, ZEPHYR, KESTREL)
    first = await chat.say(priya, "joint tsm")
    # another officer's school of the same trust
    again = await chat.press(priya, first, "Choose this time", schools=f"{larkspur},{kestrel}")
    assert again.error and "its link officer is Alex Carter" in text_of(again)
    # a school booked since the card was shown: refused at Book it, the first card back without it
    last = await chat.press(priya, first, "Choose this time")
    zephyr_lead = await chat.contact(ZEPHYR)
    own = await chat.say(zephyr_lead, "book")
    await chat.press(zephyr_lead, await chat.press(zephyr_lead, own, "Choose this time"), "Book it")
    refused = await chat.press(priya, last, "Book it")
    assert refused.error and "Zephyr Academy: already booked this term" in text_of(refused), text_of(refused)
    assert {int(c["value"]) for c in choices(refused.card, "schools")} == {larkspur, queensway}
    assert [m.id for m in await chat.meetings_of(LARKSPUR)] == []
    # a closed school is listed with why and cannot be chosen
    async with chat.app.db.transaction() as s:
        await s.exec(update(School).where(School.id == queensway).values(open=False))
    closed = await chat.say(priya, "joint tsm")  # Larkspur alone can join now: nothing to choose
    assert closed.error and "at least two of Wexbridge Schools Partnership's schools" in text_of(closed)
    assert "Queensway Academy: closed (GIAS lists it as closed)" in text_of(closed)
    assert "schools" not in inputs(closed.card)


async def test_a_trust_contact_in_kent_books_a_joint_tsm_and_every_school_is_told(chat):
    await with_profile(chat, "kent")
    will = await chat.contact(QUEENSWAY)
    trio = await ids(chat, LARKSPUR, QUEENSWAY, ZEPHYR)
    first = await chat.say(will, "joint tsm")
    assert not first.error, text_of(first)
    assert "with your link officer **Priya Shah**" in text_of(first) or "Priya Shah" in text_of(first)
    assert {int(c["value"]) for c in choices(first.card, "schools")} == set(trio)
    # Kent meets on site by default: at the contact's own school
    assert input_values(first.card)["mode"] == f"on_site:{trio[1]}"
    # the contact's own school is always in it
    again = await chat.press(will, first, "Choose this time", schools=f"{trio[0]},{trio[2]}")
    assert again.error and "Your own school is always in a joint TSM" in text_of(again)
    last = await chat.press(will, first, "Choose this time")
    assert not last.error, text_of(last)
    async with chat.app.db.transaction() as s:  # a second senior leader at Zephyr, not the one invited
        deputy = SchoolContact(
            school_id=trio[2], name="Zed Deputy", email="zed@demo.example", role="senior_leader"
        )
        s.add(deputy)
    done = await chat.press(will, last, "Book it")
    assert not done.error and "Joint TSM booked" in text_of(done), text_of(done)
    [m] = await chat.meetings_of(ZEPHYR)
    assert m.booked_by == f"contact:{will.id}"
    # each school's contacts are told through the notifications table; the officer too
    sent = await told(chat)
    reached = {r for r, _ in sent}
    officer = Recipient("officer", (await chat.officer_of(QUEENSWAY)).id)
    [to_officer] = [msg.text for r, msg in sent if r == officer]
    assert to_officer.startswith(
        f"{will.name} booked a joint TSM for Larkspur Primary School, Queensway Academy, "
    )
    [to_sibling] = [msg.text for r, msg in sent if r == Recipient("contact", deputy.id)]  # not invited
    assert (
        "booked a joint TSM for Larkspur" in to_sibling
        and "your school's TSM for the Autumn term" in to_sibling
    )
    for urn in (LARKSPUR, ZEPHYR):
        for role in ("attendance_lead", "senior_leader"):
            assert Recipient("contact", (await chat.contact(urn, role)).id) in reached, (urn, role)
    lark_lead = await chat.contact(LARKSPUR)
    mine = await chat.say(lark_lead, "my meetings")
    assert "Joint TSM with Queensway Academy, Zephyr Academy" in text_of(mine)


async def test_a_trust_contact_in_norfolk_cannot_when_the_profile_says_no(chat):
    await with_profile(chat, "norfolk")
    will = await chat.contact(QUEENSWAY)
    refused = await chat.say(will, "joint tsm")
    assert refused.error and "arranged by Priya Shah" in text_of(refused)
    assert await chat.count_meetings() == 0


async def test_a_trust_contact_chooses_only_siblings_that_book_themselves(chat, tmp_path):
    # Norfolk's rules (an independent school is contacted directly) with trust contacts allowed to book joint
    profile = tmp_path / "norfolk_joint.toml"
    text = (Path(tsm.policies.__file__).parent / "norfolk.toml").read_text(encoding="utf-8")
    profile.write_text(text.replace("[booking]\n", "[booking]\ntrust_contacts_book_joint = true\n", 1))
    await with_profile(chat, str(profile))
    will = await chat.contact(QUEENSWAY)
    larkspur, zephyr = await ids(chat, LARKSPUR, ZEPHYR)
    async with chat.app.db.transaction() as s:  # the LA contacts Zephyr directly
        await s.exec(
            update(School)
            .where(School.id == zephyr)
            .values(type_name="Other independent school", type_group="Independent schools")
        )
    first = await chat.say(will, "joint tsm")
    assert "Zephyr Academy: contacted directly" in text_of(first), text_of(first)
    assert zephyr not in {int(c["value"]) for c in choices(first.card, "schools")}
    forged = await chat.press(
        will, first, "Choose this time", schools=f"{larkspur},{zephyr},{first_own(first)}"
    )
    assert forged.error and "contacted directly" in text_of(forged)
    assert await chat.count_meetings() == 0


def first_own(reply) -> str:
    return [v for v in input_values(reply.card)["schools"].split(",") if v][-1]


async def test_an_officer_with_two_trusts_picks_one_first(chat):
    tom = await chat.officer_of(HARTWELL)
    picker = await chat.say(tom, "joint tsm")
    values = [c["value"] for c in choices(picker.card, "trust")]
    assert values == ["9001", "9002"]  # Demoshire Learning Trust, Wexbridge Schools Partnership (by name)
    first = await chat.press(tom, picker, "Next", trust="9001")
    assert "Demoshire Learning Trust" in text_of(first)
    assert len(choices(first.card, "schools")) == 5
    alex = await chat.officer_of(ASHCOMBE)
    other = await chat.act(alex, "joint.start", {"trust": "9001"})
    assert other.error and "none of your schools" in text_of(other)


async def test_more_dates_keeps_the_schools_and_the_place_chosen(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway = await ids(chat, LARKSPUR, QUEENSWAY)
    school = await chat.school(LARKSPUR)
    first = await chat.say(priya, "joint tsm")
    pair = f"{larkspur},{queensway}"
    dates = await chat.press(priya, first, "More dates", schools=pair, mode=f"on_site:{larkspur}")
    assert not dates.error and "in person at school" in text_of(dates), text_of(dates)
    times = await chat.press(priya, dates, "Show times")
    # the one-school step refuses a joint offer (each flow's own verbs)
    wrong = await chat.act(
        priya, "book.pick_time", {"offerId": button_data(times), "start": input_values(times.card)["start"]}
    )
    assert wrong.error and "does not belong to this step" in text_of(wrong)
    last = await chat.press(priya, times, "Choose this time")
    assert not last.error, text_of(last)
    assert facts(last)["Schools"] == "Larkspur Primary School, Queensway Academy"
    assert facts(last)["Where"] == "At Larkspur Primary School"
    assert {k for k in inputs(last.card) if k.startswith("leader_")} == {
        f"leader_{larkspur}",
        f"leader_{queensway}",
    }
    done = await chat.press(priya, last, "Book it")
    assert not done.error, text_of(done)
    [m] = await chat.meetings_of(QUEENSWAY)
    assert m.mode == "on_site" and m.location == school.address
    assert await chat.meetings_of(ZEPHYR) == []  # left out: its term is still open to book


def profile_file(tmp_path, seed: str, *changes: tuple[str, str]) -> str:
    """A seed's profile with a few lines changed (a real TOML file, as an LA would write one)."""
    text = (Path(tsm.policies.__file__).parent / f"{seed}.toml").read_text(encoding="utf-8")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / f"{seed}_changed.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def test_an_officer_whose_trusts_have_one_of_their_schools_each_is_told_so(chat):
    alex = await chat.officer_of(KESTREL)
    saxon = await chat.school(990019)  # Alex's other school of the trust goes to Priya
    async with chat.app.db.transaction() as s:
        await s.exec(
            update(School)
            .where(School.id == saxon.id)
            .values(link_officer_id=(await chat.officer_of(LARKSPUR)).id)
        )
    none = await chat.say(alex, "joint tsm")
    assert none.error and "None of your schools shares a trust with another of your schools" in text_of(none)
    other = await chat.say(await chat.contact(ASHCOMBE), "joint tsm")  # a school in no trust
    assert other.error and "is not part of a trust on record" in text_of(other)


async def test_a_contact_whose_own_school_is_booked_this_term_is_told_why(chat):
    await with_profile(chat, "kent")
    will = await chat.contact(QUEENSWAY)
    own = await chat.say(will, "book")
    booked = await chat.press(will, await chat.press(will, own, "Choose this time"), "Book it")
    assert not booked.error, text_of(booked)
    again = await chat.say(will, "joint tsm")
    assert (
        again.error
        and "Queensway Academy can't be in a joint TSM this term: already booked this term" in text_of(again)
    )


async def test_card_data_not_in_form_is_refused_with_the_card_back(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway = await ids(chat, LARKSPUR, QUEENSWAY)
    first = await chat.say(priya, "joint tsm")
    cases = {
        f"{larkspur},x": "not in the expected form",
        str(2**40): "not in the expected form",
        f"{larkspur},,": "two schools or more",
        "": "two schools or more",
        f"{larkspur},{larkspur}": "two schools or more",  # the same school twice is one school
        "1," * 1001: "not in the expected form",
    }
    for schools, why in cases.items():
        again = await chat.press(priya, first, "Choose this time", schools=schools)
        assert again.error and why in text_of(again), (schools, text_of(again))
        assert titles(again.card) == titles(first.card)
    for mode, why in (
        ("fax", "Please pick one of the places"),
        ("on_site:x", "site of one of the schools chosen"),
    ):
        again = await chat.press(priya, first, "Choose this time", mode=mode)
        assert again.error and why in text_of(again), (mode, text_of(again))
    # a list (as some clients send a multi-select) reads like the comma-separated form
    listed = await chat.press(priya, first, "Choose this time", schools=[str(larkspur), str(queensway)])
    assert not listed.error and facts(listed)["Schools"] == "Larkspur Primary School, Queensway Academy"
    # a time not on the card
    forged = await chat.press(priya, first, "Choose this time", start="2026-11-23T09:00:00+00:00")
    assert forged.error and "not one of the times offered" in text_of(forged)
    assert choices(forged.card, "start") == choices(first.card, "start")
    # More dates checks the card the same way
    more = await chat.press(priya, first, "More dates", schools=str(larkspur))
    assert more.error and "two schools or more" in text_of(more)
    assert await chat.count_meetings() == 0


async def test_each_school_needs_its_senior_leader_and_only_its_own(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway, zephyr = await ids(chat, LARKSPUR, QUEENSWAY, ZEPHYR)
    first = await chat.say(priya, "joint tsm")
    last = await chat.press(priya, first, "Choose this time")
    # Zephyr's leader left empty: refused (the demo LA expects a senior leader), the first card back, why on it
    refused = await chat.press(priya, last, "Book it", **{f"leader_{zephyr}": ""})
    assert refused.error and "Zephyr Academy has no senior leader invited" in text_of(refused), text_of(
        refused
    )
    assert "schools" in inputs(refused.card)
    # Larkspur's leader named as Queensway's: refused
    leader = input_values(last.card)[f"leader_{larkspur}"]
    forged = await chat.press(priya, last, "Book it", **{f"leader_{queensway}": leader})
    assert forged.error and "not one of that school's staff" in text_of(forged)
    assert await chat.count_meetings() == 0


async def test_a_time_taken_meanwhile_gives_fresh_times_for_the_same_schools(chat):
    priya = await chat.officer_of(LARKSPUR)
    trio = await ids(chat, LARKSPUR, QUEENSWAY, ZEPHYR)
    first = await chat.say(priya, "joint tsm")
    last = await chat.press(priya, first, "Choose this time")
    start = input_values(first.card)["start"]
    # another of Priya's schools books that very time first
    brookfield_lead = await chat.contact(990002)
    own = await chat.say(brookfield_lead, "book")
    taken = await chat.press(
        brookfield_lead, await chat.press(brookfield_lead, own, "Choose this time", start=start), "Book it"
    )
    assert not taken.error, text_of(taken)
    refused = await chat.press(priya, last, "Book it")
    assert refused.error and "Choose this time" in titles(refused.card), text_of(refused)
    again = await chat.press(priya, refused, "Choose this time")
    assert not again.error and {k for k in inputs(again.card) if k.startswith("leader_")} == {
        f"leader_{i}" for i in trio
    }, text_of(again)
    done = await chat.press(priya, again, "Book it")
    assert not done.error and "Joint TSM booked" in text_of(done), text_of(done)


async def test_when_fewer_than_two_schools_can_still_join_booking_ends_with_why(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway = await ids(chat, LARKSPUR, QUEENSWAY)
    first = await chat.say(priya, "joint tsm")
    last = await chat.press(priya, first, "Choose this time", schools=f"{larkspur},{queensway}")
    for urn in (QUEENSWAY, ZEPHYR):  # both others book their own TSM meanwhile
        lead = await chat.contact(urn)
        own = await chat.say(lead, "book")
        done = await chat.press(lead, await chat.press(lead, own, "Choose this time"), "Book it")
        assert not done.error, text_of(done)
    refused = await chat.press(priya, last, "Book it")
    assert refused.error and "Queensway Academy: already booked this term" in text_of(refused)
    assert "No joint TSM to book" in text_of(refused) and "schools" not in inputs(refused.card)


async def test_in_kent_the_officer_meets_at_a_school_by_default_and_one_way_to_meet_is_said_not_asked(
    chat, tmp_path
):
    await with_profile(chat, "kent")
    priya = await chat.officer_of(LARKSPUR)
    larkspur = (await chat.school(LARKSPUR)).id
    first = await chat.say(priya, "joint tsm")
    assert input_values(first.card)["mode"] == f"on_site:{larkspur}"  # the first school's site, by name
    await with_profile(
        chat,
        profile_file(
            tmp_path,
            "kent",
            ('modes_allowed = ["on_site", "teams"]', 'modes_allowed = ["teams"]'),
            ('default_mode = "on_site"', 'default_mode = "teams"'),
        ),
    )
    teams_only = await chat.say(priya, "joint tsm")
    assert "mode" not in inputs(teams_only.card) and "How: On Microsoft Teams." in text_of(teams_only)
    last = await chat.press(priya, teams_only, "Choose this time")
    assert not last.error and facts(last)["Where"].startswith("Microsoft Teams"), text_of(last)


async def test_too_many_people_for_one_tsm_gives_the_first_card_back_with_why(chat, tmp_path):
    await with_profile(
        chat,
        profile_file(
            tmp_path,
            "kent",
            ('modes_allowed = ["on_site", "teams"]', 'modes_allowed = ["on_site"]'),
            ("[booking]\n", "[booking]\nmax_invitees = 4\n"),
        ),
    )
    priya = await chat.officer_of(LARKSPUR)
    first = await chat.say(priya, "joint tsm")
    places = [c["value"] for c in choices(first.card, "mode")]
    assert places and all(p.startswith("on_site:") for p in places)  # in person only: a school's site each
    last = await chat.press(priya, first, "Choose this time")
    refused = await chat.press(priya, last, "Book it")  # three senior leaders and three attendance leads
    assert refused.error and "at most 4 people invited" in text_of(refused), text_of(refused)
    assert "schools" in inputs(refused.card)
    assert await chat.count_meetings() == 0


def button_data(reply) -> str:
    return button(reply.card, "Choose this time")["data"]["offerId"]


async def test_a_card_left_open_too_long_gives_fresh_dates_for_the_same_schools(chat):
    priya = await chat.officer_of(LARKSPUR)
    larkspur, queensway = await ids(chat, LARKSPUR, QUEENSWAY)
    first = await chat.say(priya, "joint tsm")
    dates = await chat.press(priya, first, "More dates", schools=f"{larkspur},{queensway}")
    times = await chat.press(priya, dates, "Show times")
    chat.clock.advance(timedelta(days=4))  # the offer lasts three days
    again = await chat.press(priya, times, "Choose this time")
    assert not again.error and "has expired" in text_of(again), text_of(again)
    times = await chat.press(priya, again, "Show times")
    last = await chat.press(priya, times, "Choose this time")
    assert facts(last)["Schools"] == "Larkspur Primary School, Queensway Academy", text_of(last)


@pytest.mark.postgres
async def test_the_joint_tsm_reads_and_booking_on_postgresql(pg_url, tmp_path):
    pg = await make_chat(pg_url, tmp_path)
    try:
        priya = await pg.officer_of(LARKSPUR)
        first = await pg.say(priya, "joint tsm")
        assert len(choices(first.card, "schools")) == 3, text_of(first)
        done = await pg.press(priya, await pg.press(priya, first, "Choose this time"), "Book it")
        assert not done.error and "Joint TSM booked" in text_of(done), text_of(done)
        schools = await pg.say(priya, "my schools")
        assert text_of(schools).count("Booked (joint)") == 3
        assert "Joint TSM" not in titles(schools.card)  # the trust's three are booked: none left to offer
        # the coverage report's read of the meeting's schools, on PostgreSQL
        report = await pg.app.reports.coverage(Actor("admin"), "current")
        joint = {x.school: x.status_words for x in report.rows if x.joint_with}
        assert joint["Zephyr Academy"] == "booked (joint) with Larkspur Primary School, Queensway Academy"
        assert len(joint) == 3
    finally:
        await pg.app.close()


async def test_my_schools_offers_a_joint_tsm_for_a_trust_with_two_of_the_officers_schools_still_to_book(chat):
    priya = await chat.officer_of(LARKSPUR)
    trio = await ids(chat, LARKSPUR, QUEENSWAY, ZEPHYR)
    mine = await chat.say(priya, "my schools")
    assert "Joint TSM" in titles(mine.card)
    first = await chat.press(priya, mine, "Joint TSM")  # her one such trust: straight to its first card
    assert not first.error and "Wexbridge Schools Partnership" in text_of(first), text_of(first)
    assert {int(ch["value"]) for ch in choices(first.card, "schools")} == set(trio)

    # two trusts with two or more of his schools each: the trust is picked first
    tom = await chat.officer_of(HARTWELL)
    picker = await chat.press(tom, await chat.say(tom, "my schools"), "Joint TSM")
    assert [c["value"] for c in choices(picker.card, "trust")] == ["9001", "9002"]

    # Larkspur and Queensway booked together: Zephyr alone is left to book, so there is no joint TSM to offer
    larkspur, queensway = trio[:2]
    last = await chat.press(priya, first, "Choose this time", schools=f"{larkspur},{queensway}")
    done = await chat.press(priya, last, "Book it")
    assert not done.error, text_of(done)
    after = await chat.say(priya, "my schools")
    assert "Joint TSM" not in titles(after.card)
    assert "Queensway Academy (990017): Booked (joint):" in text_of(after)


async def test_my_schools_offers_no_joint_tsm_when_no_trust_has_two_of_the_officers_schools(chat):
    alex = await chat.officer_of(KESTREL)
    assert "Joint TSM" in titles((await chat.say(alex, "my schools")).card)  # Kestrel and Saxon, both his
    saxon = await chat.school(990019)
    async with chat.app.db.transaction() as s:
        await s.exec(
            update(School)
            .where(School.id == saxon.id)
            .values(link_officer_id=(await chat.officer_of(LARKSPUR)).id)
        )
    alone = await chat.say(alex, "my schools")
    assert not alone.error and "Kestrel" in text_of(alone)
    assert "Joint TSM" not in titles(alone.card)
