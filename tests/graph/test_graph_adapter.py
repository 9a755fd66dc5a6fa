"""GraphCalendar through the real msgraph-sdk over HTTP against the Graph emulator: idempotent creates, 429 and
503 handling, 401/403 as plain CalendarErrors, per-mailbox concurrency, getSchedule batching and the cache."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from factories import local
from fakes.clock import FakeClock
from graph_stack import ANN, BOB, NOW, graph_settings

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_graph import MAX_SCHEDULES, GraphCalendar, make_graph_client, transaction_id
from tsm.domain.model import Interval
from tsm.ports import CalendarError, CalendarRef

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

CREATE = "/v1.0/users/{user}/events"
SCHEDULE = "/v1.0/users/{user}/calendar/getSchedule"
GET_EVENT = "/v1.0/users/{user}/events/{event}"
EVENTS_PATH = r"/users/[^/]+/events$"


@pytest.fixture
async def emulator():
    emu = GraphEmulator(notification_retry_delays=(0.2,))
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def calendar_factory(emulator):
    """GraphCalendar objects on the real SDK pointed at the emulator (no database needed)."""
    closers = []

    def make(**overrides) -> GraphCalendar:
        monotonic = overrides.pop("monotonic", time.monotonic)
        settings = graph_settings("sqlite://", emulator, **overrides)
        client, close = make_graph_client(settings)
        closers.append(close)
        return GraphCalendar(client, settings=settings, close=close, monotonic=monotonic)

    yield make
    for close in closers:
        await close()


def schedule_requests(emulator: GraphEmulator) -> list[dict]:
    return [r for r in emulator.requests if r["route"] == SCHEDULE]


# ---------------------------------------------------------------------- creates: exactly one event


async def test_a_lost_answer_to_the_first_create_still_gives_exactly_one_event(stack):
    """The first POST creates the event, then answers 503; the SDK retries with the same transactionId."""
    stack.emulator.fail("POST", EVENTS_PATH, status=503, after_perform=True)
    result = await stack.book()
    events = stack.emulator.events(ANN)
    assert len(events) == 1
    posts = [r for r in stack.emulator.requests if r["route"] == CREATE]
    assert [p["status"] for p in posts] == [503, 201]
    assert posts[1]["retryAttempt"] == "1"
    meeting = await stack.meeting(result.meeting.id)
    assert (
        posts[0]["body"]["transactionId"]
        == posts[1]["body"]["transactionId"]
        == transaction_id(meeting.ical_uid, meeting.ical_sequence)
    )
    assert meeting.calendar_event_id == events[0]["id"]
    assert meeting.join_url and meeting.join_url == events[0]["onlineMeeting"]["joinUrl"]


async def test_the_event_carries_the_meeting_s_details(stack):
    teams = await stack.book()
    on_site = await stack.book("secondary", local(2026, 1, 8, 13), mode="on_site")
    by_id = {e["id"]: e for e in stack.emulator.events(ANN)}
    online = by_id[(await stack.meeting(teams.meeting.id)).calendar_event_id]
    assert online["isOnlineMeeting"] is True and online["onlineMeetingProvider"] == "teamsForBusiness"
    assert (
        online["start"]["dateTime"].startswith("2026-01-07T10:00:00") and online["start"]["timeZone"] == "UTC"
    )
    assert {a["emailAddress"]["address"] for a in online["attendees"]} == {
        "lead@100001.sch.example",
        "head@100001.sch.example",
    }
    assert online["allowNewTimeProposals"] is False
    visit = by_id[(await stack.meeting(on_site.meeting.id)).calendar_event_id]
    assert visit["isOnlineMeeting"] is False
    assert visit["location"]["displayName"] == "1 School Lane, Norwich, NR1 1AA"
    assert visit["subject"] == "Targeting Support Meeting: Town High School"


async def test_a_late_join_url_is_read_back(stack):
    stack.emulator.join_url_after_reads = 2
    result = await stack.book()
    meeting = await stack.meeting(result.meeting.id)
    assert meeting.join_url and meeting.join_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert stack.emulator.count("GET", GET_EVENT) >= 2


async def test_429_is_retried_after_retry_after(stack):
    stack.emulator.throttle("POST", EVENTS_PATH, retry_after=1)
    started = time.monotonic()
    result = await stack.book()
    elapsed = time.monotonic() - started
    posts = [r for r in stack.emulator.requests if r["route"] == CREATE]
    assert [p["status"] for p in posts] == [429, 201]
    assert elapsed >= 1.0  # waited the Retry-After second before the retry
    assert len(stack.emulator.events(ANN)) == 1
    assert (await stack.meeting(result.meeting.id)).calendar_event_id == stack.emulator.events(ANN)[0]["id"]


async def test_throttling_beyond_the_retries_is_a_retryable_calendar_error(emulator, calendar_factory):
    cal = calendar_factory(graph_retry_max=1)
    emulator.throttle("POST", "getSchedule", count=5, retry_after=1)
    window = Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC))
    with pytest.raises(CalendarError) as err:
        await cal.busy([CalendarRef(1, ANN)], window)
    assert err.value.retryable and "throttling" in str(err.value)
    assert emulator.count("POST", SCHEDULE) == 2  # the first try and one retry, no more


# ---------------------------------------------------------------------- 401 / 403


async def test_a_mailbox_outside_the_access_policy_is_a_clear_error(emulator, calendar_factory):
    cal = calendar_factory()
    emulator.set_forbidden(ANN)
    window = Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC))
    with pytest.raises(CalendarError) as err:
        await cal.busy([CalendarRef(1, ANN)], window)
    assert not err.value.retryable
    assert "403" in str(err.value) and "application access policy" in str(err.value) and ANN in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no SDK traceback chained
    assert emulator.count("POST", SCHEDULE) == 1  # 403 is not retried


async def test_another_mailbox_forbidden_inside_a_batch_is_named(emulator, calendar_factory):
    cal = calendar_factory()
    emulator.set_forbidden(BOB)
    window = Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC))
    with pytest.raises(CalendarError) as err:
        await cal.busy([CalendarRef(1, ANN), CalendarRef(2, BOB)], window)
    assert not err.value.retryable and BOB in str(err.value) and "access policy" in str(err.value)


async def test_401_is_a_clear_error_about_the_app_registration(emulator, calendar_factory):
    cal = calendar_factory()
    emulator.inject_fault(
        "POST", "getSchedule", status=401, code="InvalidAuthenticationToken", message="Access token is empty."
    )
    window = Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 7, tzinfo=UTC))
    with pytest.raises(CalendarError) as err:
        await cal.busy([CalendarRef(1, ANN)], window)
    assert not err.value.retryable
    assert "401" in str(err.value) and "admin consent" in str(err.value)
    assert emulator.count("POST", SCHEDULE) == 1


# ---------------------------------------------------------------------- concurrency per mailbox


async def test_at_most_four_requests_in_flight_per_mailbox(emulator, calendar_factory):
    cal = calendar_factory()
    ann = emulator.seed_event(ANN, start="2026-01-07T10:00:00Z", end="2026-01-07T11:00:00Z")
    bob = emulator.seed_event(BOB, start="2026-01-07T10:00:00Z", end="2026-01-07T11:00:00Z")
    emulator.mailbox_concurrency = 4  # Graph's limit: a fifth request at once would be answered 429
    emulator.slow("GET", r"/events/", seconds=0.15, count=100)
    jobs = [cal.attendee_responses(CalendarRef(1, ANN), ann["id"]) for _ in range(12)]
    jobs += [cal.attendee_responses(CalendarRef(2, BOB), bob["id"]) for _ in range(6)]
    started = time.monotonic()
    await asyncio.gather(*jobs)
    elapsed = time.monotonic() - started
    gets = [r for r in emulator.requests if r["route"] == GET_EVENT]
    assert len(gets) == 18 and all(r["status"] == 200 for r in gets)  # no 429: nothing over the limit
    assert emulator.peak_in_flight(ANN) == 4  # the limit, used fully
    assert emulator.peak_in_flight(BOB) == 4  # each mailbox has its own four
    assert elapsed >= 3 * 0.15  # Ann's twelve went through four at a time


# ---------------------------------------------------------------------- getSchedule batches and cache


async def test_get_schedule_batches_of_20_and_windows_under_62_days(emulator, calendar_factory):
    cal = calendar_factory()
    mailboxes = [f"officer{i:02d}@la.example" for i in range(30)]
    start = datetime(2026, 1, 5, tzinfo=UTC)
    window = Interval(start, start + timedelta(days=100))
    emulator.seed_event(
        mailboxes[25], start=start + timedelta(days=80, hours=10), end=start + timedelta(days=80, hours=11)
    )
    emulator.seed_event(
        mailboxes[3],
        start=start + timedelta(days=2, hours=9),
        end=start + timedelta(days=2, hours=10),
        show_as="tentative",
    )
    emulator.seed_event(
        mailboxes[3],
        start=start + timedelta(days=2, hours=13),
        end=start + timedelta(days=2, hours=14),
        show_as="oof",
    )
    emulator.seed_event(
        mailboxes[3],
        start=start + timedelta(days=3, hours=9),
        end=start + timedelta(days=3, hours=17),
        show_as="workingElsewhere",
    )
    emulator.seed_event(
        mailboxes[3],
        start=start + timedelta(days=4, hours=9),
        end=start + timedelta(days=4, hours=17),
        show_as="free",
    )
    refs = [CalendarRef(i, m) for i, m in enumerate(mailboxes)]
    busy = await cal.busy(refs, window)

    calls = schedule_requests(emulator)
    assert len(calls) == 4  # 2 batches (20 + 10) x 2 windows (the 100 days, padded, cut under 62)
    covered: dict[str, list[tuple[datetime, datetime]]] = {}
    for call in calls:
        body = call["body"]
        assert len(body["Schedules"]) <= MAX_SCHEDULES  # the SDK's PascalCase body
        begin = datetime.fromisoformat(body["StartTime"]["dateTime"]).replace(tzinfo=UTC)
        end = datetime.fromisoformat(body["EndTime"]["dateTime"]).replace(tzinfo=UTC)
        assert end - begin < timedelta(days=62)
        for m in body["Schedules"]:
            covered.setdefault(m.lower(), []).append((begin, end))
    assert set(covered) == set(mailboxes)
    for parts in covered.values():
        parts.sort()
        assert parts[0][0] <= window.start and parts[-1][1] >= window.end
        assert all(a[1] == b[0] for a, b in zip(parts, parts[1:], strict=False))  # no gap between windows
    assert busy[25] == [Interval(start + timedelta(days=80, hours=10), start + timedelta(days=80, hours=11))]
    assert busy[3] == [
        Interval(start + timedelta(days=2, hours=9), start + timedelta(days=2, hours=10)),
        Interval(start + timedelta(days=2, hours=13), start + timedelta(days=2, hours=14)),
    ]
    assert busy[0] == []


async def test_the_cache_answers_without_get_schedule_while_fresh(emulator, calendar_factory):
    clock = FakeClock(seconds=1000.0)
    cal = calendar_factory(monotonic=clock.monotonic, graph_busy_cache_seconds=600)
    refs = [CalendarRef(1, ANN), CalendarRef(2, BOB)]
    term = Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 3, 28, tzinfo=UTC))
    await cal.busy(refs, term)
    first = len(schedule_requests(emulator))
    assert first == 2  # one batch, the term cut in two windows

    emulator.seed_event(ANN, start="2026-01-14T10:00:00Z", end="2026-01-14T11:00:00Z")
    day = Interval(datetime(2026, 1, 14, tzinfo=UTC), datetime(2026, 1, 15, tzinfo=UTC))
    clock.advance(timedelta(seconds=599))
    assert await cal.busy(refs, day) == {1: [], 2: []}  # fresh cache: the new event is not seen yet...
    assert len(schedule_requests(emulator)) == first  # ...because Graph was not asked

    cal.invalidate(ANN)  # what a change notification does
    again = await cal.busy(refs, day)
    calls = schedule_requests(emulator)[first:]
    assert [c["body"]["Schedules"] for c in calls] == [[ANN]]  # only the invalidated mailbox, once
    assert again[1] == [
        Interval(datetime(2026, 1, 14, 10, tzinfo=UTC), datetime(2026, 1, 14, 11, tzinfo=UTC))
    ]

    clock.advance(timedelta(seconds=601))  # the safety-net age passed: ask again
    await cal.busy(refs, day)
    assert len(schedule_requests(emulator)) == first + 2
    assert cal.stats["cache_hits"] >= 3


async def test_a_window_outside_the_cached_one_is_fetched(emulator, calendar_factory):
    cal = calendar_factory(monotonic=FakeClock(seconds=1000.0).monotonic)
    await cal.busy(
        [CalendarRef(1, ANN)], Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 9, tzinfo=UTC))
    )
    await cal.busy(
        [CalendarRef(1, ANN)], Interval(datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC))
    )
    assert len(schedule_requests(emulator)) == 1
    await cal.busy(
        [CalendarRef(1, ANN)], Interval(datetime(2026, 2, 6, tzinfo=UTC), datetime(2026, 2, 9, tzinfo=UTC))
    )
    assert len(schedule_requests(emulator)) == 2


async def test_a_booking_after_listing_slots_makes_one_create_and_no_get_schedule(stack):
    """An event in Outlook blocks its slot; working elsewhere does not; booking reuses the listing's free/busy."""
    stack.emulator.seed_event(ANN, start=local(2026, 1, 7, 10), end=local(2026, 1, 7, 11), subject="Dentist")
    stack.emulator.seed_event(
        ANN, start=local(2026, 1, 8, 9), end=local(2026, 1, 8, 16), show_as="workingElsewhere"
    )
    stack.emulator.reset_counters()
    contact, school = stack.world.contact("low_primary.lead"), stack.world.schools["low_primary"]
    offer = await stack.app.booking.free_slots(contact, school, term="current")
    starts = {s.start for s in offer.slots}
    assert (
        local(2026, 1, 7, 10) not in starts and local(2026, 1, 7, 9, 30) not in starts
    )  # 9:30 runs into 10:00
    assert local(2026, 1, 7, 9) in starts and local(2026, 1, 7, 11) in starts
    assert local(2026, 1, 7, 13) in starts
    assert local(2026, 1, 8, 10) in starts  # working elsewhere is not busy
    listed = stack.emulator.count("POST", SCHEDULE)
    assert 1 <= listed <= 2  # the whole term for one officer, in windows under 62 days

    await stack.app.booking.book(contact, school, local(2026, 1, 8, 10))
    assert (
        stack.emulator.count("POST", SCHEDULE) == listed
    )  # 0 getSchedule for the booking: the cache was fresh
    assert stack.emulator.count("POST", CREATE) == 1
    assert NOW < local(2026, 1, 8, 10)
