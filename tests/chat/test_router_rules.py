"""The router's own rules, with no database: what an id, a time or a free-text field from a card must be, whom a
turn counts against for the rate limit, what an unknown sender is told, which command a typed line is (exactly,
with one slip, or none), and what a failing handler's turn answers (the person's words, never a stack trace)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from tsm.chat.router import (
    MAX_ID,
    ChatContext,
    Incoming,
    Reply,
    Router,
    Who,
    field_datetime,
    field_int,
    field_str,
    one_slip,
    unknown_user_text,
)
from tsm.domain.errors import BookingRefused, InvalidInput
from tsm.observability import Metrics
from tsm.ports import CalendarError
from tsm.ratelimit import TurnLimiter
from tsm.services.actors import Actor
from tsm.settings import Settings

CONTACT = Actor("contact", 7, 3, "Lead")
OFFICER = Actor("officer", 2, None, "Officer")


def services(**settings):
    return SimpleNamespace(settings=Settings(_env_file=None, **settings), metrics=Metrics())


async def turn(router: Router, actor: Actor | None, *, who: Who | None = None, svc=None, **incoming) -> Reply:
    async def identify(_who: Who) -> Actor | None:
        return actor

    return await router.dispatch(
        Incoming(who=who or Who(aad_object_id="aad-1", tenant_id="t1"), **incoming),
        identify=identify,
        services=svc or services(),
        clock=lambda: datetime(2027, 1, 12, 10, tzinfo=UTC),
    )


def router_with(*words: str, roles=("contact", "officer", "admin")) -> tuple[Router, list]:
    """A router whose commands write down which one ran, with the rest of the line."""
    router, ran = Router(), []
    for w in words:

        async def handler(ctx, data, w=w):
            ran.append((w, data["args"]))
            return Reply(text=w)

        router.command(w, help="x", roles=roles)(handler)
    return router, ran


# ---------------------------------------------------------------------- card fields


@pytest.mark.parametrize("value", [0, 1, MAX_ID, "0", " 42 ", "000000000012"])
def test_an_id_from_a_card_is_a_whole_number_from_0_to_the_databases_largest(value):
    assert field_int({"id": value}, "id", label="the meeting") == int(str(value).strip())


@pytest.mark.parametrize("value", [-1, MAX_ID + 1, "1234567890123", "12a", "", None, 1.0, "-3", [1]])
def test_an_id_outside_the_range_or_not_a_whole_number_is_refused_by_its_label(value):
    with pytest.raises(InvalidInput) as bad:
        field_int({"id": value}, "id", label="the meeting")
    assert str(bad.value) == "The meeting is missing or not in the expected form."


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_never_an_id(value):
    with pytest.raises(InvalidInput) as bad:
        field_int({"id": value}, "id", label="the school")
    assert str(bad.value) == "The school is not in the expected form."


def test_a_time_from_a_card_is_an_iso_instant_with_its_offset():
    assert field_datetime({"t": " 2027-01-12T10:00:00+00:00 "}, "t", label="the time") == datetime(
        2027, 1, 12, 10, tzinfo=UTC
    )
    summer = field_datetime({"t": "2027-06-01T10:00+01:00"}, "t", label="the time")
    assert summer.utcoffset() == timedelta(hours=1) and summer.tzinfo == timezone(timedelta(hours=1))
    for value, message in (
        (None, "The time is missing or not in the expected form."),
        (1767, "The time is missing or not in the expected form."),
        ("tomorrow", "The time is not a valid date and time."),
        ("2027-01-12T10:00:00", "The time has no time zone."),
    ):
        with pytest.raises(InvalidInput) as bad:
            field_datetime({"t": value}, "t", label="the time")
        assert str(bad.value) == message, value


def test_a_text_field_is_cleaned_and_required_unless_said_otherwise():
    assert field_str({"r": "  Snow day  "}, "r", label="the reason") == "Snow day"
    assert field_str({}, "r", label="the reason", required=False) == ""
    with pytest.raises(InvalidInput):
        field_str({}, "r", label="the reason")
    with pytest.raises(InvalidInput):
        field_str({"r": "x" * 11}, "r", label="the reason", max_len=10)


# ---------------------------------------------------------------------- whom a turn counts against


async def test_the_rate_limit_counts_a_sender_by_aad_id_else_channel_id_else_email():
    """Two turns a minute: a sender's third is refused; another sender, by whichever id the channel gave, is not."""
    router, _ = router_with("ping")
    svc = services(chat_burst_turns=2, chat_sustained_turns=100)
    people = [
        Who(aad_object_id="aad-1", tenant_id="t1", channel_user_id="same", email="same@x.example"),
        Who(aad_object_id="aad-1", tenant_id="t2", channel_user_id="same", email="same@x.example"),
        Who(channel_user_id="ch-1", email="same@x.example"),
        Who(email="SAME@x.example"),
    ]
    for who in people:
        for _ in range(2):
            assert not (await turn(router, CONTACT, who=who, svc=svc, text="ping")).error, who
    for who in people:
        refused = await turn(router, CONTACT, who=who, svc=svc, text="ping")
        assert refused.error and "faster than I can take them" in refused.text, who
    mail = await turn(router, CONTACT, who=Who(email="same@x.example"), svc=svc, text="ping")
    assert mail.error  # the same address in another case is the same sender


def test_an_unknown_sender_is_greeted_by_first_name_and_told_whom_to_ask_with_their_address():
    text = unknown_user_text(Who(name="Sam Jones", email="sam@school.example"))
    assert text.startswith("Hello Sam. I can't find you (sam@school.example) among the school contacts")
    assert "add you as a contact for your school with the address sam@school.example." in text
    bare = unknown_user_text(Who())
    assert bare.startswith("Hello. I can't find you among") and "with the address" not in bare
    assert bare.endswith("to add you as a contact for your school. Once they have, say **hi** here again.")


# ---------------------------------------------------------------------- which command


async def test_a_command_is_its_words_alone_or_followed_by_more():
    router, ran = router_with("book", "my meetings")
    for text, expected in (
        ("book", ("book", "")),
        ("BOOK", ("book", "")),
        ("book next Tuesday", ("book", "next Tuesday")),
        ("  My meetings  ", ("my meetings", "")),
        ("My  meetings", ("my meetings", "")),  # two spaces inside the command: nothing of it is left over
        ("my\tmeetings  next term", ("my meetings", "next term")),
        ("Book: 3 December", ("book", ": 3 December")),
    ):
        ran.clear()
        r = await turn(router, CONTACT, text=text)
        assert not r.error and ran == [expected], text
    r = await turn(router, CONTACT, text="booking")  # a longer word is not the command
    assert r.error and r.text == "I didn't understand that. Type **help** to see what I can do."


async def test_one_slip_is_taken_as_the_command_with_the_rest_of_the_line():
    router, ran = router_with("book", "my meetings", "cancel")
    for text, expected in (
        ("bok", ("book", "")),
        ("mymeetings", ("my meetings", "")),
        ("my meetigns please", ("my meetings", "please")),
        ("cancle 12", ("cancel", "12")),
    ):
        ran.clear()
        r = await turn(router, CONTACT, text=text)
        assert not r.error and ran == [expected], text


async def test_a_slip_near_two_commands_or_a_short_word_is_not_guessed():
    router, ran = router_with("help", "held", "hi")
    for text in ("hel", "ho", "hix"):
        r = await turn(router, CONTACT, text=text)
        assert r.error and ran == [], text


async def test_a_typed_command_not_open_to_the_sender_is_refused_by_name():
    router, ran = router_with("my week", roles=("officer", "admin"))
    r = await turn(router, CONTACT, text="my week")
    assert r.error and r.text == "That command is not open to you. Type **help** to see what you can do."
    near = await turn(router, CONTACT, text="my wek")
    assert near.error and near.text == r.text and ran == []
    assert not (await turn(router, OFFICER, text="my wek")).error and ran == [("my week", "")]


async def test_a_verb_gets_the_cards_data_and_a_data_that_is_not_a_dict_is_empty():
    router, seen = Router(), []

    @router.verb("x.go")
    async def go(ctx, data):
        seen.append(data)
        return Reply(text="ok")

    await turn(router, CONTACT, verb="x.go", data={"a": 1})
    await turn(router, CONTACT, verb="x.go", data=["a"])
    assert seen == [{"a": 1}, {}]
    old = await turn(router, CONTACT, verb="x.gone", data={})
    assert old.error and old.text.startswith("That button is not one I know (perhaps an old card).")


def test_the_help_lists_a_roles_commands_by_their_first_word():
    router = Router()

    async def h(ctx, data):
        return Reply()

    router.command("my week", "week", help="Your week", roles=("officer",))(h)
    router.command("book", help={"contact": "Book your TSM", "officer": ""}, roles=("contact", "officer"))(h)
    assert router.commands_for("officer") == [("my week", "Your week")]
    assert router.commands_for("contact") == [("book", "Book your TSM")]
    assert router.commands_for("admin") == []


# ---------------------------------------------------------------------- what a failing turn answers


@pytest.mark.parametrize(
    "exc, answer, outcome",
    [
        (BookingRefused("taken", "That time was just taken."), "That time was just taken.", "refused"),
        (
            CalendarError("slow", retryable=True),
            "Outlook isn't answering just now, so nothing was booked or changed. Please try again in a minute.",
            "unavailable",
        ),
        (
            CalendarError("The mailbox is outside the access policy.", retryable=False),
            "The mailbox is outside the access policy. Nothing was booked or changed.",
            "unavailable",
        ),
        (
            KeyError("boom"),
            "Sorry, something went wrong on our side and nothing was changed. Please try again in a minute; if "
            "it keeps happening, tell your link officer.",
            "error",
        ),
    ],
)
async def test_a_failing_handler_answers_in_words_and_counts_its_outcome(exc, answer, outcome):
    router = Router()

    @router.command("go")
    async def go(ctx, data):
        raise exc

    svc = services()
    r = await turn(router, CONTACT, svc=svc, text="go")
    assert r.error and r.text == answer
    for each in ("ok", "refused", "unavailable", "error"):
        assert svc.metrics.value("tsm_turns_total", kind="message", outcome=each) == (each == outcome), each


# ---------------------------------------------------------------------- the rest of the router's surface


def test_a_turn_is_an_action_when_a_card_sent_a_verb():
    assert Incoming(who=Who(), verb="x.go").is_action is True
    assert Incoming(who=Who(), text="hi").is_action is False


def test_times_are_shown_in_the_clients_zone_else_london():
    def tz(zone):
        return ChatContext(CONTACT, Incoming(who=Who(), timezone=zone), None, lambda: None).tz

    assert tz("Europe/Paris") == ZoneInfo("Europe/Paris")
    assert tz(None) == ZoneInfo("Europe/London")
    assert tz("Mars/Olympus") == ZoneInfo("Europe/London")  # unknown zone
    assert tz("../etc") == ZoneInfo("Europe/London")  # not a zone name at all


def test_a_verb_or_command_has_exactly_one_handler():
    router = Router()

    async def h(ctx, data):
        return Reply()

    router.verb("x.go")(h)
    with pytest.raises(ValueError, match="'x.go' already has a handler"):
        router.verb("x.go")(h)
    router.command("book")(h)
    with pytest.raises(ValueError, match="already have a handler"):
        router.command("Book", "reserve")(h)


def test_one_slip_includes_one_letter_changed():
    assert one_slip("boak", "book") and one_slip("baok", "book")
    assert not one_slip("baak", "book")  # two letters changed


async def test_the_rate_limits_answer_rounds_the_wait_and_logs_it_to_a_tenth(caplog):
    now = [1000.0]
    router, _ = router_with("ping")
    router.turn_limiter = TurnLimiter([(1, 60.0)], clock=lambda: now[0])
    assert not (await turn(router, CONTACT, text="ping")).error
    now[0] += 0.123  # the window frees in 59.877 s
    with caplog.at_level(logging.INFO, logger="tsm.chat.router"):
        refused = await turn(router, CONTACT, text="ping")
    assert refused.error and "Please wait about 60 seconds" in refused.text
    # startswith: the log's repeat filter (tsm/web/slow_clients.py), once a server test has installed it, may add
    # "(N similar lines in the last 10 s not logged)" when other refusals were logged just before
    [rec] = [
        r for r in caplog.records if r.getMessage().startswith("turn refused by the per-user rate limit")
    ]
    assert rec.retry_in == 59.9


async def test_a_calendar_failure_is_logged_with_its_kind_and_whether_it_may_pass(caplog):
    router = Router()

    @router.command("go")
    async def go(ctx, data):
        raise CalendarError("slow", retryable=True)

    with caplog.at_level(logging.WARNING, logger="tsm.chat.router"):
        await turn(router, CONTACT, text="go")
    assert [r.getMessage() for r in caplog.records] == [
        "turn stopped by the calendar (CalendarError, retryable=True)"
    ]


async def test_an_unknown_sender_gets_the_routers_own_answer_when_one_is_set():
    router, ran = router_with("ping")
    asked = []

    async def unknown_user(incoming, services):
        asked.append(incoming.text)
        return Reply(text="Ask the LA for access", error=True)

    assert (await turn(router, None, text="ping")).text.startswith("Hello. I can't find you")
    router.unknown_user = unknown_user
    r = await turn(router, None, text="ping")
    assert r.text == "Ask the LA for access" and asked == ["ping"] and ran == []
