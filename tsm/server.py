"""The bot's HTTP server: ``POST /api/messages`` (Teams), ``GET /healthz``, the ``.ics`` links, and, with the
Graph calendar and a notification URL, ``POST /api/graph/notifications``; the in-process scheduler.

Everything is built by :func:`build_web_app` from one composition root (``tsm.bootstrap.App``); nothing
happens at import time. ``serve(settings)`` (``tsm run``) builds the App, the web app, and runs it on
``settings.host:settings.port``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text

from .bootstrap import App, build_app
from .settings import Settings

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("tsm.app", App)
RUNTIME_KEY = web.AppKey("tsm.bot", object)
STATE_KEY = web.AppKey("tsm.state", dict)
PURGE_EVERY = 3600.0


def build_web_app(app: App, *, router=None, run_scheduler: bool | None = None, bot_options: dict | None = None,
                  close_app: bool = False) -> web.Application:
    """The aiohttp application serving the bot for ``app``.

    ``router``: the conversation router (default: ``tsm.chat.app.build_router()``, every feature).
    ``run_scheduler``: start the sweeps in this process (default ``settings.run_scheduler``).
    ``close_app``: close ``app`` (database, calendar) when the web app shuts down (``serve`` does).
    """
    from bot.runtime import build_bot_runtime  # bot/ is the only package importing botbuilder

    if router is None:
        from .chat.app import build_router

        router = build_router()
    settings = app.settings
    runtime = build_bot_runtime(app, router, **(bot_options or {}))
    web_app = web.Application(client_max_size=runtime.max_body + 64 * 1024)
    web_app[APP_KEY] = app
    web_app[RUNTIME_KEY] = runtime
    state: dict[str, Any] = {"scheduler": None, "watcher": None, "graph_route": False, "tasks": set(),
                             "started": time.time()}
    web_app[STATE_KEY] = state
    web_app.add_routes(runtime.routes())
    web_app.add_routes([web.get("/healthz", _healthz)])
    metrics = getattr(app, "metrics", None)
    if metrics is not None:
        from .observability import add_metrics_route

        token = getattr(settings, "metrics_token", None)
        add_metrics_route(web_app, metrics, token=token.get_secret_value() if token is not None else "")

    if settings.calendar_backend == "graph":
        state["watcher"] = _graph_watcher(app)
        if settings.graph_notification_url and state["watcher"] is not None:
            receiver = _graph_receiver(state["watcher"])
            if receiver is not None:
                web_app.add_routes(receiver.routes())
                web_app.on_shutdown.append(receiver.on_shutdown)
                state["graph_route"] = True

    scheduler_wanted = getattr(settings, "run_scheduler", True) if run_scheduler is None else run_scheduler

    async def on_startup(_web_app: web.Application) -> None:
        if scheduler_wanted:
            state["scheduler"] = await _start_scheduler(app, runtime.messenger, state["watcher"])
            runtime.bot.scheduler = state["scheduler"]
        state["tasks"].add(asyncio.get_running_loop().create_task(_purge_loop(runtime)))
        if runtime.adapter.auth_enabled:
            from bot.connector import channel_metadata_url, keep_signing_keys_fresh

            state["tasks"].add(asyncio.get_running_loop().create_task(
                keep_signing_keys_fresh(channel_metadata_url(runtime.adapter.bot_framework_authentication))))

    async def on_cleanup(_web_app: web.Application) -> None:
        tasks = list(state["tasks"])
        for task in tasks:
            task.cancel()
        # Wait for them: a purge cancelled mid-query must let go of its connection before the engine is disposed,
        # or SQLAlchemy closes it later from the garbage collector, in a task that can outlive the event loop.
        await asyncio.gather(*tasks, return_exceptions=True)
        service = state["scheduler"]
        if service is not None:
            await service.shutdown()
        await runtime.close()
        if close_app:
            await app.close()

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
    return web_app


def _graph_watcher(app: App):
    try:
        from .adapters.calendar_graph import build_graph_watcher
    except ImportError as exc:
        log.warning("Graph watcher unavailable (%s): no change notifications", exc)
        return None
    try:
        return build_graph_watcher(app)
    except Exception as exc:  # a misconfiguration is reported on /healthz, not a crash at start-up
        log.warning("Graph watcher not built (%s): no change notifications", type(exc).__name__)
        return None


def _graph_receiver(watcher):
    try:
        from .web.graph_notifications import GraphNotificationReceiver
    except ImportError:
        log.warning("tsm.web.graph_notifications is not there: the Graph notification route is not mounted")
        return None
    return GraphNotificationReceiver(watcher)


async def _start_scheduler(app: App, messenger, watcher):
    try:
        from scheduler.service import SchedulerService
    except ImportError as exc:
        log.warning("scheduler.service is not available (%s): the in-process scheduler is not started", exc)
        return None
    kwargs = {"watcher": watcher} if watcher is not None else {}
    service = SchedulerService(app, messenger, **kwargs)
    await service.start()
    log.info("in-process scheduler started")
    return service


async def _purge_loop(runtime) -> None:
    """Old idempotency claims are dropped once an hour (the channel redelivers within minutes)."""
    while True:
        try:
            removed = await runtime.store.purge_processed()
            if removed:
                log.info("purged %d processed-activity claims", removed)
        except Exception as exc:
            log.warning("purging processed activities failed (%s)", type(exc).__name__)
        await asyncio.sleep(PURGE_EVERY)


async def _healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    state = request.app[STATE_KEY]
    settings = app.settings
    db_ok, db_detail = True, "ok"
    try:
        async with asyncio.timeout(3):
            async with app.db.reader() as s:
                await s.exec(text("SELECT 1"))
    except Exception as exc:
        db_ok, db_detail = False, type(exc).__name__
    service = state["scheduler"]
    scheduler = {"enabled": getattr(settings, "run_scheduler", True), "running": bool(service and service.running)}
    graph: dict[str, Any] = {"configured": settings.calendar_backend == "graph",
                             "notifications": state["graph_route"]}
    if graph["configured"]:
        health = getattr(app.calendar, "health", None)
        if health is not None:
            try:
                async with asyncio.timeout(5):
                    answer = await health()  # GraphCalendar.health: one cheap call, its answer kept a minute
                if isinstance(answer, dict):
                    graph["ok"] = answer.get("ok") is True
                    graph.update({k: answer[k] for k in ("detail", "checked_at") if k in answer})
                else:
                    graph["ok"] = bool(answer)
            except Exception as exc:
                graph["ok"], graph["detail"] = False, type(exc).__name__
        graph["watcher"] = state["watcher"] is not None
    ok = db_ok and (not scheduler["enabled"] or scheduler["running"]) and graph.get("ok", True) is not False
    body = {"status": "ok" if ok else "degraded", "database": {"ok": db_ok, "detail": db_detail,
                                                                "backend": app.db.backend},
            "scheduler": scheduler, "graph": graph,
            "auth": "bot-framework" if settings.microsoft_app_id else "none (local mode)",
            "uptime_seconds": round(time.time() - state["started"], 1)}
    return web.json_response(body, status=200 if ok else 503)


def serve(settings: Settings) -> None:
    """Build everything from ``settings`` and serve until interrupted (``tsm run``)."""
    from .observability import configure_logging

    configure_logging(settings.log_level, settings.log_format)  # JSON lines with TSM_LOG_FORMAT=json; secrets redacted

    async def make() -> web.Application:
        app = build_app(settings)
        return build_web_app(app, close_app=True)

    if not settings.microsoft_app_id:
        log.warning("No TSM_MICROSOFT_APP_ID: serving WITHOUT Bot Framework authentication (local use only)")
    elif not settings.microsoft_app_password.get_secret_value():
        log.error("TSM_MICROSOFT_APP_ID is set but TSM_MICROSOFT_APP_PASSWORD is empty: the bot cannot get a token "
                  "to answer Teams")
    web.run_app(make(), host=settings.host, port=settings.port, print=lambda m: log.info("%s", m),
                access_log=None)
