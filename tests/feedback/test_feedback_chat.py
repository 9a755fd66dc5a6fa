"""The feedback conversations through the real Router and services: cards are "pressed" as Teams does (the
button's data merged with the card's inputs); the sender is always identified by the channel."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cardtree import walk
from factories import local, make_world, told
from feedback_world import NOW
from sqlmodel import select

from cards import evaluation as eval_cards
from cards import record as record_cards
from cards import report as report_cards
from tsm.adapters.db.directory import Officer
from tsm.adapters.db.feedback import Evaluation, TsmRecord
from tsm.bootstrap import build_app
from tsm.chat import Incoming, Who
from tsm.chat.app import build_router
from tsm.clock import FixedClock
from tsm.settings import Settings


class Chat:
    def __init__(self, app, clock, world) -> None:
        self.app, self.clock, self.world, self.router = app, clock, world, build_router()

    async def identify(self, who: Who):
        return await self.app.directory.identify(who.aad_object_id, who.email)

    async def say(self, email: str, text: str):
        return await self.router.dispatch(
            Incoming(who=Who(email=email), text=text),
            identify=self.identify,
            services=self.app,
            clock=self.clock,
        )

    async def act(self, email: str, verb: str, data: dict[str, Any]):
        return await self.router.dispatch(
            Incoming(who=Who(email=email), verb=verb, data=data, is_invoke=True),
            identify=self.identify,
            services=self.app,
            clock=self.clock,
        )

    async def press(self, email: str, reply, title: str, **inputs: Any):
        a = button(reply.card, title)
        data = {**a["data"], **{k: v.get("value", "") for k, v in inputs_of(reply.card).items()}, **inputs}
        return await self.act(email, data.pop("verb"), data)


def inputs_of(card) -> dict[str, dict]:
    return {n["id"]: n for n in walk(card or {}) if str(n.get("type", "")).startswith("Input.")}


def button(card, title: str) -> dict:
    for n in walk(card or {}):
        if n.get("type") == "Action.Execute" and n["title"].startswith(title):
            return n
    raise AssertionError(f"no button {title!r}: {[n['title'] for n in walk(card or {}) if 'title' in n]}")


def words(reply) -> str:
    parts = [reply.text or ""]
    for n in walk(reply.card or {}):
        if n.get("type") == "TextBlock":
            parts.append(n["text"])
        if n.get("type") == "FactSet":
            parts.extend(f"{f['title']}: {f['value']}" for f in n["facts"])
    return "\n".join(parts)


def check_card(card: dict) -> None:
    """The house rules for a card: 1.5, under Teams' ~28 KB, every input labelled and unique, every
    Action.Execute with an Action.Submit fallback carrying the same verb and data, and a way on (a button)."""
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert len(json.dumps(card, ensure_ascii=False).encode()) < 28 * 1024
    ids = [n["id"] for n in walk(card["body"]) if str(n.get("type", "")).startswith("Input.")]
    assert len(ids) == len(set(ids))
    assert all(n.get("label") for n in walk(card["body"]) if str(n.get("type", "")).startswith("Input."))
    executes = [n for n in walk(card) if n.get("type") == "Action.Execute"]
    assert executes, "a card with no way on"
    for n in executes:
        assert n["data"]["verb"] == n["verb"]
        assert n["fallback"] == {"type": "Action.Submit", "title": n["title"], "data": n["data"]}


LEAD, HEAD = "lead@100001.sch.example", "head@100001.sch.example"
OTHER_SCHOOL = "lead@100002.sch.example"
ANN, BOB, ADMIN = "ann@la.example", "bob@la.example", "manager@la.example"


@pytest.fixture
async def chat(sqlite_url, tmp_path):
    clock = FixedClock(NOW)
    app = build_app(Settings(_env_file=None, database_url=sqlite_url, invitations_dir=tmp_path), clock=clock)
    world = await make_world(app.db)
    async with app.db.transaction() as s:
        s.add(Officer(la_id=world.la_id, name="Mo Manager", email=ADMIN, mailbox=ADMIN, is_admin=True))
    c = Chat(app, clock, world)
    from feedback_world import Env

    c.env = Env(app.db, world, clock, app.evaluations, app.records, app.reports, app.reference)
    c.meeting_id = await c.env.meeting(["low_primary"], local(2026, 3, 10, 10))
    yield c
    await app.close()


async def evaluations(chat) -> list[Evaluation]:
    async with chat.app.db.reader() as s:
        return list(await s.exec(select(Evaluation)))


async def test_a_school_contact_gives_feedback_then_changes_it(chat):
    card = await chat.say(LEAD, "feedback")
    check_card(card.card)
    assert "How was your TSM?" in words(card) and set(inputs_of(card.card)) == {
        "usefulness",
        "working_together",
        "clarity",
        "overall",
        "comments",
        "anonymous",
    }
    saved = await chat.press(
        LEAD,
        card,
        "Send feedback",
        usefulness="4",
        working_together="5",
        clarity="3",
        overall="4",
        comments="Helpful",
    )
    assert not saved.error and "Thank you: your answer is saved." in words(saved)
    check_card(saved.card)
    assert inputs_of(saved.card)["overall"]["value"] == "4"  # the answer, to change
    again = await chat.press(LEAD, saved, "Change my answer", overall="5")
    assert "Thank you: your answer is updated." in words(again)
    [e] = await evaluations(chat)
    assert (e.overall, e.comments, e.anonymous) == (5, "Helpful", False)


async def test_one_thank_you_per_feedback_submission(chat):
    """Issue 14 item 7b: the answer is thanked once, by its card, in chat and in the card Teams puts in place of the
    one pressed (the invoke's answer), not "your feedback is saved" and then "your answer is saved"."""
    from bot.handler import invoke_body

    card = await chat.say(LEAD, "feedback")
    rated = dict(usefulness="4", working_together="5", clarity="3", overall="4")
    for reply in (
        saved := await chat.press(LEAD, card, "Send feedback", **rated),
        await chat.press(LEAD, saved, "Change my answer", overall="5"),
    ):
        assert not reply.error
        assert words(reply).count("Thank you") == 1, words(reply)
        teams_card = json.dumps(invoke_body(reply)["value"])
        assert teams_card.count("Thank you") == 1, teams_card


async def test_an_anonymous_answer_is_changed_from_its_own_card_only(chat):
    card = await chat.say(HEAD, "evaluate")
    saved = await chat.press(
        HEAD,
        card,
        "Send feedback",
        usefulness="2",
        working_together="2",
        clarity="2",
        overall="2",
        anonymous="true",
    )
    assert "editToken" in button(saved.card, "Change my answer")["data"]
    assert "your name is not kept" in words(saved)
    changed = await chat.press(HEAD, saved, "Change my answer", overall="3")
    assert not changed.error
    [e] = await evaluations(chat)
    assert (e.overall, e.contact_id, e.anonymous) == (3, None, True)
    # The first card again, without the token: refused with the way forward; still one answer.
    refused = await chat.press(
        HEAD,
        card,
        "Send feedback",
        usefulness="5",
        working_together="5",
        clarity="5",
        overall="5",
        anonymous="true",
    )
    assert refused.error and "Change my answer" in refused.text
    # Asking for the card again says it is answered (no form to fill twice).
    fresh = await chat.say(HEAD, "feedback")
    assert "already answered this evaluation anonymously" in words(fresh) and not inputs_of(fresh.card)
    check_card(fresh.card)
    assert len(await evaluations(chat)) == 1


async def test_forged_evaluation_actions_change_nothing(chat):
    bad = {
        "meetingId": chat.meeting_id,
        "usefulness": "1",
        "working_together": "1",
        "clarity": "1",
        "overall": "1",
    }
    r = await chat.act(OTHER_SCHOOL, "eval.submit", bad)
    assert r.error and "another school" in r.text
    r = await chat.act(ANN, "eval.submit", bad)
    assert r.error and "not open to you" in r.text
    r = await chat.act(LEAD, "eval.submit", {**bad, "meetingId": "drop table"})
    assert r.error
    r = await chat.act(LEAD, "eval.submit", {**bad, "overall": "9"})
    assert r.error and "1 to 5" in r.text
    assert await evaluations(chat) == []


async def test_the_officer_writes_the_record_past_a_pupil_name_warning(chat):
    first = await chat.say(ANN, "record")
    assert "No record has been written" in words(first)
    form = await chat.press(ANN, first, "Write the record")
    check_card(form.card)
    filled = dict(
        attendance_pct="91.5",
        pa="23",
        sa="2",
        grt="1",
        lead_practitioner="Ann Officer",
        notes="Agreed a plan for Kayden Holt",
        action1_text="Send letters",
        action1_owner="school",
        action1_due="2026-03-27",
    )
    warned = await chat.press(ANN, form, "Save the record", **filled)
    assert not warned.error and "Nothing is saved yet" in warned.text
    assert "Kayden Holt" in words(warned) and "looks like a person's name" in words(warned)
    check_card(warned.card)
    async with chat.app.db.reader() as s:
        assert list(await s.exec(select(TsmRecord))) == []
    # The warning card keeps what was typed, so confirming saves exactly that.
    saved = await chat.press(ANN, warned, "Save as written")
    assert saved.text == "The TSM record is saved."
    # The officer wrote it first: the school's invited staff get a copy of the record.
    saved_told = await told(chat.app, chat.clock)
    assert sorted((to.kind, to.id) for to, _ in saved_told) == sorted(
        ("contact", chat.world.contacts[k]) for k in ("low_primary.lead", "low_primary.head")
    )
    assert all("is ready" in msg.text and msg.card for _, msg in saved_told)
    facts = {
        f["title"]: f["value"] for n in walk(saved.card) if n.get("type") == "FactSet" for f in n["facts"]
    }
    assert (facts["Persistently absent (10%+)"], facts["Severely absent (50%+)"], facts["GRT"]) == (
        "23",
        "<5",
        "<5",
    )
    # The school sees the same record and may mark the action done; the officer is told when the school saves.
    seen = await chat.say(LEAD, "record")
    done = await chat.press(LEAD, seen, "Mark action 1 done")
    assert "✅ done" in words(done)
    edit = await chat.press(LEAD, done, "Edit the record")
    resaved = await chat.press(LEAD, edit, "Save the record", notes="Agreed a plan for the Year 8 cohort")
    assert resaved.text == "The TSM record is saved."
    [(to, msg)] = await told(chat.app, chat.clock)
    assert (to.kind, to.id) == (
        "officer",
        chat.world.officers["ann"],
    ) and "updated the TSM record" in msg.text
    assert "✅ done" in words(resaved)  # the done mark survived the edit


async def test_another_officer_cannot_open_or_write_the_record(chat):
    r = await chat.say(BOB, f"record {chat.meeting_id}")
    assert r.error and "not one of yours" in r.text
    r = await chat.act(BOB, "record.save", {"meetingId": chat.meeting_id, "notes": "x"})
    assert r.error
    r = await chat.act(OTHER_SCHOOL, "record.edit", {"meetingId": chat.meeting_id})
    assert r.error


async def test_reports_for_officers_and_managers_only(chat):
    await chat.app.evaluations.submit(
        chat.world.contact("low_primary.lead"),
        chat.meeting_id,
        {"usefulness": "4", "working_together": "4", "clarity": "4", "overall": "4"},
    )
    menu = await chat.say(ADMIN, "report")
    check_card(menu.card)
    assert "the whole LA" in words(menu)
    cov = await chat.press(ADMIN, menu, "Coverage")
    check_card(cov.card)
    assert "Coverage: Spring term 2025-26" in words(cov) and "All officers (LA) (9)" in words(cov)
    csv = await chat.press(ADMIN, cov, "Download CSV")
    names = [f[0] for f in csv.files]
    assert names == ["tsm-coverage-spring-2025-26.csv", "tsm-coverage-spring-2025-26-summary.csv"]
    assert (
        csv.files[0][2]
        .decode()
        .splitlines()[1]
        .startswith("Spring term 2025-26,100001,Low Primary School,Ann Officer,held")
    )
    ev = await chat.press(ADMIN, cov, "Evaluations")
    check_card(ev.card)
    [img] = [n for n in walk(ev.card) if n.get("type") == "Image"]
    assert base64.b64decode(img["url"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    files = await chat.press(ADMIN, ev, "Download CSV")
    assert [f[1] for f in files.files] == ["text/csv", "text/csv", "image/png"]
    acts = await chat.say(ANN, "report actions")
    check_card(acts.card)
    assert "No open actions" in words(acts)
    mine = await chat.say(BOB, "report coverage")
    assert "Bob Officer (2)" in words(mine) and "Ann Officer" not in words(mine)
    refused = await chat.say(LEAD, "report")
    assert refused.error
    refused = await chat.act(LEAD, "report.csv", {"kind": "coverage"})
    assert refused.error
    bad = await chat.act(ANN, "report.show", {"kind": "payroll"})
    assert bad.error and "Which report" in bad.text


def test_feedback_cards_declare_the_verbs_they_emit():
    router = build_router()
    for module in (eval_cards, record_cards, report_cards):
        assert module.VERBS <= router.verbs


async def test_open_actions_in_chat_and_marking_one_done(chat):
    empty = await chat.say(LEAD, "actions")
    assert "No open actions" in empty.text
    await chat.app.records.save(
        chat.world.officer("ann"),
        chat.meeting_id,
        {
            "action1_text": "Send letters",
            "action1_owner": "school",
            "action1_due": "2026-03-27",
            "action2_text": "Book the panel",
            "action2_owner": "la",
            "action2_due": "2026-04-10",
        },
    )
    listed = await chat.say(LEAD, "my actions")
    check_card(listed.card)
    assert "Open actions (2)" in words(listed) and "Send letters" in words(listed)
    done = await chat.press(LEAD, listed, "Done: Send letters")
    assert done.text == "Marked done."
    assert [a.text for a in await chat.app.records.open_actions(chat.world.contact("low_primary.lead"))] == [
        "Book the panel"
    ]
    [panel] = await chat.app.records.open_actions(chat.world.contact("low_primary.lead"))
    other = await chat.act(OTHER_SCHOOL, "record.action_done", {"actionId": panel.action_id})
    assert (
        other.error
        and "another school" in other.text
        and [a.text for a in await chat.app.records.open_actions(chat.world.contact("low_primary.lead"))]
        == ["Book the panel"]
    )
    bob = await chat.say(BOB, "actions")
    assert "No open actions" in bob.text  # not his meeting
    text_report = await chat.say(ANN, "report coverage previous")
    assert "Coverage: Autumn term 2025-26" in words(text_report)


async def test_open_actions_name_their_tsm_by_its_date_never_by_an_internal_id(chat):
    """Issue 14 item 7c: "[meeting 2]" meant nothing to anyone; the TSM an action came from is its date, written
    the one way dates are written to people (tsm.domain.text), and a mistyped "record" names no id either."""
    await chat.app.records.save(
        chat.world.officer("ann"),
        chat.meeting_id,
        {"action1_text": "Send letters", "action1_owner": "school", "action1_due": "2026-03-27"},
    )
    for email in (LEAD, ANN):
        listed = await chat.say(email, "actions")
        text = words(listed)
        assert "due Friday 27 March; from the TSM on Tuesday 10 March" in text, text
        assert "[meeting" not in text and not re.search(r"meeting\s*#?\d", text), text
    mistyped = await chat.say(LEAD, "record the last one")
    assert mistyped.error and "**record**" in mistyped.text and not re.search(r"\d", mistyped.text)


def message_under(card: dict, input_id: str) -> str | None:
    """The attention-coloured sentence right under the input ``input_id`` (with_errors' place for it), if any."""

    def items(nodes: list) -> str | None:
        for i, node in enumerate(nodes):
            if node.get("id") == input_id:
                after = nodes[i + 1] if i + 1 < len(nodes) else {}
                return after.get("text") if after.get("color") == "Attention" else None
            found = items(node.get("items", [])) if isinstance(node.get("items"), list) else None
            if found:
                return found
        return None

    return items(card["body"])


async def test_a_school_with_no_past_tsm_is_told_so_instead_of_an_empty_form(chat):
    feedback = await chat.say(OTHER_SCHOOL, "feedback")
    assert not feedback.error and feedback.card is None
    assert feedback.text.startswith("Your school has no past TSM to give feedback on yet.")
    record = await chat.say(OTHER_SCHOOL, "record")
    assert not record.error and record.card is None
    assert record.text.startswith("There is no TSM that has started yet to write a record for.")


async def test_refused_feedback_comes_back_as_typed_with_the_reason_under_its_field(chat):
    card = await chat.say(LEAD, "feedback")
    rated = dict(usefulness="4", working_together="5", clarity="3", overall="4")
    upn = await chat.press(LEAD, card, "Send feedback", **rated, comments="UPN A123456789012 again")
    assert upn.error and "looks like a pupil's UPN" in upn.text
    typed = {k: v.get("value") for k, v in inputs_of(upn.card).items()}
    assert typed == {**rated, "comments": "UPN A123456789012 again", "anonymous": "false"}
    assert message_under(upn.card, "comments") == upn.text
    assert all(message_under(upn.card, k) is None for k in rated)
    unrated = await chat.press(
        LEAD, card, "Send feedback", **{**rated, "working_together": ""}, comments="Useful"
    )
    assert unrated.error and "How well did the school and the LA work together?" in unrated.text
    assert message_under(unrated.card, "working_together") == unrated.text
    assert message_under(unrated.card, "comments") is None
    assert inputs_of(unrated.card)["comments"]["value"] == "Useful"
    assert button(unrated.card, "Send feedback")
    assert await evaluations(chat) == []


async def test_a_flagged_record_is_saved_only_by_confirming_the_phrases_shown(chat):
    """The warning's "Save as written" sends confirm=true with the phrases it showed; an ack without the confirm,
    or a confirm whose phrases are not a list of the words, saves nothing."""
    data = {"meetingId": chat.meeting_id, "notes": "Agreed a plan for Kayden Holt"}
    for forged in (
        {"ack": ["Kayden Holt"]},
        {"confirm": "yes", "ack": ["Kayden Holt"]},
        {"confirm": True, "ack": "Kayden Holt"},
        {"confirm": "true", "ack": [7, "x" * 301]},
    ):
        warned = await chat.act(ANN, "record.save", {**data, **forged})
        assert not warned.error and warned.text.startswith("Nothing is saved yet"), forged
    async with chat.app.db.reader() as s:
        assert list(await s.exec(select(TsmRecord))) == []
    saved = await chat.act(ANN, "record.save", {**data, "confirm": "true", "ack": ["Kayden Holt"]})
    assert saved.text == "The TSM record is saved."
    async with chat.app.db.reader() as s:
        [rec] = list(await s.exec(select(TsmRecord)))
    assert rec.notes == "Agreed a plan for Kayden Holt"


async def test_report_csv_files_are_named_after_their_term_or_open_actions(chat):
    terms = await chat.app.reports.terms(chat.world.officer("ann"))
    spring = next(t for t in terms if t.label == "Spring term 2025-26")
    cases = [
        ({"kind": "actions"}, ["tsm-actions-open.csv"]),
        ({"kind": "actions", "termId": "0"}, ["tsm-actions-open.csv"]),
        ({"kind": "actions", "termId": str(spring.id)}, ["tsm-actions-spring-2025-26.csv"]),
        (
            {"kind": "evaluations", "termId": ""},
            [
                "tsm-evaluations-spring-2025-26.csv",
                "tsm-evaluations-spring-2025-26-comments.csv",
                "tsm-evaluations-spring-2025-26.png",
            ],
        ),
    ]
    for data, names in cases:
        r = await chat.act(ADMIN, "report.csv", data)
        assert not r.error and [f[0] for f in r.files] == names, data
        assert r.text == f"Here is the {data['kind']} report as CSV" + (
            " with its chart." if data["kind"] == "evaluations" else "."
        )
    bad = await chat.act(ADMIN, "report.show", {"kind": "actions", "termId": "spring"})
    assert bad.error and bad.text == "The term is missing or not in the expected form."
    typed = await chat.say(ANN, "report EVALUATIONS")
    assert "Evaluations: Spring term 2025-26" in words(typed) and "For Ann Officer." in words(typed)
