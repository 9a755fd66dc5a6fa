"""The plain rules, without a database: ratings, suppression, figures, actions, the pupil-data heuristic,
coverage, evaluation means, action reminders, retention."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tsm.domain.errors import InvalidInput
from tsm.domain.feedback import (
    LA_TOTAL,
    ActionOwner,
    Answer,
    Coverage,
    CoverageRow,
    Ratings,
    TermMeeting,
    action_reminder_due,
    allowed_from_names,
    coverage_of,
    find_pupil_data,
    parse_actions,
    parse_figures,
    parse_ratings,
    retention_cutoff,
    show_count,
    summarise_evaluations,
    tally_coverage,
    unacknowledged,
)


def test_ratings_are_whole_numbers_one_to_five():
    assert parse_ratings(
        {"usefulness": "1", "working_together": 5, "clarity": " 3 ", "overall": "4"}
    ) == Ratings(1, 5, 3, 4)
    for bad in ("0", "6", 7, "3.5", "", None, True, "three", [4]):
        with pytest.raises(InvalidInput):
            parse_ratings({"usefulness": bad, "working_together": 5, "clarity": 3, "overall": 4})


@pytest.mark.parametrize("n, shown", [(None, ""), (0, "<5"), (1, "<5"), (4, "<5"), (5, "5"), (123, "123")])
def test_counts_under_five_are_shown_as_less_than_five(n, shown):
    assert show_count(n) == shown


def test_figures_are_checked():
    f = parse_figures({"attendance_pct": "93.44%", "pa": "41", "sa": "3", "grt": "2", "sen": ""})
    assert (f.attendance_pct, f.pa, f.sa, f.cohort("grt"), f.cohort("sen")) == (93.4, 41, 3, 2, None)
    with pytest.raises(InvalidInput, match="severe absence count cannot be more"):
        parse_figures({"pa": "3", "sa": "4"})
    with pytest.raises(InvalidInput, match="between 0 and 100"):
        parse_figures({"attendance_pct": "101"})
    with pytest.raises(InvalidInput, match="whole number"):
        parse_figures({"fsm": "-2"})
    with pytest.raises(InvalidInput, match="whole number"):
        parse_figures({"eal": "2.5"})


def test_actions_need_an_owner_a_service_when_other_and_a_sensible_due_date():
    day = date(2026, 3, 10)
    acts = parse_actions(
        {
            "action1_text": "Send first-day calling letters",
            "action1_owner": "school",
            "action1_due": "2026-03-20",
            "action3_text": "Refer families to Early Help",
            "action3_owner": "other",
            "action3_detail": "Early Help",
            "action3_due": "2026-04-30",
        },
        meeting_day=day,
    )
    assert [(a.owner, a.owner_detail, a.due) for a in acts] == [
        (ActionOwner.SCHOOL, "", date(2026, 3, 20)),
        (ActionOwner.OTHER, "Early Help", date(2026, 4, 30)),
    ]
    with pytest.raises(InvalidInput, match="which one"):
        parse_actions(
            {"action1_text": "x", "action1_owner": "other", "action1_due": "2026-03-20"}, meeting_day=day
        )
    with pytest.raises(InvalidInput, match="who owns"):
        parse_actions(
            {"action1_text": "x", "action1_owner": "parents", "action1_due": "2026-03-20"}, meeting_day=day
        )
    with pytest.raises(InvalidInput, match="before the meeting"):
        parse_actions(
            {"action1_text": "x", "action1_owner": "la", "action1_due": "2026-03-01"}, meeting_day=day
        )
    with pytest.raises(InvalidInput, match="not a date"):
        parse_actions(
            {"action1_text": "x", "action1_owner": "la", "action1_due": "next week"}, meeting_day=day
        )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Contact Jane Smith about attendance", [("name", "Jane Smith")]),
        ("Mrs Patel to ring home", [("name", "Mrs Patel")]),
        ("Amy-Rose O'Neill in Year 9 is at risk", [("name", "Amy-Rose O'Neill")]),
        ("Pupil A123456789012 discussed", [("upn", "A123456789012")]),
        ("temporary upn b12345678901C", [("upn", "b12345678901C")]),
        ("DOB 12/03/2015, see file", [("dob", "DOB 12/03/2015")]),
        ("born 3rd May 2014", [("dob", "born 3rd May 2014")]),
        # Not pupil data: services, panels, days, the school's own name, staff names.
        ("Refer to the Early Help Panel on Monday", []),
        ("Spoke with Social Care and the Virtual School", []),
        ("Oak Primary School will write to parents in Year 7", []),
        ("Lead of Oak Primary to send the Fixed Penalty Notice letters", []),
        ("A 12-digit phone number 0123456789012 is not a UPN", []),
    ],
)
def test_pupil_data_heuristic(text, expected):
    allowed = allowed_from_names(["Oak Primary School", "Lead of Oak Primary"])
    assert [(f.kind, f.text) for f in find_pupil_data(text, allowed=allowed)] == expected


def test_staff_names_passed_in_are_not_flagged_but_others_are():
    text = "Sam Jones will meet Jamie Brown"
    flagged = [f.text for f in find_pupil_data(text, allowed=allowed_from_names(["Sam Jones"]))]
    assert flagged == ["Jamie Brown"]


def test_a_confirmation_covers_only_the_exact_phrases_shown():
    found = find_pupil_data("Jane Smith and Tom Hardy")
    assert [f.text for f in unacknowledged(found, ["Jane Smith"])] == ["Tom Hardy"]
    assert unacknowledged(found, ["Jane Smith", "Tom Hardy"]) == []


def _tm(status: str, day: int, updated: int | None = None) -> TermMeeting:
    at = datetime(2026, 3, day, 10, tzinfo=UTC)
    return TermMeeting(status, at, datetime(2026, 3, updated or day, tzinfo=UTC))


def test_coverage_precedence():
    assert coverage_of([_tm("cancelled", 2), _tm("held", 9)], offered=True)[0] is Coverage.HELD
    assert coverage_of([_tm("cancelled", 2), _tm("moved", 9)], offered=False)[0] is Coverage.BOOKED
    assert coverage_of([_tm("no_show", 2, 3), _tm("cancelled", 9, 1)], offered=True)[0] is Coverage.NO_SHOW
    assert coverage_of([_tm("no_show", 2, 1), _tm("cancelled", 9, 5)], offered=True)[0] is Coverage.CANCELLED
    assert coverage_of([], offered=True) == (Coverage.OFFERED, None)
    assert coverage_of([], offered=False) == (Coverage.NOT_BOOKED, None)


def test_coverage_tallies_per_officer_and_for_the_la():
    rows = [
        CoverageRow(1, "A", "Ann", Coverage.HELD),
        CoverageRow(2, "B", "Ann", Coverage.NOT_BOOKED),
        CoverageRow(3, "C", "Bob", Coverage.HELD),
        CoverageRow(4, "D", "Ann", Coverage.HELD),
    ]
    ann, bob, la = tally_coverage(rows)
    assert (ann.officer, ann.schools, ann.counts[Coverage.HELD], ann.held_pct) == ("Ann", 3, 2, 66.7)
    assert (bob.officer, bob.held_pct) == ("Bob", 100.0)
    assert (la.officer, la.schools, la.counts[Coverage.HELD], la.counts[Coverage.NOT_BOOKED]) == (
        LA_TOTAL,
        4,
        3,
        1,
    )


def test_evaluation_means_per_officer_and_la():
    answers = [
        Answer("Ann", Ratings(4, 5, 3, 4)),
        Answer("Ann", Ratings(5, 5, 4, 5)),
        Answer("Bob", Ratings(2, 3, 2, 1)),
    ]
    ann, bob, la = summarise_evaluations(answers, held_by_officer={"Ann": 2, "Bob": 3})
    assert ann.means == {"usefulness": 4.5, "working_together": 5.0, "clarity": 3.5, "overall": 4.5}
    assert bob.distribution["overall"] == {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}
    assert (la.answers, la.meetings_held, la.means["overall"]) == (3, 5, 3.33)


def test_action_reminder_rule():
    due = date(2026, 4, 20)
    assert not action_reminder_due(due=due, today=date(2026, 4, 12), done=False, next_tsm=None)
    assert action_reminder_due(due=due, today=date(2026, 4, 13), done=False, next_tsm=None)
    assert action_reminder_due(due=due, today=date(2026, 4, 25), done=False, next_tsm=date(2026, 5, 1))
    assert not action_reminder_due(due=due, today=date(2026, 4, 18), done=True, next_tsm=None)
    assert not action_reminder_due(due=due, today=date(2026, 4, 18), done=False, next_tsm=date(2026, 4, 20))


def test_retention_cutoff():
    now = datetime(2026, 3, 20, tzinfo=UTC)
    assert retention_cutoff(now, 730) == now - timedelta(days=730)
    with pytest.raises(ValueError):
        retention_cutoff(now, 0)
