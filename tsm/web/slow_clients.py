"""Slow and abusive clients (issue 12 B8): time limits on what a client sends, and a cap on the log lines a flood
of failures can write.

aiohttp has no request-header timeout of its own; its keep-alive timer, armed when a connection opens and each
time it falls idle, closes a connection whose request has not fully arrived by then, so the keep-alive timeout is
the header timeout (``TSM_HTTP_HEADER_TIMEOUT``; aiohttp's default is an hour). The body has its own deadline
(:func:`body_deadline`, ``TSM_HTTP_BODY_TIMEOUT``): a request whose body has not all arrived by then is dropped.
Either way a slow client holds a connection (a file descriptor) for seconds, not for ever, so a few hundred of them
cannot lock everyone else out.

When descriptors do run out, asyncio logs every failed ``accept()`` (and a client flood can make every request
fail the same way): :class:`RepeatFilter` lets one line of a kind through per period and says how many it held back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

log = logging.getLogger(__name__)


def body_deadline(seconds: float) -> Callable:
    """Middleware: the request's body must have arrived ``seconds`` after its headers, or the connection is
    closed (the handler reading it sees the connection lost). Requests without a body, or whose body is already
    in, pass untouched; the stream is not read here, so handlers read it as before."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ):
        if not request.body_exists or request.content.is_eof():
            return await handler(request)

        def expire() -> None:
            if not request.content.is_eof() and request.transport is not None:
                log.warning("closed a connection whose request body did not arrive within %.0f s", seconds)
                request.transport.close()

        timer = asyncio.get_running_loop().call_later(seconds, expire)
        try:
            return await handler(request)
        finally:
            timer.cancel()

    return middleware


class RepeatFilter(logging.Filter):
    """Lets through one record per ``every`` seconds for each (logger, first line of the message); the next one
    let through says how many were held back. Records of other kinds are not delayed."""

    def __init__(
        self, every: float = 10.0, clock: Callable[[], float] = time.monotonic, max_keys: int = 1000
    ) -> None:
        super().__init__()
        self.every = every
        self.clock = clock
        self.max_keys = max_keys
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            first = str(record.msg).split("\n", 1)[0][:200]
        except Exception:  # noqa: BLE001 - a log filter never raises
            return True
        key = (record.name, first)
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        if len(self._seen) >= self.max_keys and key not in self._seen:
            self._seen.clear()  # many kinds of line: start over rather than grow without bound
        self._seen[key] = (now, 0)
        if held:  # said on the first line, where a reader (and a log search) sees it
            head, nl, rest = str(record.msg).partition("\n")
            record.msg = f"{head} ({held} similar lines in the last {self.every:.0f} s not logged){nl}{rest}"
        return True


def install_repeat_filter(every: float = 10.0) -> RepeatFilter:
    """The filter on the product's own handlers of the root logger (the ones ``configure_logging`` installs; ``tsm
    run`` calls it once logging is configured). Handlers someone else put there (a test runner's log capture, an
    embedding application's) are left alone: a filter on them would hide their repeated lines for ever."""
    f = RepeatFilter(every)
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_tsm_handler", False):
            handler.addFilter(f)
    return f
