"""The bot's HTTP server: ``POST /api/messages`` (Teams), ``GET /healthz``, the ``.ics`` links, and, with the
Graph calendar and a notification URL, ``POST /api/graph/notifications``; in local mode, the local mailbox
(``/dev/mail``: ``tsm.web.dev_mail``); the in-process scheduler.

Everything is built by the composition root (``tsm.composition.compose(settings, role="server")``); this module
only serves it (:func:`web_app_for`), and nothing happens at import time. ``serve(settings)`` (``tsm run``)
composes, builds the web app and runs it on ``settings.host:settings.port``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiohttp import web
from sqlalchemy import text

from bot.auth import keep_fresh
from bot.service_urls import is_loopback_host

from .bootstrap import App
from .chat.router import Router
from .composition import Composition, compose
from .domain.errors import ServiceBusy
from .observability import add_metrics_route, configure_logging
from .settings import Settings
from .web.dev_mail import DevMailbox, dev_mail_enabled
from .web.graph_notifications import GraphNotificationReceiver
from .web.slow_clients import body_deadline, install_repeat_filter

log = logging.getLogger(__name__)

APP_KEY = web.AppKey("tsm.app", App)
RUNTIME_KEY = web.AppKey("tsm.bot", object)
STATE_KEY = web.AppKey("tsm.state", dict)
PURGE_EVERY = 3600.0


class StartupRefused(Exception):
    """The settings (or the database) say the bot must not serve as it stands: the sentence says what to change."""


def check_settings(settings: Settings) -> None:
    """Refuse to serve with settings that would be unsafe (issue 12): every problem found, in one message."""
    problems = []
    if settings.allowed_tenants:
        ids = " ".join(settings.allowed_tenants)
        problems.append(
            f"TSM_ALLOWED_TENANTS ({ids}) is no longer read: the Microsoft 365 tenants allowed to use the bot are kept "
            "in the database, each tied to what it vouches for. Register each one, e.g. `tsm tenants add <tenant id> "
            "la <LA code>` for the LA's own tenant and `tsm tenants add <tenant id> school <URN>` (or `trust <trust "
            "code>`) for a school's or trust's (docs/school-it.md), then remove TSM_ALLOWED_TENANTS."
        )
    if (
        not settings.microsoft_app_id
        and not is_loopback_host(settings.host)
        and not settings.insecure_no_auth_on_public_address
    ):
        problems.append(
            f"TSM_MICROSOFT_APP_ID is empty (the local no-auth mode: nobody is authenticated, anyone can act as "
            f"anyone) and TSM_HOST={settings.host} is not a loopback address. Set the app id (docs/deployment.md), "
            "or listen on 127.0.0.1; for a closed test network only, TSM_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS=true."
        )
    if settings.microsoft_app_id:
        url = settings.public_url.strip()
        if not url:
            problems.append(
                "TSM_MICROSOFT_APP_ID is set but TSM_PUBLIC_URL is empty: download links need the bot's "
                "public HTTPS address (e.g. https://tsm.la.gov.uk), never a request's Host header."
            )
        elif not url.startswith("https://"):
            problems.append(f"TSM_PUBLIC_URL ({url}) must be an https:// address in production.")
    if problems:
        raise StartupRefused("The bot will not start:\n- " + "\n- ".join(problems))


def build_web_app(
    app: App,
    *,
    router: Router | None = None,
    run_scheduler: bool | None = None,
    bot_options: dict | None = None,
    close_app: bool = False,
) -> web.Application:
    """The aiohttp application serving the bot for an ``app`` already built (tests, benchmarks): the rest is
    composed by the composition root (``compose(app=app, role="server", ...)``, which see for the options).
    ``close_app``: close ``app`` (database, calendar) when the web app shuts down."""
    built = compose(
        app=app, role="server", router=router, run_scheduler=run_scheduler, bot_options=bot_options
    )
    return web_app_for(built, close_app=close_app)


def web_app_for(built: Composition, *, close_app: bool = False) -> web.Application:
    """The HTTP side of a server composition: Teams' endpoint and the file links, ``/healthz``, ``/metrics``, the
    Graph notification route (with the Outlook calendar and a notification URL); the sweeps started with it."""
    app, runtime = built.app, built.bot
    assert runtime is not None, "a server composition has the Teams bot"
    settings = app.settings
    check_settings(settings)
    web_app = web.Application(
        client_max_size=runtime.max_body + 64 * 1024,
        middlewares=[_busy_is_503, body_deadline(settings.http_body_timeout)],
    )
    web_app[APP_KEY] = app
    web_app[RUNTIME_KEY] = runtime
    state: dict[str, Any] = {
        "scheduler": built.scheduler,
        "watcher": built.watcher,
        "graph_route": False,
        "tasks": set(),
        "started": time.time(),
    }
    web_app[STATE_KEY] = state
    web_app.add_routes(runtime.routes())
    web_app.add_routes([web.get("/healthz", _healthz)])
    if dev_mail_enabled(
        settings
    ):  # local mode: the emails written under var/mail, for a person trying the product
        web_app.add_routes(DevMailbox(settings.mail_dir).routes())
    if built.web is not None:  # the page for school staff, opened from a sign-in link (/web/)
        web_app.add_routes(built.web.routes())
    if app.metrics is not None:
        add_metrics_route(web_app, app.metrics, token=settings.metrics_token.get_secret_value())
    if built.watcher is not None and settings.graph_notification_url:
        receiver = GraphNotificationReceiver(built.watcher)
        web_app.add_routes(receiver.routes())
        web_app.on_shutdown.append(receiver.on_shutdown)
        state["graph_route"] = True

    async def on_startup(_web_app: web.Application) -> None:
        gate = runtime.tenant_gate
        if gate is not None:
            try:
                ids = await gate.load()
            except (
                Exception
            ) as exc:  # the database is down: start anyway (/healthz says so); the gate stays closed
                log.warning(
                    "could not read the registered tenants (%s); reading them again in %.0f s",
                    type(exc).__name__,
                    gate.every,
                )
                ids = None
            if ids is not None and not ids and runtime.adapter.auth_enabled:
                await on_cleanup(
                    _web_app
                )  # aiohttp runs no cleanup when the start-up fails: close what was built
                raise StartupRefused(
                    "The bot will not start: TSM_MICROSOFT_APP_ID is set but no Microsoft 365 tenant is registered, so "
                    "nobody could use it. Register the LA's tenant (`tsm tenants add <tenant id> la <LA code>`) and "
                    "each school's or trust's (docs/school-it.md)."
                )
            state["tasks"].add(asyncio.get_running_loop().create_task(gate.keep_fresh()))
        if built.scheduler is not None:
            await built.scheduler.start()
            log.info("in-process scheduler started")
        state["tasks"].add(asyncio.get_running_loop().create_task(_purge_loop(runtime)))
        if runtime.adapter.gate is not None:  # the channel's signing keys fetched before any turn needs them
            state["tasks"].add(asyncio.get_running_loop().create_task(keep_fresh(runtime.adapter.gate.keys)))

    async def on_cleanup(_web_app: web.Application) -> None:
        tasks = list(state["tasks"])
        for task in tasks:
            task.cancel()
        # Wait for them: a purge cancelled mid-query must let go of its connection before the engine is disposed,
        # or SQLAlchemy closes it later from the garbage collector, in a task that can outlive the event loop.
        await asyncio.gather(*tasks, return_exceptions=True)
        await built.close(app=close_app)  # the sweeps (running ones finish), the Teams connections, the App

    web_app.on_startup.append(on_startup)
    web_app.on_cleanup.append(on_cleanup)
    return web_app


@web.middleware
async def _busy_is_503(request: web.Request, handler) -> web.StreamResponse:
    """A database locked by someone else (ServiceBusy), on any route (the web page, the links, Graph's
    notifications; /api/messages answers it itself): 503 with Retry-After and a sentence, nothing changed."""
    try:
        return await handler(request)
    except ServiceBusy as exc:
        log.warning("request refused: the database is busy (%s %s)", request.method, request.path)
        return web.Response(status=503, text=str(exc), headers={"Retry-After": str(exc.retry_after)})


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
        # SELECT 1 answers while another process holds SQLite's write lock: check a write could start too.
        db_ok, db_detail = await app.db.can_write(wait=1.0)
        if not db_ok:
            db_detail = f"cannot write ({db_detail})"
    except Exception as exc:
        db_ok, db_detail = False, type(exc).__name__
    service = state["scheduler"]
    scheduler = {"enabled": settings.run_scheduler, "running": bool(service and service.running)}
    graph: dict[str, Any] = {
        "configured": settings.calendar_backend == "graph",
        "notifications": state["graph_route"],
    }
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
    body = {
        "status": "ok" if ok else "degraded",
        "database": {"ok": db_ok, "detail": db_detail, "backend": app.db.backend},
        "scheduler": scheduler,
        "graph": graph,
        "auth": "bot-framework" if settings.microsoft_app_id else "none (local mode)",
        "uptime_seconds": round(time.time() - state["started"], 1),
    }
    return web.json_response(body, status=200 if ok else 503)


def serve(settings: Settings) -> None:
    """Build everything from ``settings`` (the composition root) and serve until interrupted (``tsm run``)."""
    configure_logging(
        settings.log_level, settings.log_format
    )  # JSON lines with TSM_LOG_FORMAT=json; secrets redacted
    install_repeat_filter()  # a flood of the same failure (accept() out of descriptors...) logs one line per 10 s

    async def make() -> web.Application:
        check_settings(
            settings
        )  # before anything is built (web_app_for checks again, for every other caller)
        return web_app_for(compose(settings, role="server"), close_app=True)

    if (
        not settings.microsoft_app_id
        and not is_loopback_host(settings.host)
        and settings.insecure_no_auth_on_public_address
    ):
        log.error(
            "INSECURE: TSM_INSECURE_NO_AUTH_ON_PUBLIC_ADDRESS is set: serving WITHOUT authentication on %s, where "
            "anyone who reaches it can act as anyone. Never in production.",
            settings.host,
        )
    elif not settings.microsoft_app_id:
        log.warning("No TSM_MICROSOFT_APP_ID: serving WITHOUT Bot Framework authentication (local use only)")
    elif not settings.microsoft_app_password.get_secret_value():
        log.error(
            "TSM_MICROSOFT_APP_ID is set but TSM_MICROSOFT_APP_PASSWORD is empty: the bot cannot get a token "
            "to answer Teams"
        )
    web.run_app(
        make(),
        host=settings.host,
        port=settings.port,
        print=lambda m: log.info("%s", m),
        access_log=None,
        keepalive_timeout=settings.http_header_timeout,
    )  # the header timeout too
