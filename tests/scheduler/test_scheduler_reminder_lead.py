"""A reminder says the real lead time, counted from when it is sent: on time "in a week" / "tomorrow", late
(the scheduler was down, the person installed the app later or came back after blocking the bot) "on Tuesday
3 February, in 5 days", "tomorrow" or "today"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from schedkit import Env

from cards.notifications import ReminderView, lead_days, reminder, reminder_text
from tsm.clock import FixedClock

TZ = "Europe/London"
START = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)  # Tuesday 3 February, 10:00 in London


def _view(kind: str, sent_at: datetime | None) -> ReminderView:
    return ReminderView(
        kind,
        "Low Primary School",
        "Ann Officer",
        START,
        START + timedelta(hours=1),
        TZ,
        "teams",
        "",
        None,
        sent_at=sent_at,
    )


def _heading(v: ReminderView) -> str:
    return reminder(v)["body"][0]["text"]


@pytest.mark.parametrize(
    ("kind", "sent_at", "heading", "text"),
    [
        (
            "remind_7d",
            START - timedelta(days=7) + timedelta(minutes=1),
            "Your TSM is in a week",
            "TSM in a week",
        ),
        (
            "remind_7d",
            START - timedelta(days=5),
            "Your TSM is on Tuesday 3 February, in 5 days",
            "TSM in 5 days",
        ),
        (
            "remind_7d",
            START - timedelta(days=2, hours=3),
            "Your TSM is on Tuesday 3 February, in 2 days",
            "TSM in 2 days",
        ),
        # 23:30 on Monday is still "tomorrow" though under a day ahead; 00:30 on the day is "today"
        ("remind_7d", datetime(2026, 2, 2, 23, 30, tzinfo=UTC), "Your TSM is tomorrow", "TSM tomorrow"),
        ("remind_1d", START - timedelta(days=1), "Your TSM is tomorrow", "TSM tomorrow"),
        ("remind_1d", datetime(2026, 2, 3, 0, 30, tzinfo=UTC), "Your TSM is today", "TSM today"),
    ],
)
def test_the_heading_and_text_say_the_real_lead_time(kind, sent_at, heading, text):
    v = _view(kind, sent_at)
    assert _heading(v) == heading
    assert reminder_text(v) == f"{text}: Low Primary School, Tuesday 3 February 10:00–11:00"


def test_lead_days_count_calendar_days_in_the_las_time_zone():
    # British Summer Time: 23:30 UTC on 1 June is already 2 June in London, the day before a 3 June meeting
    start = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
    assert lead_days(start, datetime(2026, 6, 1, 23, 30, tzinfo=UTC), TZ) == 1
    assert lead_days(start, datetime(2026, 6, 1, 22, 30, tzinfo=UTC), TZ) == 2


def test_without_a_send_time_the_nominal_lead_time_and_a_confirmation_is_unchanged():
    assert _heading(_view("remind_7d", None)) == "Your TSM is in a week"
    assert _heading(_view("remind_1d", None)) == "Your TSM is tomorrow"
    confirm = ReminderView(
        "confirm",
        "Low Primary School",
        "Ann Officer",
        START,
        START + timedelta(hours=1),
        TZ,
        "teams",
        "",
        None,
        sent_at=START - timedelta(days=3),
    )
    assert _heading(confirm) == "Your TSM is booked" and reminder_text(confirm).startswith("TSM booked: ")


@pytest.fixture
async def env(db):
    clock = FixedClock(local(2026, 1, 5, 8))
    world = await make_world(db)
    e = Env(db, clock, ScriptedMessenger())
    e.world = world
    return e


async def test_a_7_day_reminder_sent_late_by_the_scheduler_says_in_5_days(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.jobs.reminders()  # the confirmation
    env.messenger.sent.clear()
    env.clock.now = local(2026, 1, 29, 9, 0).astimezone(
        env.clock.now.tzinfo
    )  # the scheduler was down for 2 days
    assert (await env.jobs.reminders()).by_kind == {"remind_7d": 2}
    texts = env.messenger.texts()
    assert texts and all(t.startswith("TSM in 5 days: ") for t in texts)
    assert env.messenger.sent[0][1].card["body"][0]["text"] == "Your TSM is on Tuesday 3 February, in 5 days"


async def test_a_7_day_reminder_on_time_still_says_in_a_week(env):
    w = env.world
    await env.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await env.jobs.reminders()
    env.messenger.sent.clear()
    env.clock.now = local(2026, 1, 27, 10, 1).astimezone(env.clock.now.tzinfo)
    assert (await env.jobs.reminders()).by_kind == {"remind_7d": 2}
    assert all(t.startswith("TSM in a week: ") for t in env.messenger.texts())
