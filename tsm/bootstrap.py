"""The shared services every channel uses (:class:`App`: clock, database, calendar, services), built from one
Settings by :func:`build_app`, nothing at import time. The composition root (``tsm.composition.compose``) calls
it, then builds the channels, the router and the scheduler on top; this module imports neither ``bot/`` nor
``scheduler/``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .adapters.calendar_local import LocalCalendar
from .adapters.db.engine import Database
from .adapters.mail import MailPort, build_mailer, sender_address
from .clock import Clock, clock_from_settings
from .la_settings import load_la_settings
from .notifications import Notifications
from .observability import Metrics
from .ports import CalendarPort, InDatabaseCalendar
from .services.booking import BookingService
from .services.calendar_sync import CalendarSync
from .services.conversation import ConversationService
from .services.directory import Directory
from .services.evaluations import Evaluations
from .services.records import Records
from .services.reference import ReferenceData
from .services.reports import Reports
from .services.signin import SignInLinks
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
    clock: Clock
    conversation: ConversationService  # the chat's offers and flows (one per App: it remembers offers)
    metrics: Metrics | None = None  # this app's own Prometheus registry (tsm.observability)
    evaluations: Evaluations | None = None  # issue 6: evaluations, TSM records, LA reports
    records: Records | None = None
    reports: Reports | None = None
    notifications: Notifications | None = None  # who is told what: events -> recipients -> messages
    signin: SignInLinks | None = None  # the web page's sign-in links and sessions (tsm/web/page.py)
    mail: MailPort | None = None  # how emails leave (tsm.adapters.mail): the email channel's
    # LA code -> (sender, mail port) for LAs with their own sender (TSM_LA_SETTINGS_FILE, issue 15)
    mail_by_la: dict[str, tuple[str, MailPort]] = field(default_factory=dict)

    async def close(self) -> None:
        close = getattr(self.calendar, "close", None)
        if close is not None:
            await close()
        if self.mail is not None:
            await self.mail.close()
        for _sender, port in self.mail_by_la.values():
            if port is not self.mail:
                await port.close()
        await self.db.dispose()


def build_calendar(settings: Settings, db: Database, *, metrics: Metrics | None = None) -> CalendarPort:
    """The calendar backend; with Graph, ``metrics`` hears of every HTTP attempt (a middleware of the client)."""
    if settings.calendar_backend == "local":
        return LocalCalendar(db, settings.invitations_dir)
    from .adapters.calendar_graph import build_graph_calendar  # only this path imports msgraph

    default = build_graph_calendar(settings, db, observer=metrics)
    per_la = {  # several LAs, each with its own tenant and credentials (issue 15)
        code: la.settings for code, la in load_la_settings(settings).items() if la.own_graph
    }
    if not per_la:
        return default
    from .adapters.calendar_per_la import PerLaCalendar

    return PerLaCalendar(
        db, {code: build_graph_calendar(la, db, observer=metrics) for code, la in per_la.items()}, default
    )


def build_mailers_by_la(settings: Settings, default: MailPort, *, metrics: Metrics | None = None) -> dict:
    """LA code -> (the From of its emails, the mail port they leave by) for the LAs with their own sender (issue 15):
    with the Graph backend, each its own tenant's sendMail on its own shared mailbox; otherwise the one port."""
    out = {}
    for code, la in load_la_settings(settings).items():
        if not la.own_mail:
            continue
        own_port = settings.mail_backend == "graph" and (la.own_graph or la.settings.mail_graph_mailbox)
        port = build_mailer(la.settings, observer=metrics) if own_port else default
        out[code] = (sender_address(la.settings), port)
    return out


def build_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    calendar: CalendarPort | None = None,
    metrics: Metrics | None = None,
    defer_calendar_writes: bool = False,
) -> App:
    """Everything the channels share, from one Settings. ``clock`` overrides the settings' clock (tests);
    ``calendar`` the calendar (tests: one built with ``build_graph_calendar(..., observer=metrics)`` to have its
    Graph calls counted); ``metrics`` the App's registry (default: a new one); ``defer_calendar_writes``: calendar
    writes only in the outbox sweep, never in a booking's own call (the server and the worker; ``CalendarSync``),
    except with a calendar kept in the database (the local one), which the booking writes in its own transaction.
    The metrics are given to what they observe at construction: the booking service and the Graph client's
    middleware (the scheduler's ledger gets them in ``scheduler.service.build_jobs``)."""
    settings = settings or Settings()
    clock = clock or clock_from_settings(settings.clock_start)
    db = Database(
        settings.database_url,
        busy_timeout=settings.sqlite_busy_timeout,
        lock_timeout=settings.postgres_lock_timeout,
    )
    metrics = metrics if metrics is not None else Metrics()
    mail = build_mailer(settings, observer=metrics)
    cal = calendar or build_calendar(settings, db, metrics=metrics)
    reference = ReferenceData(db)
    in_database = isinstance(cal, InDatabaseCalendar) and cal.in_database
    sync = CalendarSync(
        db,
        cal,
        clock=clock,
        max_attempts=settings.outbox_max_attempts,
        deferred=defer_calendar_writes and not in_database,
    )
    booking = BookingService(db, cal, reference, clock=clock, sync=sync, observer=metrics)
    conversation = ConversationService(db, booking, reference, clock=clock)
    records = Records(db, clock=clock)
    signin = SignInLinks.from_settings(settings, db, clock=clock)
    return App(
        settings,
        db,
        cal,
        reference,
        sync,
        booking,
        Directory(db, clock=clock),
        clock,
        conversation,
        metrics=metrics,
        evaluations=Evaluations(db, clock=clock),
        records=records,
        reports=Reports(db, reference, clock=clock),
        notifications=Notifications(
            db,
            booking,
            conversation,
            records,
            signin=signin,
            invitations=settings.calendar_backend == "local",
        ),
        signin=signin,
        mail=mail,
        mail_by_la=build_mailers_by_la(settings, mail, metrics=metrics),
    )


def build_graph_watcher_if_configured(app: App, *, clock: Callable[[], datetime] | None = None):
    """The Outlook watcher (a ``tsm.adapters.calendar_graph.GraphWatcher``) when the calendar backend is Graph, else
    None. Its plain async entry points are for the scheduler: ``renew_subscriptions()`` (hourly, and at start-up)
    and ``sweep_delta()`` (every 15 minutes or so); the outbox sweep is ``app.sync.process_due()`` (every minute).
    The server mounts ``tsm.web.graph_notifications.graph_routes(watcher)`` for the change notifications."""
    if app.settings.calendar_backend != "graph":
        return None
    from .adapters.calendar_graph import GraphCalendar, build_graph_watcher  # msgraph only on this path
    from .adapters.calendar_per_la import PerLaCalendar

    if not isinstance(app.calendar, GraphCalendar | PerLaCalendar):
        return None
    return build_graph_watcher(app, clock=clock)
