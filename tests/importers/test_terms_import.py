"""Term-date import: the CSV and iCalendar parsers, their validation, and the round trip through the database."""

from __future__ import annotations

import dataclasses
from datetime import date
from importlib import resources

import pytest
from sqlmodel import func, select

from tsm.adapters.db import directory
from tsm.adapters.db.engine import Database
from tsm.adapters.db.migrate import upgrade
from tsm.domain.model import DateRange, TermName
from tsm.domain.terms import Break, Term, TermCalendar
from tsm.importers.report import ImportReport
from tsm.importers.terms import (
    import_terms,
    import_terms_file,
    load_calendar,
    parse_terms_csv,
    parse_terms_file,
    parse_terms_ics,
)

DATA = resources.files("tsm") / "data"
HEADER = "academic_year,term,start_date,end_date,kind,label\n"
D = date.fromisoformat


def rng(first: str, last: str) -> DateRange:
    return DateRange(D(first), D(last))


AUTUMN_2025 = Term(
    "2025-26",
    TermName.AUTUMN,
    rng("2025-09-03", "2025-12-19"),
    (Break(rng("2025-10-27", "2025-10-31"), "half_term", ""),),
)


# --- Kent's six numbered terms -------------------------------------------------------------------------


def test_kent_terms_1_and_2_make_the_autumn_term_with_the_gap_as_its_half_term() -> None:
    parsed = parse_terms_file(str(DATA / "kent-terms-2025-26.csv"))
    assert parsed.errors == []
    assert [(t.name, t.dates) for t in parsed.terms] == [
        (TermName.AUTUMN, rng("2025-09-03", "2025-12-19")),  # Term 1 start to Term 2 end
        (TermName.SPRING, rng("2026-01-05", "2026-04-02")),
        (TermName.SUMMER, rng("2026-04-20", "2026-07-21")),
    ]
    assert [[(b.kind, b.dates) for b in t.breaks] for t in parsed.terms] == [
        [("half_term", rng("2025-10-20", "2025-10-24"))],  # the weekdays between 17 Oct and 27 Oct
        [("half_term", rng("2026-02-16", "2026-02-20"))],
        [("half_term", rng("2026-05-25", "2026-05-29"))],
    ]
    assert parsed.terms[0].breaks[0].label == "half term between Term 1 and Term 2"


def test_kent_term_numbers_may_be_written_1_T1_or_Term_1() -> None:
    text = HEADER + "\n".join(
        [
            "2025-26,1,2025-09-03,2025-10-17,term,",
            "2025-26,T2,2025-10-27,2025-12-19,term,",
            "2025-26,term 3,2026-01-05,2026-02-13,,",
            "2025-26,Term4,2026-02-23,2026-04-02,term,",
            "2025-26,TERM 5,2026-04-20,2026-05-22,term,",
            "2025-26,t6,2026-06-01,2026-07-21,Term,",
        ]
    )
    parsed = parse_terms_csv(text)
    assert parsed.errors == []
    assert parsed.terms == parse_terms_file(str(DATA / "kent-terms-2025-26.csv")).terms


def test_autumn_1_and_autumn_2_pair_up_like_kent_terms() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,Autumn 1,2025-09-03,2025-10-24,term,\n"
        "2025-26,Autumn 2,2025-11-03,2025-12-19,term,\n"
    )
    assert parsed.errors == []
    (autumn,) = parsed.terms
    assert autumn.dates == rng("2025-09-03", "2025-12-19")
    assert [(b.kind, b.dates, b.label) for b in autumn.breaks] == [
        ("half_term", rng("2025-10-27", "2025-10-31"), "half term between autumn 1 and autumn 2")
    ]


def test_a_pair_with_only_a_weekend_between_has_no_half_term() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,Term 5,2026-04-20,2026-05-22,term,\n2025-26,Term 6,2026-05-25,2026-07-21,term,\n"
    )
    assert parsed.errors == []
    assert parsed.terms[0].dates == rng("2026-04-20", "2026-07-21") and parsed.terms[0].breaks == ()


def test_a_break_naming_a_kent_term_belongs_to_its_old_term() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,Term 1,2025-09-03,2025-10-17,term,\n"
        "2025-26,Term 2,2025-10-27,2025-12-19,term,\n"
        "2025-26,Term 2,2025-11-28,2025-11-28,closure,INSET day\n"
    )
    assert parsed.errors == []
    assert [(b.kind, b.dates, b.label) for b in parsed.terms[0].breaks] == [
        ("half_term", rng("2025-10-20", "2025-10-24"), "half term between Term 1 and Term 2"),
        ("closure", rng("2025-11-28", "2025-11-28"), "INSET day"),
    ]


def test_a_numbered_term_without_its_partner_is_reported_and_the_rest_kept() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,Term 1,2025-09-03,2025-10-17,term,\n"
        "2025-26,Term 2,2025-10-27,2025-12-19,term,\n"
        "2025-26,Term 3,2026-01-05,2026-02-13,term,\n"
    )
    assert [t.name for t in parsed.terms] == [TermName.AUTUMN]
    assert parsed.errors == [
        (
            4,
            "Term 3 2025-26 has no Term 4: numbered terms come in pairs "
            "(Terms 1+2 = autumn, 3+4 = spring, 5+6 = summer)",
        )
    ]


def test_the_second_of_a_pair_starting_before_the_first_ends_is_reported() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,Term 3,2026-01-05,2026-02-13,term,\n2025-26,Term 4,2026-02-09,2026-04-02,term,\n"
    )
    assert parsed.terms == []
    assert parsed.errors == [
        (3, "Term 4 2025-26 starts on 2026-02-09, before Term 3 ends on 2026-02-13 (line 2)")
    ]


# --- the Norfolk and example files, and CSV details ---------------------------------------------------


def test_norfolk_file_has_the_published_terms_and_half_terms() -> None:
    parsed = parse_terms_file(str(DATA / "norfolk-terms-2025-26.csv"))
    assert parsed.errors == [] and parsed.example is False
    assert [(t.label, t.dates, [b.dates for b in t.breaks]) for t in parsed.terms] == [
        ("autumn term 2025-26", rng("2025-09-03", "2025-12-19"), [rng("2025-10-27", "2025-10-31")]),
        ("spring term 2025-26", rng("2026-01-06", "2026-03-27"), [rng("2026-02-16", "2026-02-20")]),
        ("summer term 2025-26", rng("2026-04-15", "2026-07-17"), [rng("2026-05-25", "2026-05-29")]),
    ]


def test_comment_lines_are_skipped_and_an_example_file_says_so() -> None:
    path = DATA / "example-terms-2026-28.csv"
    assert path.read_text().splitlines()[0] == "# EXAMPLE dates, not published by any LA"
    parsed = parse_terms_file(str(path))
    assert parsed.errors == [] and parsed.example is True
    assert [t.label for t in parsed.terms] == [
        "autumn term 2026-27",
        "spring term 2026-27",
        "summer term 2026-27",
        "autumn term 2027-28",
        "spring term 2027-28",
        "summer term 2027-28",
    ]


def test_uk_style_dates_and_an_empty_academic_year_are_accepted() -> None:
    parsed = parse_terms_csv(
        HEADER + ",spring,06/01/2026,27/03/2026,term,\n2025/26,spring,16/02/2026,20/02/2026,half_term,\n"
    )
    assert parsed.errors == []
    assert parsed.terms == [
        Term(
            "2025-26",
            TermName.SPRING,
            rng("2026-01-06", "2026-03-27"),
            (Break(rng("2026-02-16", "2026-02-20"), "half_term", ""),),
        )
    ]


def test_a_break_with_no_term_is_placed_in_the_term_its_dates_fall_in() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,autumn,2025-09-03,2025-12-19,term,\n"
        "2025-26,spring,2026-01-06,2026-03-27,term,\n"
        "2025-26,,2026-02-16,2026-02-20,half-term,\n"
        ",,2026-01-06,2026-01-06,INSET,\n"
    )
    assert parsed.errors == []
    autumn, spring = parsed.terms
    assert autumn.breaks == ()
    assert [(b.kind, b.dates) for b in spring.breaks] == [
        ("closure", rng("2026-01-06", "2026-01-06")),
        ("half_term", rng("2026-02-16", "2026-02-20")),
    ]


def test_a_closure_is_never_bookable_and_says_what_it_is() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,autumn,2025-09-03,2025-12-19,term,\n"
        "2025-26,autumn,2025-11-28,2025-11-28,closure,INSET day\n"
    )
    cal = TermCalendar(parsed.terms)
    assert cal.why_not_bookable(D("2025-11-28")) == "Friday 28 November 2025 is a school closure (INSET day)"
    assert cal.why_not_bookable(D("2025-11-27")) is None


GOOD_ROWS = (
    "2025-26,autumn,2025-09-03,2025-12-19,term,\n"  # line 2
    "2025-26,autumn,2025-10-27,2025-10-31,half_term,\n"
)  # line 3


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        pytest.param(
            "2025-26,spring,2026-03-27,2026-01-06,term,",
            "end date 2026-01-06 is before start date 2026-03-27",
            id="end-before-start",
        ),
        pytest.param(
            "2025-26,spring,2025-12-01,2026-03-27,term,",
            "spring term 2025-26 (2025-12-01 to 2026-03-27) overlaps autumn term 2025-26 "
            "(2025-09-03 to 2025-12-19, line 2)",
            id="overlapping-terms",
        ),
        pytest.param(
            "2025-26,autumn,2025-12-22,2025-12-23,half_term,",
            "half term 2025-12-22 to 2025-12-23 is outside its term, the autumn term 2025-26 "
            "(2025-09-03 to 2025-12-19)",
            id="break-outside-its-term",
        ),
        pytest.param(
            "2025-26,,2026-07-27,2026-07-27,closure,INSET day",
            "INSET day 2026-07-27 to 2026-07-27 is not inside any term in this file",
            id="break-in-no-term",
        ),
        pytest.param(
            "2025-26,spring,2026-02-16,2026-02-20,half_term,",
            "half term 2026-02-16 to 2026-02-20 names the spring term 2025-26, but it is not in this file",
            id="break-names-a-missing-term",
        ),
        pytest.param(
            "2025-26,winter,2026-01-06,2026-03-27,term,",
            "unknown term name 'winter': use autumn, spring, summer or Term 1..6",
            id="unknown-term-name",
        ),
        pytest.param(
            "2025-26,Term 7,2026-01-06,2026-03-27,term,",
            "unknown term name 'Term 7': use autumn, spring, summer or Term 1..6",
            id="term-7",
        ),
        pytest.param(
            "2025-26,,2026-01-06,2026-03-27,term,",
            "a term row needs a term name (autumn, spring, summer or Term 1..6)",
            id="term-without-name",
        ),
        pytest.param(
            "2025,spring,2026-01-06,2026-03-27,term,",
            "academic year '2025' is not like 2025-26",
            id="year-not-like-2025-26",
        ),
        pytest.param(
            "2025-27,spring,2026-01-06,2026-03-27,term,",
            "academic year '2025-27' is not like 2025-26",
            id="year-not-consecutive",
        ),
        pytest.param(
            "2024-25,spring,2026-01-06,2026-03-27,term,",
            "academic year 2024-25 does not match the dates 2026-01-06 to 2026-03-27, which are in 2025-26",
            id="year-not-matching-dates",
        ),
        pytest.param(
            "2025-26,summer,2026-04-15,2026-09-10,term,",
            "2026-04-15 to 2026-09-10 spans two academic years (2025-26 and 2026-27)",
            id="spans-two-years",
        ),
        pytest.param(
            "2025-26,spring,2026-02-30,2026-03-27,term,",
            "start_date '2026-02-30' is not a real date",
            id="impossible-date",
        ),
        pytest.param(
            "2025-26,spring,6th Jan 2026,2026-03-27,term,",
            "start_date '6th Jan 2026' is not a date: use YYYY-MM-DD (or DD/MM/YYYY)",
            id="unparseable-date",
        ),
        pytest.param("2025-26,spring,2026-01-06,,term,", "end_date is empty", id="missing-date"),
        pytest.param(
            "2025-26,spring,2026-01-06,2026-03-27,holiday,",
            "kind 'holiday' is not one of term, half_term, closure",
            id="unknown-kind",
        ),
        pytest.param(
            "2025-26,autumn,2025-09-04,2025-12-18,term,",
            "autumn term 2025-26 is given twice (also line 2)",
            id="duplicate-term",
        ),
        pytest.param(
            "2025-26,spring,2026-01-06,2026-03-27,term,,extra",
            "7 fields, but the header has 6",
            id="too-many-fields",
        ),
    ],
)
def test_each_kind_of_bad_row_is_reported_by_line_and_the_good_rows_are_kept(
    bad_row: str, message: str
) -> None:
    parsed = parse_terms_csv(HEADER + GOOD_ROWS + bad_row + "\n")
    assert parsed.errors == [(4, message)]
    assert parsed.terms == [AUTUMN_2025]


def test_line_numbers_count_comments_and_blank_lines() -> None:
    text = (
        "# made-up dates\n"  # 1
        "academic_year,term,start_date,end_date,kind,label\n"  # 2
        "2025-26,autumn,2025-09-03,2025-12-19,term,\n"  # 3
        "\n"  # 4
        "2025-26,autumn,2025-10-27,2025-10-31,half_term,\n"  # 5
        "2025-26,winter,2026-01-06,2026-03-27,term,\n"  # 6
        "# spring\n"  # 7
        "2025-26,spring,2026-01-06,2026-03-27,term,\n"  # 8
        "2025-26,spring,2026-03-30,2026-04-02,closure,\n"  # 9
        "2025-26,,2026-02-16,2026-02-20,half_term,\n"
    )  # 10
    parsed = parse_terms_csv(text)
    assert [line for line, _ in parsed.errors] == [6, 9]
    assert "outside its term, the spring term 2025-26" in parsed.errors[1][1]
    assert [(t.name, [b.dates for b in t.breaks]) for t in parsed.terms] == [
        (TermName.AUTUMN, [rng("2025-10-27", "2025-10-31")]),
        (TermName.SPRING, [rng("2026-02-16", "2026-02-20")]),
    ]
    assert parsed.example is False  # "made-up" is not the EXAMPLE marker


def test_a_term_dated_before_an_earlier_term_of_its_year_is_reported() -> None:
    parsed = parse_terms_csv(
        HEADER + "2025-26,spring,2025-09-03,2025-12-19,term,\n2025-26,autumn,2026-01-06,2026-03-27,term,\n"
    )
    assert [t.name for t in parsed.terms] == [TermName.SPRING]
    assert parsed.errors == [
        (
            3,
            "autumn term 2025-26 starts on 2026-01-06, after spring term 2025-26 "
            "starts on 2025-09-03 (line 2)",
        )
    ]


def test_a_header_without_the_required_columns_rejects_the_file() -> None:
    parsed = parse_terms_csv("year,term,from,to\n2025-26,autumn,2025-09-03,2025-12-19\n")
    assert parsed.terms == []
    assert parsed.errors == [
        (
            1,
            "the header lacks academic_year, start_date, end_date: expected "
            "academic_year,term,start_date,end_date,kind,label",
        )
    ]


def test_a_csv_without_kind_and_label_columns_is_all_terms() -> None:
    parsed = parse_terms_csv(
        "\ufeffAcademic_Year,Term,Start_Date,End_Date\r\n2025-26,Autumn,2025-09-03,2025-12-19\r\n"
    )
    assert parsed.errors == []
    assert parsed.terms == [Term("2025-26", TermName.AUTUMN, rng("2025-09-03", "2025-12-19"))]


# --- iCalendar -----------------------------------------------------------------------------------------


def ics(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{i}@test\r\nDTSTAMP:20250101T000000Z\r\n{e.strip()}\r\nEND:VEVENT\r\n"
        for i, e in enumerate(events)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def test_the_kent_ical_file_gives_the_same_terms_as_the_kent_csv() -> None:
    from_ics = parse_terms_ics((DATA / "kent-terms-2025-26.ics").read_bytes())
    assert from_ics.errors == []
    assert from_ics.terms == parse_terms_file(str(DATA / "kent-terms-2025-26.csv")).terms
    assert from_ics.terms[0].dates == rng("2025-09-03", "2025-12-19")  # DTEND 20251220 is exclusive


def test_an_all_day_ical_dtend_is_the_day_after_the_last_day() -> None:
    parsed = parse_terms_ics(
        ics(
            "SUMMARY:Autumn term 2025-26\r\nDTSTART;VALUE=DATE:20250903\r\nDTEND;VALUE=DATE:20251220",
            "SUMMARY:Half term\r\nDTSTART;VALUE=DATE:20251027\r\nDTEND;VALUE=DATE:20251101",
            "SUMMARY:INSET day\r\nDTSTART;VALUE=DATE:20251128\r\nDTEND;VALUE=DATE:20251129",
        )
    )
    assert parsed.errors == []
    assert parsed.terms == [
        Term(
            "2025-26",
            TermName.AUTUMN,
            rng("2025-09-03", "2025-12-19"),
            (
                Break(rng("2025-10-27", "2025-10-31"), "half_term", ""),
                Break(rng("2025-11-28", "2025-11-28"), "closure", "INSET day"),
            ),
        )
    ]


def test_an_ical_event_without_dtend_or_with_times_covers_the_days_it_touches() -> None:
    parsed = parse_terms_ics(
        ics(
            "SUMMARY:Spring term\r\nDTSTART;VALUE=DATE:20260106\r\nDURATION:P81D",
            "SUMMARY:Closure: staff training\r\nDTSTART;VALUE=DATE:20260302",
            "SUMMARY:INSET day\r\nDTSTART;TZID=Europe/London:20260303T083000\r\nDTEND;TZID=Europe/London:20260303T153000",
            "SUMMARY:School closed\r\nDTSTART:20260309T000000Z\r\nDTEND:20260311T000000Z",
        )
    )
    assert parsed.errors == []
    (spring,) = parsed.terms
    assert spring.dates == rng("2026-01-06", "2026-03-27")
    assert [(b.dates, b.label) for b in spring.breaks] == [
        (rng("2026-03-02", "2026-03-02"), "Closure: staff training"),
        (rng("2026-03-03", "2026-03-03"), "INSET day"),
        (rng("2026-03-09", "2026-03-10"), "School closed"),
    ]


def test_ical_holidays_are_skipped_and_unknown_events_are_reported_by_line() -> None:
    text = ics(
        "SUMMARY:Term 1\r\nDTSTART;VALUE=DATE:20250903\r\nDTEND;VALUE=DATE:20251018",
        "SUMMARY:Term 2\r\nDTSTART;VALUE=DATE:20251027\r\nDTEND;VALUE=DATE:20251220",
        "SUMMARY:Christmas holidays\r\nDTSTART;VALUE=DATE:20251222\r\nDTEND;VALUE=DATE:20260105",
        "SUMMARY:Sports day\r\nDTSTART;VALUE=DATE:20250910\r\nDTEND;VALUE=DATE:20250911",
        "SUMMARY:Term 3 2024-25\r\nDTSTART;VALUE=DATE:20260105\r\nDTEND;VALUE=DATE:20260214",
    )
    lines = text.splitlines()
    sports_line = lines.index("SUMMARY:Sports day") - 3  # its BEGIN:VEVENT
    term3_line = lines.index("SUMMARY:Term 3 2024-25") - 3
    assert lines[sports_line] == lines[term3_line] == "BEGIN:VEVENT"
    parsed = parse_terms_ics(text)
    assert [t.name for t in parsed.terms] == [TermName.AUTUMN]
    assert parsed.errors == [
        (
            sports_line + 1,
            "cannot tell what 'Sports day' is: expected a term ('Autumn term', 'Term 3'), "
            "'Half term' or 'INSET day'/'Closure'",
        ),
        (
            term3_line + 1,
            "academic year 2024-25 does not match the dates 2026-01-05 to 2026-02-13, which are in 2025-26",
        ),
    ]


def test_an_ical_half_term_outside_every_term_is_reported() -> None:
    parsed = parse_terms_ics(
        ics(
            "SUMMARY:Autumn term\r\nDTSTART;VALUE=DATE:20250903\r\nDTEND;VALUE=DATE:20251220",
            "SUMMARY:Half term\r\nDTSTART;VALUE=DATE:20260216\r\nDTEND;VALUE=DATE:20260221",
        )
    )
    assert parsed.terms == [Term("2025-26", TermName.AUTUMN, rng("2025-09-03", "2025-12-19"))]
    assert parsed.errors == [(11, "half term 2026-02-16 to 2026-02-20 is not inside any term in this file")]


def test_ical_summer_1_and_summer_term_2_pair_into_the_summer_term() -> None:
    parsed = parse_terms_ics(
        ics(
            "SUMMARY:Summer 1\r\nDTSTART;VALUE=DATE:20260415\r\nDTEND;VALUE=DATE:20260523",
            "SUMMARY:Summer term 2\r\nDTSTART;VALUE=DATE:20260601\r\nDTEND;VALUE=DATE:20260718",
        )
    )
    assert parsed.errors == []
    assert parsed.terms == [
        Term(
            "2025-26",
            TermName.SUMMER,
            rng("2026-04-15", "2026-07-17"),
            (Break(rng("2026-05-25", "2026-05-29"), "half_term", "half term between summer 1 and summer 2"),),
        )
    ]


def test_an_unreadable_ical_date_is_reported_by_line() -> None:
    parsed = parse_terms_ics(
        ics(
            "SUMMARY:Autumn term\r\nDTSTART;VALUE=DATE:2025-09-03\r\nDTEND;VALUE=DATE:20251220",
            "SUMMARY:Spring term\r\nDTSTART;VALUE=DATE:20260106\r\nDTEND;VALUE=DATE:20260328",
        )
    )
    assert [t.label for t in parsed.terms] == ["spring term 2025-26"]
    assert parsed.errors == [
        (4, "DTSTART '2025-09-03' is not readable (write it like DTSTART;VALUE=DATE:20250903)")
    ]


def test_a_file_that_is_not_icalendar_is_one_error() -> None:
    parsed = parse_terms_ics(b"academic_year,term\n")
    assert parsed.terms == [] and len(parsed.errors) == 1
    assert parsed.errors[0][0] == 1 and parsed.errors[0][1].startswith("not a readable iCalendar file")


# --- the database ---------------------------------------------------------------------------------------


@pytest.fixture
async def db(tmp_path):
    url = f"sqlite:///{tmp_path}/t.db"
    upgrade(url)
    database = Database(url)
    async with database.transaction() as s:
        s.add(directory.LA(id=1, code="926", name="Norfolk", policy="norfolk"))
        s.add(directory.LA(id=2, code="886", name="Kent", policy="kent"))
    yield database
    await database.dispose()


def norfolk_terms() -> list[Term]:
    return parse_terms_file(str(DATA / "norfolk-terms-2025-26.csv")).terms


async def count(db: Database, table) -> int:
    async with db.reader() as s:
        return (await s.exec(select(func.count()).select_from(table))).one()


async def test_terms_imported_then_loaded_come_back_the_same_with_their_row_ids(db: Database) -> None:
    report = await import_terms(db, 1, norfolk_terms(), source="norfolk-terms-2025-26.csv")
    assert (report.ok, report.created, report.updated, report.errors) == (3, 3, 0, [])
    cal = await load_calendar(db, 1)
    assert [dataclasses.replace(t, id=None) for t in cal.terms] == norfolk_terms()
    ids = [t.id for t in cal.terms]
    assert all(isinstance(i, int) for i in ids) and len(set(ids)) == 3
    assert cal.why_not_bookable(D("2025-10-29")) == "Wednesday 29 October 2025 is in half term"
    assert cal.why_not_bookable(D("2026-05-04")) == "Monday 4 May 2026 is a bank holiday (May Day)"
    assert cal.why_not_bookable(D("2025-11-04")) is None
    assert await count(db, directory.TermBreak) == 3


async def test_reimporting_the_same_terms_changes_nothing(db: Database) -> None:
    await import_terms(db, 1, norfolk_terms(), source="norfolk")
    before = [t.id for t in (await load_calendar(db, 1)).terms]
    report = await import_terms(db, 1, norfolk_terms(), source="norfolk")
    assert (report.ok, report.created, report.updated, report.unchanged) == (3, 0, 0, 3)
    assert [t.id for t in (await load_calendar(db, 1)).terms] == before
    assert await count(db, directory.Term) == 3 and await count(db, directory.TermBreak) == 3


async def test_reimporting_moved_dates_updates_the_term_in_place_and_replaces_its_breaks(
    db: Database,
) -> None:
    await import_terms(db, 1, norfolk_terms(), source="first")
    before = {t.name: t.id for t in (await load_calendar(db, 1)).terms}
    autumn, spring, summer = norfolk_terms()
    moved = dataclasses.replace(
        spring,
        dates=rng("2026-01-05", "2026-03-26"),
        breaks=(
            Break(rng("2026-02-09", "2026-02-13"), "half_term", "moved"),
            Break(rng("2026-01-05", "2026-01-05"), "closure", "INSET day"),
        ),
    )
    report = await import_terms(db, 1, [autumn, moved, summer], source="first")
    assert (report.ok, report.created, report.updated) == (3, 0, 1)
    cal = await load_calendar(db, 1)
    assert {t.name: t.id for t in cal.terms} == before
    assert cal.terms[1] == dataclasses.replace(
        moved,
        id=before[TermName.SPRING],
        breaks=(
            Break(rng("2026-01-05", "2026-01-05"), "closure", "INSET day"),
            Break(rng("2026-02-09", "2026-02-13"), "half_term", "moved"),
        ),
    )
    assert cal.is_bookable_day(D("2026-02-16")) and not cal.is_bookable_day(D("2026-02-10"))
    assert await count(db, directory.TermBreak) == 4  # the old spring half term is gone


async def test_each_la_keeps_its_own_terms(db: Database) -> None:
    await import_terms(db, 1, norfolk_terms(), source="norfolk")
    kent = parse_terms_file(str(DATA / "kent-terms-2025-26.csv")).terms
    report = await import_terms(db, 2, kent, source="kent")
    assert report.created == 3
    norfolk_cal, kent_cal = await load_calendar(db, 1), await load_calendar(db, 2)
    day = D("2025-10-22")
    assert norfolk_cal.is_bookable_day(day) and not kent_cal.is_bookable_day(day)
    assert kent_cal.terms[2].dates == rng("2026-04-20", "2026-07-21")


async def test_a_term_overlapping_a_stored_term_is_not_imported_and_the_others_are(db: Database) -> None:
    await import_terms(db, 1, norfolk_terms(), source="norfolk")
    bad_spring = Term("2025-26", TermName.SPRING, rng("2025-12-01", "2026-03-27"))
    next_autumn = Term("2026-27", TermName.AUTUMN, rng("2026-09-03", "2026-12-18"))
    report = await import_terms(db, 1, [bad_spring, next_autumn], source="fix")
    assert (report.ok, report.created, report.updated) == (1, 1, 0)
    assert report.errors == [
        (
            0,
            "spring term 2025-26 (2025-12-01 to 2026-03-27) overlaps the stored autumn "
            "term 2025-26 (2025-09-03 to 2025-12-19): not imported",
        )
    ]
    cal = await load_calendar(db, 1)
    assert [t.label for t in cal.terms] == [
        "autumn term 2025-26",
        "spring term 2025-26",
        "summer term 2025-26",
        "autumn term 2026-27",
    ]
    assert cal.terms[1].dates == rng("2026-01-06", "2026-03-27")  # unchanged


async def test_importing_for_an_unknown_la_raises_and_writes_nothing(db: Database) -> None:
    with pytest.raises(LookupError, match="no LA with id 99"):
        await import_terms(db, 99, norfolk_terms(), source="x")
    assert await count(db, directory.Term) == 0


async def test_an_example_file_is_stored_with_source_example_and_file_errors_are_reported(
    db: Database, tmp_path
) -> None:
    report = await import_terms_file(db, 1, str(DATA / "example-terms-2026-28.csv"))
    assert (report.ok, report.created, report.errors) == (6, 6, [])
    async with db.reader() as s:
        assert set((await s.exec(select(directory.Term.source))).all()) == {"example"}

    bad = tmp_path / "terms.csv"
    bad.write_text(HEADER + GOOD_ROWS + "2025-26,winter,2026-01-06,2026-03-27,term,\n")
    report = await import_terms_file(db, 2, bad)
    assert (report.ok, report.created) == (1, 1)
    assert report.errors == [(4, "unknown term name 'winter': use autumn, spring, summer or Term 1..6")]
    async with db.reader() as s:
        assert (await s.exec(select(directory.Term.source).where(directory.Term.la_id == 2))).all() == [
            "terms.csv"
        ]


def test_an_import_report_summary_lists_counts_and_errors_by_line() -> None:
    report = ImportReport(
        ok=5, created=2, updated=1, errors=[(7, "bad date"), (0, "overlaps"), (3, "unknown term")]
    )
    assert report.summary("terms") == (
        "5 terms imported (2 created, 1 updated, 2 unchanged); 3 errors:\n"
        "  overlaps\n"
        "  line 3: unknown term\n"
        "  line 7: bad date"
    )
    assert (
        ImportReport(ok=1, created=1).summary()
        == "1 rows imported (1 created, 0 updated, 0 unchanged); no errors"
    )
