"""The scheduler as a service: inside the bot (the embedded default) or as its own process (``tsm worker``).

:class:`SchedulerService` builds the sweep jobs, the ledger (claims with a lease) and an APScheduler
``AsyncIOScheduler`` with a few sweeps under stable ids. APScheduler only wakes them: the database holds what
is due, so a restart loses nothing and any number of workers on one database never send a message twice.

==========================  =========  ============================================================
job id                      every      what
==========================  =========  ============================================================
``tsm.reminders``           60 s       confirmations, 7-day (checklist) and 1-day reminders
``tsm.meetings``            60 s       senior leader unavailable (rebooking, officer told/nudged);
                                       meetings ended with no Teams event (timer fallback)
``tsm.nudges``              5 min      officers' agendas, weekly unbooked lists, term-start nudges, chasers
                                       (worked out at the first run of each hour: they fall due on the hour);
                                       messages that found no bot conversation (or a blocked one), once
                                       the person installs the app or comes back (while still useful)
``tsm.retries``             30 s       claims whose lease ran out (worker died) or that asked to retry
``tsm.calendar_outbox``     30 s       calendar writes still pending (``CalendarSync.process_due``)
``tsm.ledger_purge``        1 h        ledger rows finished over 180 days ago, chat offers expired over 30
                                       days ago, download files whose links expired, the local calendar's
                                       .ics files past TSM_INVITATIONS_RETENTION_DAYS, meetings, events and
                                       ledger rows past TSM_RETENTION_YEARS and audit rows past the LAs'
                                       profiles (``scheduler.retention``; once a day across workers)
``tsm.feedback``            5 min      evaluation reminder, action reminders, feedback retention purge
``tsm.graph_subscriptions`` 1 h        Outlook change-notification subscriptions (Graph backend only;
                                       once an hour across all workers)
``tsm.graph_delta``         15 min     the ``calendarView/delta`` fallback sweep (Graph backend only;
                                       once a quarter-hour across all workers)
==========================  =========  ============================================================

The composition root (``tsm.composition.compose``) builds it with its messenger and Graph watcher; the server
(``tsm run``) and ``tsm worker`` (``tsm/worker.py``) run it::

    await service.start()      # on start-up
    ...
    await service.shutdown()   # on clean-up: running sweeps finish (or are cancelled after a grace period)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .feedback_jobs import FeedbackJobs, feedback_sweep
from .jobs import Jobs, JobSettings, SweepResult
from .ledger import Ledger
from .retention import Retention
from .runner import build_scheduler
from .runner import worker_id as default_worker_id

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from tsm.bootstrap import App
    from tsm.messaging import MessengerPort

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SweepIntervals:
    """Seconds between two runs of each sweep."""

    events: int = 5  # what changes call for (woken at once by the bot after a change; this is the fallback)
    reminders: int = 60
    meetings: int = 60
    nudges: int = 300
    retries: int = 30
    calendar_outbox: int = 30
    graph_subscriptions: int = 3600
    graph_delta: int = 900
    ledger_purge: int = 3600  # it works once a day; hourly wake-ups catch a day missed while no worker ran


def build_jobs(
    app: App,
    messenger: MessengerPort,
    *,
    job_settings: JobSettings | None = None,
    worker_id: str | None = None,
    lease: timedelta = LEASE,
) -> Jobs:
    """The sweep jobs for ``app``, sending through ``messenger``, claiming as ``worker_id``."""
    clock = app.clock
    ledger = Ledger(app.db, worker_id or default_worker_id(), lease=lease, clock=clock, observer=app.metrics)
    return Jobs(
        db=app.db,
        messenger=messenger,
        booking=app.booking,
        reference=app.reference,
        ledger=ledger,
        clock=clock,
        settings=job_settings or JobSettings.from_settings(app.settings),
        notifications=app.notifications,
        feedback=FeedbackJobs.for_app(app, messenger, ledger),
    )


class SchedulerService:
    def __init__(
        self,
        app: App,
        messenger: MessengerPort,
        *,
        job_settings: JobSettings | None = None,
        worker_id: str | None = None,
        intervals: SweepIntervals | None = None,
        lease: timedelta = LEASE,
        watcher=None,
    ) -> None:
        self.app = app
        self.messenger = messenger
        self.worker_id = worker_id or default_worker_id()
        self.intervals = intervals or SweepIntervals()
        self.jobs = build_jobs(
            app, messenger, job_settings=job_settings, worker_id=self.worker_id, lease=lease
        )
        self.ledger = self.jobs.ledger
        self.watcher = watcher
        self.scheduler: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task] = set()

    # ------------------------------------------------------------------ the sweeps

    async def events(self) -> SweepResult:
        return await self.jobs.events()

    def wake(self) -> None:
        """Run the event sweep and the calendar outbox now (a change was just recorded: its messages, and with
        Outlook its calendar write, which the turn left to the outbox), not at their next interval. A sweep already
        running finishes first; the events and outbox rows stay in the database either way."""
        self._wake("tsm.events", "tsm.calendar_outbox")

    def _wake(self, *job_ids: str) -> None:
        scheduler = self.scheduler
        if scheduler is None or not scheduler.running:
            return
        for job_id in job_ids:
            job = scheduler.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=datetime.now(UTC))

    async def reminders(self) -> SweepResult:
        return await self.jobs.reminders()

    async def meetings(self) -> SweepResult:
        result = await self.jobs.leader_unavailable()
        result.add(await self.jobs.meeting_ends())
        return result

    async def nudges(self) -> SweepResult:
        return await self.jobs.nudges()

    async def retries(self) -> SweepResult:
        return await self.jobs.retry_expired()

    async def calendar_outbox(self) -> int:
        done = await self.app.sync.process_due()
        if done:  # what Outlook answered may call for a message (a Teams TSM's join link): deliver it now
            self._wake("tsm.events")
        return done

    async def graph_subscriptions(self) -> dict[str, int] | None:
        """Once an hour across all workers: create and renew the officers' calendar subscriptions."""
        if self.watcher is None or not await self.ledger.once("graph_subscriptions", self._period(3600)):
            return None
        return await self.watcher.renew_subscriptions()

    async def graph_delta(self) -> dict[str, int] | None:
        """Once a quarter-hour across all workers: catch up on calendar changes notifications missed."""
        if self.watcher is None or not await self.ledger.once("graph_delta", self._period(900)):
            return None
        return await self.watcher.sweep_delta()

    async def ledger_purge(self) -> dict[str, int] | None:
        """Once a day across all workers: drop ledger rows finished more than 180 days ago, the chat's
        offers (the times a card offered, kept server-side) expired more than 30 days ago, and the files handed
        over as download links (``bot_file``: invitations, report CSVs) whose links have expired."""
        if not await self.ledger.once("ledger_purge", self._period(86400)):
            return None
        removed = {
            "ledger": await self.ledger.purge(),
            "offers": 0,
            "files": 0,
            "invitations": 0,
            "signin": 0,
            "history": 0,
        }
        try:
            removed["offers"] = await self._conversations().purge_offers()
        except Exception:  # the ledger's purge stands; the offers are tried again tomorrow
            log.exception("purging expired chat offers failed")
        try:
            removed["files"] = await self._purge_files()
        except Exception:  # tried again tomorrow; an expired link answers 410 meanwhile
            log.exception("purging expired download files failed")
        try:
            if (
                self.app.signin is not None
            ):  # the web page's spent or expired sign-in links and ended sessions
                removed["signin"] = await self.app.signin.purge()
        except Exception:  # tried again tomorrow; an ended session or spent link works nowhere meanwhile
            log.exception("purging ended web sessions and sign-in links failed")
        try:
            removed["invitations"] = purge_invitations(self.app, self.jobs.clock())
        except Exception:  # tried again tomorrow
            log.exception("purging old .ics invitations failed")
        try:
            removed["history"] = (await self.retention().purge()).total
        except Exception:  # tried again tomorrow; old history only costs space meanwhile
            log.exception("purging history past TSM_RETENTION_YEARS failed")
        if any(removed.values()):
            log.info(
                "housekeeping: %d ledger rows, %d expired chat offers, %d expired files, %d old .ics invitations, "
                "%d ended web sessions and sign-in links, %d rows of history past the retention period removed",
                removed["ledger"],
                removed["offers"],
                removed["files"],
                removed["invitations"],
                removed["signin"],
                removed["history"],
            )
        return removed

    def retention(self) -> Retention:
        """The history's retention (``scheduler.retention``): TSM_RETENTION_YEARS, the audit log by the LAs' profiles."""
        return Retention(
            self.app.db,
            clock=self.jobs.clock,
            years=self.app.settings.retention_years,
            policy=self.app.reference.policy,
        )

    async def _purge_files(self) -> int:
        from sqlalchemy import delete

        from tsm.adapters.db.teams import BotFile

        async with self.app.db.transaction() as s:
            result = await s.exec(
                delete(BotFile)
                .where(BotFile.expires_at < self.jobs.clock())
                .execution_options(synchronize_session=False)
            )
            return result.rowcount or 0

    def _conversations(self):
        return self.app.conversation

    def _period(self, seconds: int) -> str:
        now = self.jobs.clock()
        return str(int(now.timestamp()) // seconds)

    def sweeps(self) -> dict[str, tuple[Callable[[], Awaitable[object]], int]]:
        """Stable job id -> (coroutine function, interval in seconds)."""
        i = self.intervals
        sweeps: dict[str, tuple[Callable[[], Awaitable[object]], int]] = {
            "tsm.events": (self.events, i.events),
            "tsm.reminders": (self.reminders, i.reminders),
            "tsm.meetings": (self.meetings, i.meetings),
            "tsm.nudges": (self.nudges, i.nudges),
            "tsm.retries": (self.retries, i.retries),
            "tsm.calendar_outbox": (self.calendar_outbox, i.calendar_outbox),
            "tsm.ledger_purge": (self.ledger_purge, i.ledger_purge),
            # Issue 6: the evaluation reminder, action reminders and the feedback retention purge.
            "tsm.feedback": feedback_sweep(self),
        }
        if self.watcher is not None:
            settings = self.app.settings
            if settings.graph_notification_url and settings.graph_client_state.get_secret_value():
                sweeps["tsm.graph_subscriptions"] = (self.graph_subscriptions, i.graph_subscriptions)
            else:
                log.warning(
                    "Outlook change notifications are off (TSM_GRAPH_NOTIFICATION_URL or "
                    "TSM_GRAPH_CLIENT_STATE unset): calendar changes arrive by the delta sweep only"
                )
            sweeps["tsm.graph_delta"] = (self.graph_delta, i.graph_delta)
        return {job_id: (self._tracked(job_id, fn), seconds) for job_id, (fn, seconds) in sweeps.items()}

    def _tracked(self, job_id: str, fn: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[object]]:
        """Keeps the running sweeps' tasks (for a graceful shutdown) and logs what a sweep did (counts only)."""

        async def run() -> object:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                result = await fn()
                if isinstance(result, SweepResult) and result.claimed:
                    log.info(
                        "%s: claimed %d, sent %d, skipped %d, undeliverable %d, retry %d, failed %d, lost %d",
                        job_id,
                        result.claimed,
                        result.sent,
                        result.skipped,
                        result.undeliverable,
                        result.retry,
                        result.failed,
                        result.lost,
                    )
                return result
            finally:
                if task is not None:
                    self._running.discard(task)

        run.__name__ = job_id
        return run

    # ------------------------------------------------------------------ life cycle

    @property
    def running(self) -> bool:
        return self.scheduler is not None and self.scheduler.running

    async def start(self) -> None:
        """Start the sweeps (each runs at once, then at its interval). Call from inside the event loop."""
        if self.running:
            return
        self.scheduler = build_scheduler(self.sweeps())
        self.scheduler.start()
        log.info(
            "scheduler started as %s with jobs %s",
            self.worker_id,
            ", ".join(job.id for job in self.scheduler.get_jobs()),
        )

    async def shutdown(self, grace: float = 30.0) -> None:
        """Stop waking sweeps; let running ones finish for up to ``grace`` seconds, then cancel them. What a
        cancelled sweep had claimed but not sent is taken over by any worker once its lease runs out."""
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            scheduler.pause()  # no new runs; APScheduler's own shutdown would cancel the running ones at once
        running = {t for t in self._running if not t.done()}
        if running:
            log.info("waiting for %d running sweep(s) to finish", len(running))
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
                log.warning(
                    "%d sweep(s) cancelled at shutdown; their claims are retried after the lease",
                    len(pending),
                )
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        self.scheduler = None


def purge_invitations(app, now) -> int:
    """The local calendar's ``.ics`` files older than ``TSM_INVITATIONS_RETENTION_DAYS`` deleted (0 with Outlook)."""
    from datetime import timedelta

    purge = getattr(app.calendar, "purge_invitations", None)
    if purge is None:
        return 0
    return purge(now, timedelta(days=app.settings.invitations_retention_days))
