"""The TSM record through the service and its cards: saving, the pupil-data warning (nothing saved until the
user edits or confirms), suppression wherever the record is shown, actions and who may write."""

from __future__ import annotations

import json

import pytest
from factories import local
from sqlmodel import select

from cards.record import record_card, record_form
from tsm.adapters.db.feedback import RecordAction, TsmRecord
from tsm.domain.errors import InvalidInput, NotAllowed

FORM = {
    "attendance_pct": "92.3",
    "pa": "41",
    "sa": "3",
    "sen": "12",
    "fsm": "4",
    "eal": "0",
    "grt": "2",
    "lead_practitioner": "Ann Officer, PIAS",
    "notes": "Autumn trend improving; focus on Year 8 Mondays.",
    "action1_text": "Send first-day calling letters",
    "action1_owner": "school",
    "action1_due": "2026-03-27",
    "action2_text": "Arrange a multi-agency meeting",
    "action2_owner": "la",
    "action2_due": "2026-04-24",
    "action3_text": "Offer family support sessions",
    "action3_owner": "other",
    "action3_detail": "Early Help",
    "action3_due": "2026-05-01",
}


async def stored(env):
    async with env.db.reader() as s:
        return list(await s.exec(select(TsmRecord))), list(await s.exec(select(RecordAction)))


async def test_save_and_read_back_with_small_counts_suppressed_in_the_card(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    out = await env.records.save(w.officer("ann"), mid, FORM)
    assert out.saved
    v = out.view
    assert (v.figures.attendance_pct, v.figures.pa, v.figures.sa, v.lead_practitioner) == (
        92.3,
        41,
        3,
        "Ann Officer, PIAS",
    )
    assert [(a.owner_label, a.due.isoformat()) for a in v.actions] == [
        ("School", "2026-03-27"),
        ("LA", "2026-04-24"),
        ("Other service (Early Help)", "2026-05-01"),
    ]
    shown = json.dumps(record_card(v))
    facts = {
        f["title"]: f["value"] for b in record_card(v)["body"] if b["type"] == "FactSet" for f in b["facts"]
    }
    assert facts["Persistently absent (10%+)"] == "41" and facts["Severely absent (50%+)"] == "<5"
    assert (facts["SEN"], facts["FSM"], facts["EAL"], facts["GRT"]) == ("12", "<5", "<5", "<5")
    assert (
        '"3"' not in shown and '"2"' not in shown and '"4"' not in shown
    )  # the small numbers appear nowhere
    # The edit form does not show them either: "<5", which a save keeps as stored.
    form = record_form(v)
    inputs = {b["id"]: b.get("value") for b in _inputs(form)}
    assert (inputs["sa"], inputs["fsm"], inputs["grt"], inputs["pa"]) == ("<5", "<5", "<5", "41")
    again = await env.records.save(
        w.contact("low_primary.lead"),
        mid,
        {**FORM, "sa": "<5", "fsm": "<5", "eal": "<5", "grt": "<5", "pa": "44"},
    )
    assert again.saved and (
        again.view.figures.sa,
        again.view.figures.cohort("grt"),
        again.view.figures.pa,
    ) == (3, 2, 44)
    assert again.view.updated_by == "Lead of Low Primary School"


async def test_text_that_looks_like_pupil_data_is_not_saved_until_confirmed(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    ann = w.officer("ann")
    risky = {
        **FORM,
        "notes": "Discussed Jayden Clarke (A123456789012).",
        "action1_text": "Call Mrs Whitmore about Monday absences",
    }
    out = await env.records.save(ann, mid, risky)
    assert not out.saved
    assert [(f.kind, f.text) for f in out.findings] == [
        ("upn", "A123456789012"),
        ("name", "Jayden Clarke"),
        ("name", "Mrs Whitmore"),
    ]
    assert await stored(env) == ([], [])  # nothing written
    card = json.dumps(record_form(out.view, draft=out.draft, findings=out.findings))
    assert "This may contain pupil data" in card and "Jayden Clarke" in card
    assert "Save as written" not in card and "never stored" in card  # a UPN: no override (issue 12 B3)
    # Confirming only some phrases is not enough, and confirming a UPN changes nothing.
    partly = await env.records.save(ann, mid, risky, acknowledged=["Jayden Clarke", "A123456789012"])
    assert [f.text for f in partly.findings] == ["A123456789012", "Mrs Whitmore"] and await stored(env) == (
        [],
        [],
    )
    # Editing the text out saves at once.
    clean = await env.records.save(
        ann,
        mid,
        {
            **risky,
            "notes": "Discussed the Year 10 cohort.",
            "action1_text": "Call the family liaison officer",
        },
    )
    assert clean.saved and clean.view.notes == "Discussed the Year 10 cohort."
    # Confirming every phrase shown does not store a UPN (nor a date of birth): "Save as written" is for names only.
    confirmed = await env.records.save(
        ann, mid, risky, acknowledged=["A123456789012", "Jayden Clarke", "Mrs Whitmore"]
    )
    assert not confirmed.saved and [f.text for f in confirmed.findings] == ["A123456789012"]
    assert [r.notes for r in (await stored(env))[0]] == ["Discussed the Year 10 cohort."]  # unchanged
    dob = {**risky, "notes": "Jayden Clarke, DOB 01/02/2015"}
    out = await env.records.save(
        ann, mid, dob, acknowledged=["Jayden Clarke", "Mrs Whitmore", "DOB 01/02/2015"]
    )
    assert not out.saved and [f.kind for f in out.findings] == ["dob"]
    assert [r.notes for r in (await stored(env))[0]] == ["Discussed the Year 10 cohort."]
    # Names the user confirms as not pupils (a member of staff, a place) are saved as written.
    names = {**risky, "notes": "Discussed Jayden Clarke's club."}
    confirmed = await env.records.save(ann, mid, names, acknowledged=["Jayden Clarke", "Mrs Whitmore"])
    assert confirmed.saved and "Jayden Clarke" in confirmed.view.notes


async def test_staff_and_school_names_are_not_flagged(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    out = await env.records.save(
        w.officer("ann"),
        mid,
        {
            **FORM,
            "notes": "Head of Low Primary School and Ann "
            "Officer agreed the plan; Bob Officer to join in June.",
        },
    )
    assert out.saved, out.findings


async def test_done_marks_survive_an_edit_of_other_actions(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    v = (await env.records.save(w.officer("ann"), mid, FORM)).view
    v = await env.records.set_action_done(w.contact("low_primary.head"), v.actions[0].id)
    assert [a.done for a in v.actions] == [True, False, False]
    v = (await env.records.save(w.officer("ann"), mid, {**FORM, "action2_due": "2026-04-30"})).view
    assert [a.done for a in v.actions] == [True, False, False]
    assert [a.text for a in await env.records.open_actions(w.contact("low_primary.lead"))] == [
        "Arrange a multi-agency meeting",
        "Offer family support sessions",
    ]


async def test_who_may_write_and_when(env):
    w = env.world
    mid = await env.meeting(["low_primary"], local(2026, 3, 10, 10))
    future = await env.meeting(["high_primary"], local(2026, 3, 25, 10), status="booked")
    with pytest.raises(NotAllowed):
        await env.records.save(w.contact("high_primary.lead"), mid, FORM)
    with pytest.raises(NotAllowed):
        await env.records.save(w.officer("bob"), mid, FORM)
    with pytest.raises(NotAllowed):
        await env.records.view(w.officer("bob"), mid)
    with pytest.raises(InvalidInput, match="not started yet"):
        await env.records.save(w.contact("high_primary.lead"), future, FORM)
    with pytest.raises(InvalidInput, match="severe absence"):
        await env.records.save(w.officer("ann"), mid, {**FORM, "sa": "50"})
    with pytest.raises(InvalidInput, match="whole numbers"):  # "<5" only keeps a stored small count
        await env.records.save(w.officer("ann"), mid, {**FORM, "sa": "<5"})
    assert await stored(env) == ([], [])


def _inputs(node):
    if isinstance(node, dict):
        if str(node.get("type", "")).startswith("Input."):
            yield node
        for v in node.values():
            yield from _inputs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _inputs(v)
