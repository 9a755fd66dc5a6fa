"""The Teams transport assembled from one Settings: adapter, activity handler, messenger, and the HTTP endpoint.

``POST /api/messages`` is handled here rather than by ``CloudAdapter.process`` so that bad input never
becomes a 500: a body over ``max_body`` answers 413, a non-JSON content type 415, malformed JSON or an
activity without a type 400, a missing or bad Bot Framework token 401 (whenever an app id is configured),
a tenant not on the allow-list 403. An invoke's answer is serialised exactly once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
from aiohttp import web
from botbuilder.core import InvokeResponse
from botbuilder.integration.aiohttp import (
    CloudAdapter,
    ConfigurationBotFrameworkAuthentication,
    ConfigurationServiceClientCredentialFactory,
)
from botbuilder.schema import Activity

from tsm.chat import Router
from tsm.domain.errors import ServiceBusy
from tsm.ratelimit import SendLimiter

from .auth import CHANNEL_ISSUER, Refused, SigningKeys, TokenGate
from .connector import ConnectorPool, PooledAuthentication, channel_metadata_url
from .files import FileStore
from .handler import RAW_ACTIVITY, MeetingEnded, TenantNotAllowed, TsmTeamsBot
from .identity import AadResolver
from .messenger import TeamsMessenger
from .service_urls import ServiceUrls
from .store import BotStore
from .tenants import TenantGate

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # Teams caps a message at ~100 KB; anything much bigger is not from Teams


def bot_config(settings: Any) -> SimpleNamespace:
    """The SDK's configuration object from our Settings (empty app id = the local no-auth mode)."""
    password = settings.microsoft_app_password.get_secret_value() if settings.microsoft_app_password else ""
    tenant = settings.microsoft_app_tenant_id or ""
    return SimpleNamespace(
        APP_ID=settings.microsoft_app_id or "",
        APP_PASSWORD=password,
        APP_TYPE="SingleTenant" if tenant else "MultiTenant",
        APP_TENANTID=tenant,
    )


class TsmCloudAdapter(CloudAdapter):
    """CloudAdapter whose outbound connector clients are pooled (see ``bot/connector.py``)."""

    def __init__(self, settings: Any, pool: ConnectorPool, *, auth_overrides: dict | None = None) -> None:
        config = bot_config(settings)
        for key, value in (
            auth_overrides or {}
        ).items():  # the SDK's endpoints (tests: a local OpenID issuer)
            setattr(config, key, value)
        credentials = ConfigurationServiceClientCredentialFactory(config)
        inner = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
        super().__init__(PooledAuthentication(inner, credentials, pool))
        self.pool = pool
        self.auth_enabled = bool(config.APP_ID)
        self.app_id = config.APP_ID
        # What every token must pass before the SDK sees it (bot/auth.py); None in the local no-auth mode.
        self.gate = (
            TokenGate(
                SigningKeys(channel_metadata_url(self.bot_framework_authentication)),
                issuer=getattr(config, "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER", None) or CHANNEL_ISSUER,
            )
            if self.auth_enabled
            else None
        )


@dataclass
class BotRuntime:
    adapter: TsmCloudAdapter
    bot: TsmTeamsBot
    messenger: TeamsMessenger
    store: BotStore
    files: FileStore
    pool: ConnectorPool
    max_body: int = MAX_BODY
    service_urls: ServiceUrls | None = None  # the serviceUrls an activity may name (None: any, tests only)
    tenant_gate: TenantGate | None = None

    async def handle_messages(self, request: web.Request) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > self.max_body:
            return _error(413, "request body too large")
        try:
            body = await request.content.read(self.max_body + 1)
        except Exception:  # the client went away or sent a broken stream
            return _error(400, "unreadable request body")
        if len(body) > self.max_body:
            return _error(413, "request body too large")
        if "json" not in (request.headers.get("Content-Type") or "").lower():
            return _error(415, "expected application/json")
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "malformed JSON")
        except RecursionError:  # "[[[[...": nested deeper than the parser goes; no activity is
            return _error(400, "JSON nested too deeply")
        if not isinstance(payload, dict):
            return _error(400, "an activity is a JSON object")
        if not all(isinstance(payload.get(k), str | None) for k in ("type", "serviceUrl", "channelId", "id")):
            return _error(400, "an activity's type, id, channelId and serviceUrl are strings")
        if not all(isinstance(payload.get(k), dict | None) for k in ("conversation", "from", "recipient")):
            return _error(400, "an activity's conversation, from and recipient are objects")
        if _has_nul(payload):  # PostgreSQL's text cannot hold it, and no channel sends it
            return _error(400, "an activity cannot contain NUL characters")
        try:
            activity = Activity().deserialize(payload)
        except Exception:
            return _error(400, "not an activity")
        if not activity.type or not isinstance(activity.type, str):
            return _error(400, "an activity needs a type")
        if activity.type in ("message", "invoke", "conversationUpdate", "installationUpdate") and (
            not activity.service_url or activity.conversation is None or not activity.conversation.id
        ):
            return _error(400, "an activity needs a serviceUrl and a conversation")
        if (
            activity.service_url
            and self.service_urls is not None
            and not self.service_urls.allows(activity.service_url)
        ):
            log.warning(
                "activity refused: its serviceUrl is not a Teams service URL (type %s)", activity.type
            )
            return _error(
                403,
                "this bot answers only Microsoft Teams: the activity's serviceUrl is not a Teams service URL",
            )
        # In the local no-auth mode (no app id) any Authorization header is ignored: there is nothing to check it
        # against, and the SDK would otherwise try to validate it and fail. With an app id it is always checked.
        auth_header = (request.headers.get("Authorization") or None) if self.adapter.auth_enabled else None
        RAW_ACTIVITY.set(payload)
        if (
            self.adapter.gate is not None
        ):  # issuer, kind of token and signing keys, before the SDK fetches anything
            try:
                await self.adapter.gate.check(auth_header)
            except Refused as refused:
                return _error(refused.status, refused.sentence)
        try:
            # Authenticated here (None = no header: refused unless the local no-auth mode), then the turn.
            auth = await self.adapter.bot_framework_authentication.authenticate_request(activity, auth_header)
        except PermissionError:
            return _error(401, "unauthorized")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:  # the signing keys could not be fetched
            log.warning("cannot check the token now (%s)", type(exc).__name__)
            return _error(503, "cannot check the token now; try again")
        except Exception as exc:  # a token the validator cannot even parse
            log.warning("authentication failed (%s)", type(exc).__name__)
            return _error(401, "unauthorized")
        try:
            invoke_response: InvokeResponse | None = await self.adapter.process_activity(
                auth, activity, self.bot.on_turn
            )
        except PermissionError:
            return _error(401, "unauthorized")
        except TenantNotAllowed:
            return _error(403, "this bot is not available to your organisation")
        except ServiceBusy as exc:  # the database is locked by someone else: nothing was changed
            log.warning("turn refused: the database is busy (activity type %s)", activity.type)
            return web.json_response(
                {"error": str(exc)}, status=503, headers={"Retry-After": str(exc.retry_after)}
            )
        except Exception:
            log.exception("turn failed (activity type %s)", activity.type)
            return _error(500, "the turn failed")
        if invoke_response is not None:
            body = invoke_response.body
            if body is None:
                return web.Response(status=int(invoke_response.status))
            return web.json_response(body, status=int(invoke_response.status))
        return web.Response(status=200)

    def routes(self) -> list[web.RouteDef]:
        return [web.post("/api/messages", self.handle_messages), *self.files.routes()]

    async def close(self, grace: float = 5.0) -> None:
        """Let notifications still being sent finish (for up to ``grace`` seconds), then close the connections."""
        from .handler import _BACKGROUND

        pending = [t for t in _BACKGROUND if not t.done()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=grace)
            for t in late:
                t.cancel()
        await self.store.flush()
        await self.pool.close()


def _has_nul(value: Any) -> bool:
    """Whether a NUL character is in any string (key or value) of a parsed JSON document (walked without
    recursion: the parser already bounds the depth, this walk must not hit Python's limit either)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return True
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


@dataclass
class TeamsChannel:
    """The connection to Teams of one process: the adapter and its connection pool, the conversation store and
    the messenger (proactive sends), shared by the turns and the scheduler."""

    adapter: TsmCloudAdapter
    pool: ConnectorPool
    store: BotStore
    messenger: TeamsMessenger


def build_teams_channel(
    settings: Any,
    db: Any,
    *,
    limiter: SendLimiter | None = None,
    messenger_options: dict | None = None,
    auth_overrides: dict | None = None,
    owns_pool: bool = False,
) -> TeamsChannel:
    """The Teams channel from ``settings``. ``owns_pool``: the messenger closes the pool (a process that sends but
    serves no turns, ``tsm worker``); otherwise the bot runtime closes it."""
    pool = ConnectorPool()
    adapter = TsmCloudAdapter(settings, pool, auth_overrides=auth_overrides)
    store = BotStore(db)
    service_urls = ServiceUrls(settings.teams_service_urls, loopback=not adapter.auth_enabled)
    messenger = TeamsMessenger(
        adapter,
        store,
        app_id=adapter.app_id,
        limiter=limiter,
        owns_pool=owns_pool,
        service_urls=service_urls,
        **(messenger_options or {}),
    )
    return TeamsChannel(adapter, pool, store, messenger)


def build_messenger(app: Any) -> TeamsMessenger:
    """A messenger for a process that sends but serves no turns (``tsm worker``): its own adapter and pool,
    closed by :meth:`TeamsMessenger.close`."""
    return build_teams_channel(app.settings, app.db, owns_pool=True).messenger


def build_bot_runtime(
    app: Any,
    router: Router,
    channel: TeamsChannel,
    *,
    clock: Callable[[], datetime] | None = None,
    spawn=None,
    max_body: int = MAX_BODY,
    meeting_ended: MeetingEnded | None = None,
    on_change: Callable[[], None] | None = None,
) -> BotRuntime:
    """Everything between Teams and ``Router.dispatch`` for ``app`` (``tsm.bootstrap.App``), over ``channel``.
    ``meeting_ended`` and ``on_change`` are the ports the composition root plugs the scheduler into."""
    settings = app.settings
    # Links use the configured public URL, never a request's Host header (tsm.server refuses an app id without it).
    files = FileStore(
        app.db,
        public_url=settings.public_url or f"http://{settings.host}:{settings.port}",
        clock=clock or _clock_of(app),
    )
    gate = TenantGate(app.directory.tenants, auth_enabled=channel.adapter.auth_enabled)
    service_urls = ServiceUrls(settings.teams_service_urls, loopback=not channel.adapter.auth_enabled)
    bot = TsmTeamsBot(
        router=router,
        services=app,
        store=channel.store,
        files=files,
        clock=clock or _clock_of(app),
        tenant_gate=gate,
        messenger=channel.messenger,
        spawn=spawn,
        aad_resolver=AadResolver(app.db),
        meeting_ended=meeting_ended,
        on_change=on_change,
    )
    return BotRuntime(
        channel.adapter,
        bot,
        channel.messenger,
        channel.store,
        files,
        channel.pool,
        max_body,
        service_urls,
        gate,
    )


def _clock_of(app: Any) -> Callable[[], datetime]:
    return app.clock
