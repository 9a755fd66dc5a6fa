"""The feedback cards built from views directly: every state follows the card rules, the biggest inputs stay
under Teams' size limit, and no card shows a count under 5."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from test_feedback_chat import check_card, walk

from cards.evaluation import evaluation_card
from cards.record import record_card, record_form
from cards.report import MenuView, TermChoice, actions_card, coverage_card, evaluations_card, report_menu
from tsm.domain.feedback import (
    ActionOwner,
    Answer,
    Coverage,
    CoverageRow,
    Figures,
    Finding,
    Ratings,
    summarise_evaluations,
    tally_coverage,
)
from tsm.services.evaluations import EvaluationView
from tsm.services.records import ActionView, RecordView
from tsm.services.reports import (
    ActionRow,
    ActionsReport,
    CommentView,
    CoverageReport,
    EvaluationReport,
    Scope,
    TermRef,
    evaluation_chart_png,
)

START = datetime(2026, 3, 10, 10, tzinfo=UTC)
TERM = TermRef(7, 1, "2025-26", "spring", date(2026, 1, 6), date(2026, 3, 27))
LONG = "x" * 2000


def ev_view(**kw) -> EvaluationView:
    return EvaluationView(
        1, "Low Primary School", "Ann Officer", START, START + timedelta(hours=1), "Europe/London", **kw
    )


@pytest.mark.parametrize(
    "view",
    [
        ev_view(),
        ev_view(
            ratings={"usefulness": 4, "working_together": 5, "clarity": 3, "overall": 4},
            comments=LONG,
            answered=True,
            saved_now=True,
        ),
        ev_view(
            ratings={"usefulness": 1, "working_together": 1, "clarity": 1, "overall": 1},
            anonymous=True,
            edit_token="t" * 32,
            answered=True,
            saved_now=True,
            updated=True,
        ),
        ev_view(answered=True),  # answered anonymously, opened without the token
    ],
    ids=["fresh", "saved", "anonymous", "answered_elsewhere"],
)
def test_evaluation_card_states(view):
    card = evaluation_card(view)
    check_card(card)
    [button] = [n for n in walk(card) if n.get("type") == "Action.Execute"]
    if view.answered and view.ratings is None:
        assert button["verb"] == "help.show"
    else:
        assert button["verb"] == "eval.submit" and button["data"]["meetingId"] == 1
        assert ("editToken" in button["data"]) == bool(view.edit_token)


def big_record() -> RecordView:
    return RecordView(
        1,
        "Low Primary School & Another Very Long Trust School Name",
        "Ann Officer",
        START,
        START + timedelta(hours=1),
        "Europe/London",
        True,
        Figures(91.2, 4, 3, (("sen", 1), ("fsm", 0), ("eal", 2), ("grt", 4))),
        "L" * 120,
        LONG,
        tuple(
            ActionView(i, "a" * 500, ActionOwner.OTHER.value, "s" * 120, date(2026, 4, i + 1), i % 2 == 0)
            for i in range(8)
        ),
        "Ann Officer",
        START,
    )


def test_the_biggest_record_fits_and_shows_no_small_count():
    v = big_record()
    for card in (
        record_card(v),
        record_form(v),
        record_form(v, draft={"notes": LONG, "pa": "4"}, findings=[Finding("name", "Jane Smith")] * 20),
    ):
        check_card(card)
    shown = [f["value"] for n in walk(record_card(v)) if n.get("type") == "FactSet" for f in n["facts"]]
    assert "<5" in shown and not any(re.fullmatch(r"[0-4]", x) for x in shown)
    form_values = {n["id"]: n.get("value") for n in walk(record_form(v)) if n.get("type") == "Input.Text"}
    assert {form_values[k] for k in ("pa", "sa", "sen", "fsm", "eal", "grt")} == {"<5"}
    assert (
        sum(1 for n in walk(record_form(v)) if n.get("id", "").endswith("_due")) == 8
    )  # every action editable


def test_an_empty_record_offers_to_write_it():
    v = RecordView(
        1, "Low Primary School", "Ann Officer", START, START + timedelta(hours=1), "Europe/London", False
    )
    card = record_card(v)
    check_card(card)
    assert [n["verb"] for n in walk(card) if n.get("type") == "Action.Execute"] == ["record.edit"]


def test_report_cards_for_a_big_la_stay_small():
    officers = [f"Officer Number {i:02d} With A Long Name" for i in range(40)]
    rows = [
        CoverageRow(100000 + i, f"School {i} " + "n" * 60, officers[i % 40], list(Coverage)[i % 6])
        for i in range(600)
    ]
    cov = CoverageReport(TERM, Scope(1, None), tuple(rows), tuple(tally_coverage(rows)))
    check_card(coverage_card(cov))
    answers = [Answer(officers[i % 40], Ratings(1 + i % 5, 2, 3, 4), LONG) for i in range(400)]
    held = {o: 10 for o in officers}
    ev = EvaluationReport(
        TERM,
        Scope(1, None),
        tuple(summarise_evaluations(answers, held_by_officer=held)),
        tuple(CommentView(a.officer, "School", "Anonymous", LONG) for a in answers),
    )
    card = evaluations_card(ev, evaluation_chart_png(ev, dpi=60))
    check_card(card)
    assert "Officer Number 39" in json.dumps(card)
    small = EvaluationReport(
        TERM,
        Scope(1, 3, "Ann Officer"),
        tuple(
            summarise_evaluations(answers[:3], held_by_officer={"Officer Number 00 With A Long Name": 2})[:1]
        ),
        (),
    )
    with_chart = evaluations_card(small, evaluation_chart_png(small, dpi=60))
    check_card(with_chart)
    assert any(n.get("type") == "Image" for n in walk(with_chart))
    acts = ActionsReport(
        TERM,
        Scope(1, None),
        date(2026, 3, 20),
        tuple(
            ActionRow(
                i,
                date(2026, 3, 1),
                19,
                100001,
                "School",
                "Ann",
                "other",
                "Early Help",
                "t" * 500,
                1,
                date(2026, 2, 1),
                TERM.label,
            )
            for i in range(300)
        ),
    )
    check_card(actions_card(acts))
    check_card(report_menu(MenuView("the whole LA", tuple(TermChoice(i, f"Term {i}") for i in range(9)))))
    check_card(report_menu(MenuView("your schools", ())))


def test_with_many_officers_the_chart_has_one_bar_per_officer():
    import io

    from PIL import Image

    answers = [Answer(f"Officer {i:02d}", Ratings(3, 3, 3, 1 + i % 5)) for i in range(20)]
    ev = EvaluationReport(TERM, Scope(1, None), tuple(summarise_evaluations(answers, held_by_officer={})), ())
    png = evaluation_chart_png(ev, dpi=50)
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == (375, round((1.2 + 0.22 * 20) * 50))
