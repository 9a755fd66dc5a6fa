"""The composition root builds each role's pieces once, from one Settings, with everything wired at construction."""

from __future__ import annotations

import asyncio

from fakes.messenger import ScriptedMessenger

from scheduler.service import SchedulerService
from scheduler.thread import ThreadedScheduler
from tsm.chat.router import Incoming, Who
from tsm.clock import StartedClock, SystemClock
from tsm.composition import compose
from tsm.mailing import ChannelChoice, EmailChannel
from tsm.settings import Settings


def _settings(url: str, tmp_path, **kw) -> Settings:
    return Settings(database_url=url, _env_file=None, invitations_dir=tmp_path / "inv", **kw)


async def test_the_cli_gets_the_app_alone(sqlite_url, tmp_path):
    built = compose(_settings(sqlite_url, tmp_path, clock_start="2026-11-10T09:00:00+00:00"), role="cli")
    try:
        assert (built.messenger, built.router, built.bot, built.scheduler, built.watcher) == (None,) * 5
        assert isinstance(built.app.clock, StartedClock)  # the clock comes from the settings
        assert built.app.conversation.booking is built.app.booking  # one conversation service per App
    finally:
        await built.close()


async def test_the_server_wires_the_bot_to_its_scheduler_at_construction(sqlite_url, tmp_path):
    built = compose(
        _settings(sqlite_url, tmp_path, chat_burst_turns=2, chat_sustained_turns=0), role="server"
    )
    try:
        bot = built.bot.bot
        # The embedded sweeps run in a thread of their own, started by the server (scheduler/thread.py)
        assert isinstance(built.scheduler, ThreadedScheduler) and not built.scheduler.running
        # the bot's delivery channel: Teams (the bot's own connection) for who has a conversation, else email
        assert built.messenger.teams is built.bot.messenger
        assert isinstance(built.messenger, ChannelChoice) and isinstance(built.messenger.email, EmailChannel)
        assert built.messenger.delivery == "teams_then_email" and built.messenger.email.mail is built.app.mail
        assert built.messenger.email.signin is built.app.signin  # the web page's sign-in links
        assert bot.on_change == built.scheduler.wake and bot.meeting_ended is not None
        assert not hasattr(bot, "scheduler")
        assert built.router.turn_limiter.limits == ((2, 10.0),)  # the router's limit from the settings
        assert isinstance(built.app.clock, SystemClock)
        # an unknown sender gets the product's answer from the router itself (nothing set on it afterwards)
        reply = await built.router.unknown(Incoming(who=Who(email="x@y.example")))
        assert reply.error and "can't find you (x@y.example)" in reply.text
        await built.scheduler.start()
        service = built.scheduler.service
        # a worker's composition in that thread: its own loop, App (engine), delivery channel; the same clock
        assert built.scheduler.running and isinstance(service, SchedulerService)
        assert built.scheduler.loop is not asyncio.get_running_loop()
        assert service.app is not built.app and service.app.db.engine is not built.app.db.engine
        assert service.app.clock is built.app.clock and service.app.db.url == built.app.db.url
        assert service.app.metrics is built.app.metrics  # the bot's /metrics counts the sweeps' deliveries
        assert (
            isinstance(service.messenger, ChannelChoice)
            and service.messenger.teams is not built.bot.messenger
        )
    finally:
        await built.close()
    assert not built.scheduler.running


async def test_a_server_without_the_scheduler_still_ends_meetings_on_teams_events(sqlite_url, tmp_path):
    built = compose(_settings(sqlite_url, tmp_path, run_scheduler=False), role="server")
    try:
        assert built.scheduler is None and built.bot.bot.on_change is None
        outcome = await built.bot.bot.meeting_ended(join_url=None, teams_meeting_id=None)
        assert outcome.status == "no_identifier"
        outcome = await built.bot.bot.meeting_ended(
            join_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0",
            teams_meeting_id=None,
        )
        assert outcome.status == "unknown_meeting"
    finally:
        await built.close()


async def test_the_worker_sends_through_its_own_channel_or_the_one_given(sqlite_url, tmp_path):
    built = compose(_settings(sqlite_url, tmp_path), role="worker", worker_id="w1")
    try:
        assert built.bot is None and built.router is None
        assert built.scheduler.worker_id == "w1" and built.scheduler.messenger is built.messenger
        assert built.messenger.owns_pool and built.closes_messenger
        assert isinstance(built.messenger, ChannelChoice) and built.messenger.teams.owns_pool
    finally:
        await built.close()
    fake = ScriptedMessenger()
    built = compose(_settings(sqlite_url, tmp_path), role="worker", messenger=fake)
    try:
        assert built.scheduler.messenger is fake and not built.closes_messenger
    finally:
        await built.close()
