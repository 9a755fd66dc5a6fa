"""The composition root: the one function that builds everything a process runs from one ``Settings``.

``compose(settings, role=...)`` builds, in order and each piece once, with everything it needs given at
construction (nothing is wired afterwards):

1. the shared services, :class:`tsm.bootstrap.App`: the clock (``tsm.clock.clock_from_settings``), the database,
   the calendar and the services (``build_app``);
2. the delivery channel: per recipient, Teams (``bot.runtime.build_teams_channel``; a worker's messenger has its
   own connection pool) when the person has a working conversation with the bot, else email
   (``tsm.mailing.EmailChannel`` over the App's mail port, with sign-in links from ``signin``), as
   ``TSM_DELIVERY`` says (``tsm.mailing.ChannelChoice``). Which channel a message goes through is decided here
   and nowhere else;
3. the Graph watcher, when the calendar is Outlook;
4. the scheduler's sweeps (``scheduler.service.SchedulerService``) over that channel and watcher: always for a
   worker, for the server when ``TSM_RUN_SCHEDULER`` is on; a server composed from its settings alone runs them
   in a thread of their own (``scheduler.thread.ThreadedScheduler``: a worker composition with its own loop,
   engine and connections, on the same database and clock), so a sweep never holds a turn up;
5. for the server: the router with its per-user limit (``TurnLimiter.for_chat``) and the Teams bot, given its
   ports into the scheduler: ``meeting_ended`` (Teams' meetingEnd -> ``scheduler.meeting_events``) and
   ``on_change`` (wake the scheduler's event sweep).

Roles: ``"server"`` (``tsm run``: ``tsm.server``), ``"worker"`` (``tsm worker``: ``tsm.worker``), ``"cli"`` (every
other ``tsm`` command: the App alone). Only those entry points import this module, and it is the only one that
imports the core, ``bot/`` and ``scheduler/`` together: the core imports neither (``tests/deploy/test_imports.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from bot.runtime import BotRuntime, build_bot_runtime, build_messenger, build_teams_channel
from scheduler.meeting_events import meeting_end_handler
from scheduler.service import SchedulerService, SweepIntervals, build_jobs
from scheduler.thread import ThreadedScheduler

from .adapters.mail import sender_address
from .bootstrap import App, build_app, build_graph_watcher_if_configured
from .chat.app import build_router
from .chat.router import Router
from .clock import Clock
from .mailing import ChannelChoice, EmailChannel, SignInIssuer
from .messaging import MessengerPort
from .observability import Metrics
from .ports import CalendarPort
from .ratelimit import TurnLimiter
from .settings import Settings
from .web.page import WebPage

log = logging.getLogger(__name__)

Role = Literal["server", "worker", "cli"]

# bot_options (tests, benchmarks) that shape the Teams channel; the others go to the bot runtime.
CHANNEL_OPTIONS = frozenset({"limiter", "messenger_options", "auth_overrides"})


@dataclass
class Composition:
    """Everything one process runs. ``close`` stops and closes what :func:`compose` built, in reverse order."""

    app: App
    role: Role
    messenger: MessengerPort | None = (
        None  # the delivery channel (Teams or email): the scheduler sends through it
    )
    router: Router | None = None
    bot: BotRuntime | None = None
    # started by the server or the worker, not here; the server's own sweeps run in a thread (ThreadedScheduler)
    scheduler: SchedulerService | ThreadedScheduler | None = None
    watcher: Any = None  # tsm.adapters.calendar_graph.GraphWatcher, with the Outlook calendar
    web: WebPage | None = None  # the web page for school staff (/web/), another transport for the same router
    closes_messenger: bool = False  # the messenger has its own pool (a worker's): close it

    async def close(self, *, app: bool = True) -> None:
        """Stop the sweeps (running ones finish), close the Teams connections, then the App unless ``app=False``
        (a test that built the App itself closes it)."""
        if self.scheduler is not None:
            await self.scheduler.shutdown()
        if self.bot is not None:
            await self.bot.close()  # the turns' pool, which the server's messenger shares
        elif self.closes_messenger and self.messenger is not None:
            await self.messenger.close()
        if app:
            await self.app.close()


def compose(
    settings: Settings | None = None,
    *,
    role: Role,
    app: App | None = None,
    clock: Clock | None = None,
    calendar: CalendarPort | None = None,
    router: Router | None = None,
    run_scheduler: bool | None = None,
    bot_options: dict | None = None,
    messenger: MessengerPort | None = None,
    worker_id: str | None = None,
    intervals: SweepIntervals | None = None,
    signin: SignInIssuer | None = None,
    metrics: Metrics | None = None,
) -> Composition:
    """Build everything for ``role`` from ``settings`` (default: the environment).

    For tests and benchmarks: ``app`` (an App already built, e.g. with a fixed clock; its settings are used),
    ``clock``/``calendar`` (passed to ``build_app``), ``router`` (instead of the product's), ``run_scheduler``
    (instead of ``settings.run_scheduler``), ``bot_options`` (the Teams channel's and the bot's own),
    ``messenger`` (a worker's, instead of Teams and email; it is then not closed here), ``worker_id``,
    ``intervals``; ``signin``: what makes the sign-in links emails carry (``tsm.services.signin.SignInLinks``;
    None: emails carry no link); ``metrics``: the App's registry (the embedded sweeps' thread shares the bot's).
    """
    own_app = app is None
    if app is None:
        # The server and the worker leave Outlook's writes to the outbox sweep: a turn never waits on Graph.
        app = build_app(
            settings, clock=clock, calendar=calendar, metrics=metrics, defer_calendar_writes=role != "cli"
        )
    settings = app.settings
    if role == "cli":
        return Composition(app, role)
    if role not in ("server", "worker"):
        raise ValueError(f"unknown role {role!r}")
    options = dict(bot_options or {})
    channel_options = {k: options.pop(k) for k in list(options) if k in CHANNEL_OPTIONS}
    channel = None
    closes_messenger = False
    if role == "server":
        channel = build_teams_channel(settings, app.db, **channel_options)
        messenger = delivery_channel(app, channel.messenger, signin)
    elif messenger is None:
        messenger = delivery_channel(app, build_messenger(app), signin)
        closes_messenger = True
    watcher = _graph_watcher(app, tolerant=role == "server")
    scheduler: SchedulerService | ThreadedScheduler | None = None
    embedded = settings.run_scheduler if run_scheduler is None else run_scheduler
    if role == "server" and embedded and own_app and calendar is None:
        # The embedded sweeps in a thread of their own, composed there as a worker is (own loop, engine, Teams
        # pool, Outlook client), on the same database and clock: they never hold the bot's loop up.
        scheduler = ThreadedScheduler(
            lambda: compose(
                settings,
                role="worker",
                clock=app.clock,
                worker_id=worker_id,
                intervals=intervals,
                signin=signin,
                metrics=app.metrics,  # one registry: the bot's /metrics shows its sweeps' deliveries too
            )
        )
    elif role == "worker" or embedded:
        scheduler = SchedulerService(
            app,
            messenger,
            worker_id=worker_id,
            watcher=watcher,
            intervals=intervals
            or SweepIntervals(
                retries=settings.scheduler_retry_sweep_seconds,
                reminders=settings.scheduler_reminder_sweep_seconds,
            ),
            lease=timedelta(seconds=settings.scheduler_lease_seconds),
        )
    if role == "worker":
        return Composition(
            app, role, messenger, scheduler=scheduler, watcher=watcher, closes_messenger=closes_messenger
        )
    assert channel is not None
    router = router or build_router(turn_limiter=TurnLimiter.for_chat(settings))
    # Teams' meetingEnd ends the TSM through the in-process scheduler's jobs, or jobs of the bot's own when the
    # sweeps run in a worker (the ledger's gate makes the two paths end a meeting once).
    jobs = (
        scheduler.jobs
        if isinstance(scheduler, SchedulerService)
        else build_jobs(app, messenger, worker_id=worker_id)
    )
    bot = build_bot_runtime(
        app,
        router,
        channel,
        meeting_ended=meeting_end_handler(app, messenger, jobs),
        on_change=scheduler.wake if scheduler is not None else None,
        **options,
    )
    web = None
    if settings.web_page and app.signin is not None:
        web = WebPage(
            router=router,
            services=app,
            signin=app.signin,
            clock=app.clock,
            put_file=bot.files.put,
            on_change=scheduler.wake if scheduler is not None else None,
            per_address_hour=settings.web_signin_per_address_hour,
            per_client_hour=settings.web_signin_per_client_hour,
            forwarded_for=settings.web_forwarded_for,
        )
    return Composition(app, role, messenger, router, bot, scheduler, watcher, web=web)


def delivery_channel(app: App, teams: MessengerPort, signin: SignInIssuer | None = None) -> MessengerPort:
    """The one choice of channel per recipient (``TSM_DELIVERY``): Teams with a working conversation, else email.
    Calendar invitations (the local calendar's) go by email whatever the choice. ``signin``: the App's sign-in
    links unless given."""
    email = None
    if app.mail is not None:
        links = signin if signin is not None else app.signin
        email = EmailChannel(
            app.db,
            app.mail,
            sender=sender_address(app.settings),
            signin=links,
            origin=getattr(app.signin, "base_url", "") if app.signin is not None else "",
            by_la=app.mail_by_la,  # LAs with their own sender and mailbox (issue 15)
        )
    return ChannelChoice(teams, email, app.settings.delivery)


def _graph_watcher(app: App, *, tolerant: bool):
    """The Outlook watcher with the Graph calendar, else None. The server starts without one when it cannot be
    built (a misconfiguration is reported on /healthz, not a crash at start-up); a worker does not."""
    try:
        return build_graph_watcher_if_configured(app)
    except Exception as exc:
        if not tolerant:
            raise
        log.warning("Graph watcher not built (%s): no change notifications", type(exc).__name__)
        return None
