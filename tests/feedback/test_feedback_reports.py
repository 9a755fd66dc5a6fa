"""Each report against a seeded spring term 2026 whose answers were worked out by hand, the CSV exports
(suppressed counts included) and the chart PNG.

The seed (Norfolk world; Ann has 7 schools, Bob 2; "now" is Friday 20 March 2026):
  Low Primary      held 10 Mar; record: 92.3%, PA 41, SA 3; evaluations: lead named (4,5,3,4) "Clear plan",
                   head anonymous (2,3,2,2) "Too long"
  High Primary     booked 25 Mar (still to come)
  Town High        cancelled (3 Mar)
  Oak Independent  no meeting; the term-start invitation was sent -> offered
  Willow Special   no-show (5 Mar)
  Trust A + B      one joint meeting held 12 Mar; evaluation: Trust A lead named (5,5,5,5), no comment
  Allocated (Bob)  held 11 Mar; record: 90%, PA 4, SA 0; evaluation: head named (3,4,4,3) "Useful"
  Bob's Primary    nothing this term (an autumn offer and an unsent chaser do not count) -> not booked
Also an autumn meeting of Low Primary (held, with one open action), which spring reports ignore.
"""

from __future__ import annotations

import struct
import zlib

import pytest
from factories import local

from tsm.adapters.db.offers import ChatOffer
from tsm.domain.errors import NotAllowed
from tsm.domain.feedback import LA_TOTAL, Coverage
from tsm.services import reports as rep
from tsm.services.actors import Actor

SCHOOL = {"usefulness": "4", "working_together": "5", "clarity": "3", "overall": "4"}


@pytest.fixture
async def seeded(env):
    w = env.world
    m = {
        "low": await env.meeting(["low_primary"], local(2026, 3, 10, 10)),
        "high": await env.meeting(["high_primary"], local(2026, 3, 25, 10), status="booked"),
        "town": await env.meeting(["secondary"], local(2026, 3, 3, 10), status="cancelled"),
        "willow": await env.meeting(["la_special"], local(2026, 3, 5, 10), status="no_show"),
        "trust": await env.meeting(["trust_a", "trust_b"], local(2026, 3, 12, 10)),
        "allocated": await env.meeting(["allocated"], local(2026, 3, 11, 10)),
        "autumn": await env.meeting(["low_primary"], local(2025, 11, 10, 10), term="autumn"),
    }
    spring, autumn = w.terms["spring"], w.terms["autumn"]
    await env.sent(
        "term_start",
        "school",
        w.schools["independent"],
        ("contact", w.contacts["independent.lead"]),
        str(spring),
    )
    await env.sent(
        "chaser",
        "school",
        w.schools["bob_school"],
        ("contact", w.contacts["bob_school.lead"]),
        str(spring),
        status="claimed",
    )
    async with env.db.transaction() as s:
        s.add(
            ChatOffer(
                id="o1",
                kind="book",
                school_ids=[w.schools["bob_school"]],
                term_id=autumn,
                mode="teams",
                meeting_type="primary",
                duration_minutes=60,
                timezone="Europe/London",
                slots=[],
                created_at=local(2025, 10, 1),
                expires_at=local(2025, 10, 2),
            )
        )
    ev = env.evaluations
    await ev.submit(w.contact("low_primary.lead"), m["low"], {**SCHOOL, "comments": "Clear plan"})
    await ev.submit(
        w.contact("low_primary.head"),
        m["low"],
        {
            "usefulness": "2",
            "working_together": "3",
            "clarity": "2",
            "overall": "2",
            "anonymous": "true",
            "comments": "Too long",
        },
    )
    await ev.submit(
        w.contact("trust_a.lead"),
        m["trust"],
        {"usefulness": "5", "working_together": "5", "clarity": "5", "overall": "5"},
    )
    await ev.submit(
        w.contact("allocated.head"),
        m["allocated"],
        {"usefulness": "3", "working_together": "4", "clarity": "4", "overall": "3", "comments": "Useful"},
    )
    rec = env.records
    v = (
        await rec.save(
            w.officer("ann"),
            m["low"],
            {
                "attendance_pct": "92.3",
                "pa": "41",
                "sa": "3",
                "action1_text": "Send first-day calling letters",
                "action1_owner": "school",
                "action1_due": "2026-03-18",
                "action2_text": "Arrange a multi-agency meeting",
                "action2_owner": "la",
                "action2_due": "2026-04-24",
                "action3_text": "Share the attendance policy",
                "action3_owner": "school",
                "action3_due": "2026-03-13",
            },
        )
    ).view
    await rec.set_action_done(w.officer("ann"), v.actions[2].id)
    await rec.save(
        w.officer("bob"),
        m["allocated"],
        {
            "attendance_pct": "90",
            "pa": "4",
            "sa": "0",
            "action1_text": "=Refer two families",
            "action1_owner": "other",
            "action1_detail": "Early Help",
            "action1_due": "2026-03-30",
        },
    )
    await rec.save(
        w.officer("ann"),
        m["autumn"],
        {"action1_text": "Review autumn trends", "action1_owner": "school", "action1_due": "2025-12-01"},
    )
    return m


async def test_coverage_per_officer_and_for_the_la(env, seeded):
    r = await env.reports.coverage(Actor("admin"), "current")
    assert r.term.label == "Spring term 2025-26"
    by = {t.officer: t for t in r.tallies}
    ann, bob, la = by["Ann Officer"], by["Bob Officer"], by[LA_TOTAL]
    assert {c.value: n for c, n in ann.counts.items()} == {
        "held": 3,
        "held_this_year": 0,
        "booked": 1,
        "no_show": 1,
        "cancelled": 1,
        "offered": 1,
        "not_booked": 0,
    }
    assert (ann.schools, ann.held_pct, ann.covered_pct) == (7, 42.9, 57.1)
    assert {c.value: n for c, n in bob.counts.items()} == {
        "held": 1,
        "held_this_year": 0,
        "booked": 0,
        "no_show": 0,
        "cancelled": 0,
        "offered": 0,
        "not_booked": 1,
    }
    assert (la.schools, la.counts[Coverage.HELD], la.counts[Coverage.NOT_BOOKED], la.held_pct) == (
        9,
        4,
        1,
        44.4,
    )
    assert [t.officer for t in r.tallies] == ["Ann Officer", "Bob Officer", LA_TOTAL]


async def test_coverage_csv_rows_and_suppression(env, seeded):
    r = await env.reports.coverage(Actor("admin"), "spring 2025-26")
    # Trust A and B Primary share one TSM (a joint TSM): each names the other in joint_with
    assert rep.coverage_csv(r).splitlines() == [
        "term,urn,school,officer,status,meeting_date,attendance_pct,pa_count,sa_count,joint_with",
        "Spring term 2025-26,100001,Low Primary School,Ann Officer,held,2026-03-10,92.3,41,<5,",
        "Spring term 2025-26,100006,Trust A Primary,Ann Officer,held,2026-03-12,,,,Trust B Primary",
        "Spring term 2025-26,100007,Trust B Primary,Ann Officer,held,2026-03-12,,,,Trust A Primary",
        "Spring term 2025-26,100002,High Primary School,Ann Officer,booked,2026-03-25,,,,",
        "Spring term 2025-26,100005,Willow Special School,Ann Officer,no_show,2026-03-05,,,,",
        "Spring term 2025-26,100003,Town High School,Ann Officer,cancelled,2026-03-03,,,,",
        "Spring term 2025-26,100004,Oak Independent School,Ann Officer,offered,,,,,",
        "Spring term 2025-26,100008,Allocated Trust Academy,Bob Officer,held,2026-03-11,90.0,<5,<5,",
        "Spring term 2025-26,100009,Bob's Primary,Bob Officer,not_booked,,,,,",
    ]
    assert rep.coverage_summary_csv(r).splitlines() == [
        "term,officer,schools,held,held_this_year,booked,no_show,cancelled,offered,not_booked,held_pct,"
        "held_or_booked_pct",
        "Spring term 2025-26,Ann Officer,7,3,0,1,1,1,1,0,42.9,57.1",
        "Spring term 2025-26,Bob Officer,2,1,0,0,0,0,0,1,50.0,50.0",
        "Spring term 2025-26,All officers (LA),9,4,0,1,1,1,1,1,44.4,55.6",
    ]


async def test_an_officer_sees_only_their_own_schools(env, seeded):
    w = env.world
    r = await env.reports.coverage(w.officer("bob"), "current")
    assert [x.school for x in r.rows] == ["Allocated Trust Academy", "Bob's Primary"]
    assert [t.officer for t in r.tallies] == ["Bob Officer", LA_TOTAL] and r.tallies[-1].schools == 2
    with pytest.raises(NotAllowed):
        await env.reports.coverage(w.officer("bob"), "current", officer_id=w.officers["ann"])
    with pytest.raises(NotAllowed):
        await env.reports.coverage(w.contact("low_primary.lead"), "current")


async def test_evaluation_summary_and_csv(env, seeded):
    r = await env.reports.evaluations(Actor("admin"), "current")
    by = {x.officer: x for x in r.summaries}
    assert (by["Ann Officer"].answers, by["Ann Officer"].meetings_held) == (3, 2)
    assert by["Ann Officer"].means == {
        "usefulness": 3.67,
        "working_together": 4.33,
        "clarity": 3.33,
        "overall": 3.67,
    }
    assert by["Bob Officer"].means == {
        "usefulness": 3.0,
        "working_together": 4.0,
        "clarity": 4.0,
        "overall": 3.0,
    }
    assert (by[LA_TOTAL].answers, by[LA_TOTAL].meetings_held) == (4, 3)
    assert by[LA_TOTAL].means == {"usefulness": 3.5, "working_together": 4.25, "clarity": 3.5, "overall": 3.5}
    assert by[LA_TOTAL].distribution["overall"] == {1: 0, 2: 1, 3: 1, 4: 1, 5: 1}
    assert [(c.officer, c.school, c.author, c.text) for c in r.comments] == [
        ("Ann Officer", "Low Primary School", "Lead of Low Primary School", "Clear plan"),
        (
            "Ann Officer",
            "a school (too few answers to name it)",
            "Anonymous",
            "Too long",
        ),  # 2 answers: hidden
        ("Bob Officer", "Allocated Trust Academy", "Head of Allocated Trust Academy", "Useful"),
    ]
    assert rep.evaluations_csv(r).splitlines() == [
        "term,officer,meetings_held,answers,mean_usefulness,mean_working_together,mean_clarity,mean_overall",
        "Spring term 2025-26,Ann Officer,2,3,3.67,4.33,3.33,3.67",
        "Spring term 2025-26,Bob Officer,1,1,3.00,4.00,4.00,3.00",
        "Spring term 2025-26,All officers (LA),3,4,3.50,4.25,3.50,3.50",
    ]
    mine = await env.reports.evaluations(env.world.officer("bob"), "current")
    assert [x.officer for x in mine.summaries] == ["Bob Officer"]
    assert [c.text for c in mine.comments] == ["Useful"]


async def test_the_chart_is_a_valid_png(env, seeded, tmp_path):
    r = await env.reports.evaluations(Actor("admin"), "current")
    png = rep.evaluation_chart_png(r)
    assert len(png) > 1000 and png[:8] == b"\x89PNG\r\n\x1a\n"
    # Walk the chunks: each CRC must match, IHDR first with a sensible size, IEND last.
    pos, chunks = 8, []
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + data) == crc
        chunks.append((kind, data))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert (width, height) == (600, 288)  # 7.5 x 3.6 inches at 80 dpi
    from PIL import Image  # matplotlib's own dependency: decode it fully as a second opinion

    path = tmp_path / "chart.png"
    path.write_bytes(png)
    with Image.open(path) as im:
        im.load()
        assert (
            im.size == (600, 288) and len(im.convert("RGB").getcolors(maxcolors=1 << 20)) > 10
        )  # not a blank image


async def test_outstanding_actions_and_csv(env, seeded):
    r = await env.reports.actions(Actor("admin"), "current")
    assert [(x.due.isoformat(), x.days_overdue, x.school, x.owner, x.text) for x in r.rows] == [
        ("2026-03-18", 2, "Low Primary School", "school", "Send first-day calling letters"),
        ("2026-03-30", 0, "Allocated Trust Academy", "other", "=Refer two families"),
        ("2026-04-24", 0, "Low Primary School", "la", "Arrange a multi-agency meeting"),
    ]
    csv = rep.actions_csv(r).splitlines()
    assert csv[0] == "due_date,days_overdue,urn,school,officer,owner,owner_detail,action,meeting_date,term"
    assert csv[1] == (
        "2026-03-18,2,100001,Low Primary School,Ann Officer,school,,Send first-day calling letters,"
        "2026-03-10,Spring term 2025-26"
    )
    assert csv[2].startswith(
        "2026-03-30,0,100008,Allocated Trust Academy,Bob Officer,other,Early Help,'=Refer"
    )
    everything = await env.reports.actions(Actor("admin"), all_terms=True)
    assert [x.text for x in everything.rows][0] == "Review autumn trends"
    ann = await env.reports.actions(env.world.officer("ann"), "current")
    assert [x.text for x in ann.rows] == ["Send first-day calling letters", "Arrange a multi-agency meeting"]


async def test_terms_by_name_previous_and_id(env, seeded):
    w = env.world
    admin = Actor("admin")
    assert (await env.reports.coverage(admin, "previous")).term.id == w.terms["autumn"]
    assert (await env.reports.coverage(admin, w.terms["summer"])).term.name == "summer"
    assert (await env.reports.coverage(admin, "autumn 2025-26")).rows[0].status is Coverage.HELD
