"""APScheduler wiring: a few sweep jobs with stable ids. APScheduler only wakes them; the database
holds what is due, so a restart loses nothing and a second worker never sends twice."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def build_scheduler(sweeps: dict[str, tuple[Callable[[], Awaitable[object]], int]]) -> AsyncIOScheduler:
    """``sweeps``: stable job id -> (coroutine function, interval in seconds)."""
    # APScheduler logs every wake-up at INFO ("Running job ...", "executed successfully"): each sweep logs its own
    # counts when it did something, so only APScheduler's warnings (missed runs, errors) are kept.
    for name in ("apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(timezone=UTC)
    for job_id, (fn, seconds) in sweeps.items():
        scheduler.add_job(
            _guarded(job_id, fn),
            "interval",
            seconds=seconds,
            id=job_id,
            name=job_id,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    return scheduler


def _guarded(job_id: str, fn: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            await fn()
        except Exception:  # a failing sweep is logged and tried again at its next interval
            log.exception("job %s failed", job_id)

    run.__name__ = job_id
    return run
