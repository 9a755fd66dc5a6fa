"""The composition root: everything is built here from one Settings object, nothing at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .adapters.calendar_local import LocalCalendar
from .adapters.db.engine import Database
from .domain.errors import TsmError
from .observability import Metrics, instrument_booking, instrument_graph
from .ports import CalendarPort
from .services.booking import BookingService, now_utc
from .services.calendar_sync import CalendarSync
from .services.directory import Directory
from .services.evaluations import Evaluations
from .services.notices import Notices
from .services.records import Records
from .services.reference import ReferenceData
from .services.reports import Reports
from .settings import Settings


@dataclass
class App:
    settings: Settings
    db: Database
    calendar: CalendarPort
    reference: ReferenceData
    sync: CalendarSync
    booking: BookingService
    directory: Directory
    notices: Notices
    metrics: Metrics | None = None  # this app's own Prometheus registry (tsm.observability)
    evaluations: Evaluations | None = None  # issue 6: evaluations, TSM records, LA reports
    records: Records | None = None
    reports: Reports | None = None

    async def close(self) -> None:
        close = getattr(self.calendar, "close", None)
        if close is not None:
            await close()
        await self.db.dispose()


def build_calendar(settings: Settings, db: Database) -> CalendarPort:
    if settings.calendar_backend == "local":
        return LocalCalendar(db, settings.invitations_dir)
    from .adapters.calendar_graph import build_graph_calendar  # only this path imports msgraph

    return build_graph_calendar(settings, db)


def build_app(settings: Settings | None = None, *, clock: Callable[[], datetime] = now_utc,
              calendar: CalendarPort | None = None) -> App:
    settings = settings or Settings()
    db = Database(settings.database_url)
    cal = calendar or build_calendar(settings, db)
    reference = ReferenceData(db)
    sync = CalendarSync(db, cal, clock=clock, max_attempts=settings.outbox_max_attempts)
    booking = BookingService(db, cal, reference, clock=clock, sync=sync)
    metrics = Metrics()
    instrument_booking(booking, metrics)
    instrument_graph(cal, metrics)  # no-op unless the calendar is the Graph one
    return App(settings, db, cal, reference, sync, booking, Directory(db, clock=clock), Notices(db, clock=clock),
               metrics=metrics, evaluations=Evaluations(db, clock=clock), records=Records(db, clock=clock),
               reports=Reports(db, reference, clock=clock))


class MessengerUnavailable(TsmError):
    """No way to send proactive Teams messages in this installation (``bot.messenger`` is missing)."""


def build_messenger(app: App):
    """The Teams messenger (a :class:`tsm.messaging.MessengerPort`) for proactive sends: the scheduler's worker
    and the bot use it. ``bot/`` is the only package importing botbuilder, so it is imported here lazily; its
    ``bot.messenger.build_messenger(app)`` builds the messenger (with the shared send limiter)."""
    try:
        from bot import messenger as teams
    except ImportError as exc:
        raise MessengerUnavailable(
            "The Teams messenger (bot.messenger) is not installed, so nothing can be sent to Teams: "
            f"the scheduler worker cannot start without it ({exc}).") from exc
    factory = getattr(teams, "build_messenger", None)
    if factory is None:
        raise MessengerUnavailable("bot.messenger has no build_messenger(app): the scheduler worker cannot send.")
    return factory(app)


def build_graph_watcher_if_configured(app: App, *, clock: Callable[[], datetime] | None = None):
    """The Outlook watcher (a ``tsm.adapters.calendar_graph.GraphWatcher``) when the calendar backend is Graph, else
    None. Its plain async entry points are for the scheduler: ``renew_subscriptions()`` (hourly, and at start-up)
    and ``sweep_delta()`` (every 15 minutes or so); the outbox sweep is ``app.sync.process_due()`` (every minute).
    The server mounts ``tsm.web.graph_notifications.graph_routes(watcher)`` for the change notifications."""
    if app.settings.calendar_backend != "graph":
        return None
    from .adapters.calendar_graph import GraphCalendar, build_graph_watcher  # msgraph only on this path

    if not isinstance(app.calendar, GraphCalendar):
        return None
    return build_graph_watcher(app, clock=clock)
