"""``POST /api/graph/notifications``: Microsoft Graph's change and lifecycle notifications for officers' calendars.

Graph calls this endpoint in two ways:

- the **validation handshake** when a subscription is created or its URL changed: ``?validationToken=...``, to be
  echoed as ``text/plain`` with 200 within 10 seconds;
- **notifications**: ``{"value": [{subscriptionId, clientState, changeType, resourceData, ...}, ...]}``, to be
  acknowledged within 3 seconds. Each item's ``clientState`` must be our secret (``watcher.accepts``); items that
  fail the check are dropped and logged at WARNING (never the secret, never the body). The answer is 202 at once;
  :meth:`~tsm.adapters.calendar_graph.GraphWatcher.handle` runs afterwards in a background task.

Malformed bodies answer 400 and oversized ones 413: this endpoint never answers 500, so Graph does not retry junk.

Mounting (the main server)::

    receiver = GraphNotificationReceiver(watcher)
    app.add_routes(receiver.routes())
    app.on_shutdown.append(receiver.on_shutdown)   # waits for notifications still being processed

or, when the server keeps its own background tasks, ``app.add_routes(graph_routes(watcher, spawn=my_spawn))``.
Nothing here imports msgraph: the watcher is the only thing that knows Graph.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

log = logging.getLogger(__name__)

PATH = "/api/graph/notifications"
MAX_BODY_BYTES = 1_000_000  # Graph batches at most a few hundred small items; anything bigger is not Graph
MAX_TOKEN_CHARS = 2_000
MAX_CONCURRENT = 4  # notification batches processed at once (each touches the database and Graph)


class NotificationWatcher(Protocol):
    """What the receiver needs (``GraphWatcher`` provides it)."""

    def accepts(self, client_state: object) -> bool: ...

    async def handle(self, items: list[dict[str, Any]]) -> Any: ...


Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GraphNotificationReceiver:
    """The notification endpoint for one watcher. Keeps a reference to every background task it starts (unless
    ``spawn`` is given: then the caller owns them) so none is garbage-collected mid-way, and :meth:`drain` waits
    for them (server shutdown, tests)."""

    def __init__(
        self,
        watcher: NotificationWatcher,
        *,
        spawn: Spawn | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
        max_concurrent: int = MAX_CONCURRENT,
        path: str = PATH,
    ) -> None:
        self.watcher = watcher
        self.path = path
        self.max_body_bytes = max_body_bytes
        self._spawn = spawn
        self._tasks: set[asyncio.Task] = set()
        self._limit = asyncio.Semaphore(max_concurrent)
        self.stats = {"requests": 0, "validations": 0, "accepted": 0, "rejected": 0, "failed": 0}

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.handle_request)]

    @property
    def pending(self) -> int:
        """Background tasks started here and not finished yet."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for the background processing started so far (and any it started meanwhile); callers bound the
        wait with ``asyncio.timeout``."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def on_shutdown(self, app: web.Application | None = None) -> None:
        """For ``app.on_shutdown``: give running notifications a few seconds, then cancel what is left (the delta
        sweep catches up with anything lost)."""
        try:
            async with asyncio.timeout(5.0):
                await self.drain()
        except TimeoutError:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # ------------------------------------------------------------------ HTTP

    async def handle_request(self, request: web.Request) -> web.Response:
        self.stats["requests"] += 1
        if "validationToken" in request.query:
            return self._validation(request.query["validationToken"])
        try:
            items = await self._items(request)
        except _BadRequest as bad:
            log.warning("Graph notification refused: %s (%s)", bad.reason, bad.status)
            return web.Response(status=bad.status, text=bad.reason, content_type="text/plain")
        good = [item for item in items if self.watcher.accepts(item.get("clientState"))]
        rejected = len(items) - len(good)
        if rejected:
            self.stats["rejected"] += rejected
            log.warning(
                "ignored %d Graph notification(s) with a missing or wrong clientState (from %s)",
                rejected,
                request.remote,
            )
        if good:
            self.stats["accepted"] += len(good)
            self._start(self._process(good))
        return web.Response(status=202)

    def _validation(self, token: str) -> web.Response:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return web.Response(status=400, text="bad validationToken", content_type="text/plain")
        self.stats["validations"] += 1
        log.info("answered Graph's subscription validation request")
        return web.Response(
            status=200, text=token, content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"}
        )

    async def _items(self, request: web.Request) -> list[dict[str, Any]]:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise _BadRequest(413, "body too large")
        raw = bytearray()
        try:
            while True:
                chunk = await request.content.read(64 * 1024)
                if not chunk:
                    break
                raw += chunk
                if len(raw) > self.max_body_bytes:
                    raise _BadRequest(413, "body too large")
        except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            raise _BadRequest(400, f"body could not be read ({type(exc).__name__})") from None
        try:
            body = json.loads(bytes(raw))
        except (ValueError, RecursionError):
            raise _BadRequest(400, "body is not JSON") from None
        values = body.get("value") if isinstance(body, dict) else None
        if not isinstance(values, list):
            raise _BadRequest(400, "body is not a notification collection")
        return [item for item in values if isinstance(item, dict)]

    # ------------------------------------------------------------------ background work

    def _start(self, coro: Coroutine[Any, Any, Any]) -> None:
        if self._spawn is not None:
            self._spawn(coro)
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _process(self, items: list[dict[str, Any]]) -> None:
        async with self._limit:
            try:
                counts = await self.watcher.handle(items)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the delta sweep repairs what a failed batch missed
                self.stats["failed"] += 1
                log.error(
                    "processing %d Graph notification(s) failed: %s",
                    len(items),
                    type(exc).__name__,
                    exc_info=True,
                )
                return
            log.debug("Graph notifications processed: %s", counts)


def graph_routes(
    watcher: NotificationWatcher, *, spawn: Spawn | None = None, max_body_bytes: int = MAX_BODY_BYTES
) -> list[web.RouteDef]:
    """``POST /api/graph/notifications`` for ``watcher``, ready for ``app.add_routes``. Background processing runs
    in tasks this module keeps referenced, or through ``spawn(coro)`` when the server wants to own (and drain) them;
    use :class:`GraphNotificationReceiver` directly to be able to :meth:`~GraphNotificationReceiver.drain`."""
    return GraphNotificationReceiver(watcher, spawn=spawn, max_body_bytes=max_body_bytes).routes()


__all__ = ["PATH", "GraphNotificationReceiver", "NotificationWatcher", "graph_routes"]
