"""``tsm worker``: the scheduler as its own process (production), next to bot instances run with
``TSM_RUN_SCHEDULER=false``. An entry point: everything is built by the composition root
(``compose(settings, role="worker")``: the App, its own Teams messenger, the sweeps, the Graph watcher); this
module only checks the database, runs the sweeps until SIGTERM/SIGINT, and closes what was built.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from scheduler.service import SweepIntervals

from .adapters.db.migrate import alembic_config, current
from .clock import Clock
from .composition import compose
from .domain.errors import TsmError
from .messaging import MessengerPort
from .observability import start_metrics_server
from .settings import Settings

log = logging.getLogger(__name__)


async def run_worker(
    settings: Settings,
    *,
    worker_id: str | None = None,
    messenger: MessengerPort | None = None,
    stop: asyncio.Event | None = None,
    intervals: SweepIntervals | None = None,
    clock: Clock | None = None,
) -> None:
    """Run the sweeps, sending through the Teams messenger (or ``messenger``: tests), until SIGTERM or SIGINT (or
    ``stop`` is set); then running sweeps finish and everything built here is closed."""
    check_database(settings)
    built = compose(
        settings, role="worker", clock=clock, messenger=messenger, worker_id=worker_id, intervals=intervals
    )
    service = built.scheduler
    assert service is not None  # the worker role always has one
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    metrics_server = None
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
                handled.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
                pass
        await service.start()
        if (
            settings.worker_metrics_port and built.app.metrics is not None
        ):  # Prometheus /metrics for this worker
            metrics_server = await start_metrics_server(
                built.app.metrics,
                host=settings.host,
                port=settings.worker_metrics_port,
                token=settings.metrics_token.get_secret_value(),
                healthy=lambda: service.running,
            )
        await stop.wait()
        log.info("scheduler worker %s stopping", service.worker_id)
    finally:
        if metrics_server is not None:
            await metrics_server.cleanup()
        for sig in handled:
            loop.remove_signal_handler(sig)
        await built.close()


def check_database(settings: Settings) -> None:
    """The worker needs the database reachable and at the code's migration (it never migrates it itself)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the version check is not news
    head = _migration_head()
    try:
        at = current(settings.database_url)
    except SQLAlchemyError as exc:  # the URL may hold a password: not repeated here
        raise TsmError(
            f"Cannot open the database ({type(exc).__name__}): check TSM_DATABASE_URL, and that the "
            "database server is running."
        ) from exc
    if at != head:
        raise TsmError(
            f"The database is at migration {at or 'none'}, not {head}: run `tsm db upgrade` first."
        )


def _migration_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite:///unused.db")).get_current_head()
