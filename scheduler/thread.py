"""The embedded scheduler in a thread of its own (``tsm run`` with ``TSM_RUN_SCHEDULER``, the default).

The sweeps run as a worker would (``tsm worker``): their own event loop, their own database engine and pool, their
own Teams connections and Outlook client, built in that thread by the composition root's worker composition. The
bot's event loop only serves turns: a sweep's CPU between two awaits, or a large result it turns into objects,
never holds a person's turn up behind it (issue 15: with the sweeps in the bot's loop, the book turn's p99 went from
162 ms to 1,047 ms). The database holds what is due, so the thread shares nothing with the bot but the database and
the clock; the bot wakes its event sweep and calendar outbox after a change (``wake``, thread-safe).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class _Built(Protocol):
    """What the factory returns: a worker composition (``tsm.composition.Composition``)."""

    scheduler: Any  # scheduler.service.SchedulerService

    async def close(self, *, app: bool = True) -> None: ...


class ThreadedScheduler:
    """Runs the sweeps of ``build()`` (called in the thread, inside its own loop) until :meth:`shutdown`."""

    def __init__(self, build: Callable[[], _Built], *, name: str = "tsm-scheduler") -> None:
        self._build = build
        self._name = name
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._built: _Built | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ what the server sees

    @property
    def running(self) -> bool:
        built = self._built
        return (
            self._thread is not None
            and self._thread.is_alive()
            and built is not None
            and bool(built.scheduler.running)
        )

    @property
    def worker_id(self) -> str:
        return self._built.scheduler.worker_id if self._built is not None else ""

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The sweeps' own event loop (not the bot's)."""
        return self._loop

    @property
    def service(self) -> Any:
        """The SchedulerService running in the thread (None before :meth:`start`)."""
        return self._built.scheduler if self._built is not None else None

    def wake(self) -> None:
        """From the bot's loop: run the event sweep and the calendar outbox now (``SchedulerService.wake``)."""
        loop, built = self._loop, self._built
        if loop is not None and built is not None and not loop.is_closed():
            loop.call_soon_threadsafe(built.scheduler.wake)

    async def start(self) -> None:
        """Start the thread and wait until its sweeps are scheduled (or its start-up failed: raised here)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._main, name=self._name, daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._started.wait)
        if self._error is not None:
            raise RuntimeError("the scheduler thread could not start") from self._error

    async def shutdown(self, grace: float = 30.0) -> None:
        """Stop the sweeps (running ones finish, as ``SchedulerService.shutdown``), close the thread's App, end it."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            self._grace = grace
            loop.call_soon_threadsafe(stop.set)
        await asyncio.to_thread(thread.join, grace + 30.0)
        if thread.is_alive():
            log.warning("the scheduler thread did not stop within %.0f s", grace + 30.0)
        self._thread = None

    # ------------------------------------------------------------------ the thread

    _grace: float = 30.0

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start(), or logged once running
            if not self._started.is_set():
                self._error = exc
            else:
                log.exception("the scheduler thread stopped with an error")
        finally:
            self._started.set()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        built = self._build()
        self._built = built
        try:
            await built.scheduler.start()
            self._started.set()
            await self._stop.wait()
            await built.scheduler.shutdown(self._grace)
        finally:
            await built.close()
