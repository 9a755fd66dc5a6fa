"""Times people read are London times, in British Summer Time too; the ``.ics`` carries the meeting's own instants.

Every other test's meeting is in winter, when London time is UTC: these are in June (BST, UTC+1), so showing UTC
instead of London time, or shifting DTSTART/DTEND, fails here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from cards.notifications import ReminderView, reminder, reminder_text
from cards.notifications import when as card_when
from tsm.adapters.calendar_local import build_ics
from tsm.domain.errors import InvalidInput
from tsm.domain.text import clean_text, day_text, moment_text, time_text, times_text, when_text
from tsm.ports import Attendee, CalendarRef, EventDetails

LONDON = ZoneInfo("Europe/London")
# 09:00-10:30 UTC on Monday 14 June 2027 is 10:00-11:30 in London (BST)
SUMMER_START = datetime(2027, 6, 14, 9, 0, tzinfo=UTC)
SUMMER_END = datetime(2027, 6, 14, 10, 30, tzinfo=UTC)
WINTER_START = datetime(2027, 1, 11, 9, 0, tzinfo=UTC)


def test_times_are_shown_in_london_time_in_british_summer_time():
    assert time_text(SUMMER_START, LONDON) == "10:00"
    assert when_text(SUMMER_START, SUMMER_END, LONDON) == "Monday 14 June 10:00–11:30"
    assert time_text(WINTER_START, LONDON) == "09:00"


def test_the_day_shown_is_the_london_day():
    late = datetime(2027, 6, 13, 23, 30, tzinfo=UTC)  # 00:30 on Monday in London
    assert day_text(late, LONDON) == "Monday 14 June"
    assert day_text(late) == "Sunday 13 June"  # no zone: the instant's own date
    assert day_text(date(2027, 6, 14), weekday=False) == "14 June"
    assert day_text(date(2027, 6, 14), year=True) == "Monday 14 June 2027"


def test_a_date_and_time_is_written_one_way_whatever_is_shown_of_it():
    """Issue 14 item 7d: the day, the start, the hours and the span all come from the same words."""
    assert moment_text(SUMMER_START, LONDON) == "Monday 14 June 10:00"
    assert times_text(SUMMER_START, SUMMER_END, LONDON) == "10:00–11:30"
    assert when_text(SUMMER_START, SUMMER_END, LONDON, year=True) == "Monday 14 June 2027 10:00–11:30"
    assert card_when(WINTER_START, WINTER_START + timedelta(hours=1), "Europe/London") == when_text(
        WINTER_START, WINTER_START + timedelta(hours=1), LONDON
    )


@pytest.mark.parametrize("kind", ["confirm", "remind_7d", "remind_1d"])
def test_reminder_cards_show_london_time_in_summer(kind):
    view = ReminderView(
        kind=kind,
        school="Ashcombe Primary",
        officer="Alex Carter",
        start=SUMMER_START,
        end=SUMMER_END,
        timezone="Europe/London",
        mode="teams",
        location="",
        join_url=None,
        sent_at=SUMMER_START - timedelta(days=7 if kind == "remind_7d" else 1),
    )
    card = reminder(view)
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["When"] == "Monday 14 June 10:00–11:30"
    assert reminder_text(view).endswith("Ashcombe Primary, Monday 14 June 10:00–11:30")
    assert card_when(SUMMER_START, SUMMER_END, "Europe/London") == "Monday 14 June 10:00–11:30"


def _details(start: datetime, end: datetime) -> EventDetails:
    return EventDetails(
        meeting_id=12,
        ical_uid="tsm-12@example",
        sequence=2,
        organizer=CalendarRef(3, "alex@la.example"),
        organizer_name="Alex Carter",
        organizer_email="alex@la.example",
        subject="TSM: Ashcombe Primary",
        body_text="Targeting Support Meeting",
        start=start,
        end=end,
        location="Ashcombe Primary, Main St",
        online=False,
        attendees=(
            Attendee("Mo Iqbal", "mo@school.example"),
            Attendee("Sam Reed", "sam@school.example", required=False),
        ),
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2027, 6, 14, 10, 0, tzinfo=LONDON), datetime(2027, 6, 14, 11, 30, tzinfo=LONDON)),  # BST
        (datetime(2027, 1, 11, 10, 0, tzinfo=LONDON), datetime(2027, 1, 11, 11, 0, tzinfo=LONDON)),  # GMT
    ],
)
def test_the_ics_start_and_end_are_the_meetings_instants(start, end):
    ics = build_ics(_details(start, end), "REQUEST", now=datetime(2027, 1, 1, tzinfo=UTC))
    event = next(c for c in Calendar.from_ical(ics).walk("VEVENT"))
    assert event.decoded("dtstart") == start and event.decoded("dtend") == end
    text = ics.decode()
    assert f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%S}Z" in text
    assert f"DTEND:{end.astimezone(UTC):%Y%m%dT%H%M%S}Z" in text


def test_the_ics_request_and_cancel():
    d = _details(datetime(2027, 6, 14, 10, tzinfo=LONDON), datetime(2027, 6, 14, 11, tzinfo=LONDON))
    request = Calendar.from_ical(build_ics(d, "REQUEST", now=datetime(2027, 1, 1, tzinfo=UTC)))
    ev = next(iter(request.walk("VEVENT")))
    assert str(request["method"]) == "REQUEST" and str(ev["status"]) == "CONFIRMED"
    assert str(ev["uid"]) == "tsm-12@example" and int(ev["sequence"]) == 2
    assert str(ev["location"]) == "Ashcombe Primary, Main St"
    roles = {str(a): a.params["role"] for a in ev["attendee"]}
    assert roles == {
        "mailto:mo@school.example": "REQ-PARTICIPANT",
        "mailto:sam@school.example": "OPT-PARTICIPANT",
    }
    cancel = Calendar.from_ical(
        build_ics(d, "CANCEL", comment="Ofsted visit", now=datetime(2027, 1, 1, tzinfo=UTC))
    )
    ev = next(iter(cancel.walk("VEVENT")))
    assert str(cancel["method"]) == "CANCEL" and str(ev["status"]) == "CANCELLED"
    assert str(ev["description"]).endswith("\n\nOfsted visit")


# ------------------------------------------------------------------------------------------ free text


def test_free_text_is_stripped_and_limited():
    assert clean_text("  a reason ", label="the reason", max_len=8) == "a reason"
    with pytest.raises(InvalidInput, match="Please keep the reason under 8 characters."):
        clean_text("a reason!", label="the reason", max_len=8)
    assert clean_text(None, label="the reason", max_len=8) == ""
    assert clean_text("   ", label="the reason", max_len=8) == ""
    with pytest.raises(InvalidInput, match="Please fill in the reason."):
        clean_text("  ", label="the reason", max_len=8, required=True)
    with pytest.raises(InvalidInput, match="Please fill in the reason."):
        clean_text(None, label="the reason", max_len=8, required=True)
    with pytest.raises(InvalidInput, match="The reason is not in the expected form."):
        clean_text(["a"], label="the reason", max_len=8)
