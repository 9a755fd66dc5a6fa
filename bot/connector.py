"""Outbound calls to the Bot Connector: one ConnectorClient per (app id, serviceUrl, audience), over aiohttp.

The SDK's defaults build, for every turn, a new msrest ``ConnectorClient`` and a user-token client, and send
each reply through ``requests`` in a thread pool on a new TCP connection (most of an echo turn's CPU, see the
platform notes). Here the :class:`PooledAuthentication` wraps the configured ``BotFrameworkAuthentication``:

- inbound JWT validation is the SDK's own, untouched (``authenticate_request``);
- the connector factory it hands out returns a cached client per (app id, serviceUrl, audience), whose
  pipeline sends through one shared ``aiohttp.ClientSession`` (keep-alive) and adds the bot's bearer token
  (MSAL-cached, refreshed off the event loop) when an app id is configured;
- the user-token client (only needed for OAuth sign-in, which this bot does not use) is built once per app id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import quote

import aiohttp
from botframework.connector import BotFrameworkConnectorConfiguration
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import (
    AppCredentials,
    AuthenticateRequestResult,
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ConnectorFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from msrest.pipeline import AsyncHTTPPolicy, AsyncHTTPSender, AsyncPipeline, Response
from msrest.pipeline.universal import RawDeserializer
from msrest.universal_http import ClientRequest
from msrest.universal_http.aiohttp import AioHttpClientResponse

log = logging.getLogger(__name__)

TOKEN_REUSE_SECONDS = 300.0  # MSAL caches tokens for ~1 h; we ask it again at most every 5 minutes


class _SharedSessionSender(AsyncHTTPSender):
    """The pipeline's last step: the request through one long-lived aiohttp session."""

    def __init__(self, pool: ConnectorPool) -> None:
        self.pool = pool

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def build_context(self) -> Any:
        return None

    async def send(self, request, **config: Any) -> Response:
        http: ClientRequest = request.http_request
        session = self.pool.session()
        data = http.data
        if isinstance(data, str):
            data = data.encode("utf-8")
        resp = await session.request(
            http.method, http.url, headers=dict(http.headers), data=data, timeout=self.pool.timeout
        )
        out = AioHttpClientResponse(http, resp)
        await out.load_body()
        return Response(request, out)


class _BearerPolicy(AsyncHTTPPolicy):
    """Adds ``Authorization: Bearer <bot token>`` when the bot has an app id (never in the local no-auth mode)."""

    def __init__(self, credentials: AppCredentials | None) -> None:
        super().__init__()
        self.credentials = credentials
        self._token: str | None = None
        self._token_at = 0.0

    async def _get_token(self) -> str:
        now = time.monotonic()
        if self._token is None or now - self._token_at > TOKEN_REUSE_SECONDS:
            # MSAL is synchronous and may call AAD: keep it off the event loop.
            self._token = await asyncio.to_thread(self.credentials.get_access_token)
            self._token_at = now
        return self._token

    async def authorization(self) -> str | None:
        creds = self.credentials
        if creds is not None and getattr(creds, "microsoft_app_id", "") and creds._should_set_token(None):
            return f"Bearer {await self._get_token()}"
        return None

    async def send(self, request, **kwargs):
        auth = await self.authorization()
        if auth:
            request.http_request.headers["Authorization"] = auth
        return await self.next.send(request, **kwargs)


class ConnectorPool:
    """Connector clients kept per (app id, serviceUrl, audience); one aiohttp session shared by all of them."""

    def __init__(self, *, max_clients: int = 1000, timeout_seconds: float = 30.0) -> None:
        self.max_clients = max_clients
        self.timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._clients: OrderedDict[tuple[str, str, str], ConnectorClient] = OrderedDict()
        self._session: aiohttp.ClientSession | None = None
        self.created = 0  # clients built so far (tests and the bench check reuse)

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, limit_per_host=64)
            )
        return self._session

    def get(
        self, app_id: str, service_url: str, audience: str, credentials: AppCredentials | None
    ) -> ConnectorClient:
        key = (app_id or "", service_url, audience or "")
        client = self._clients.pop(key, None)
        if client is None:
            client = self._build(service_url, credentials)
            self.created += 1
        self._clients[key] = client
        while len(self._clients) > self.max_clients:
            self._clients.popitem(last=False)
        return client

    def _build(self, service_url: str, credentials: AppCredentials | None) -> ConnectorClient:
        pool = self

        bearer = _BearerPolicy(credentials)

        def pipeline(config: BotFrameworkConnectorConfiguration) -> AsyncPipeline:
            return AsyncPipeline(
                [config.user_agent_policy, bearer, RawDeserializer(), config.http_logger_policy],
                _SharedSessionSender(pool),
            )

        # The credentials object is required by msrest's configuration; our pipeline signs requests itself.
        config = BotFrameworkConnectorConfiguration(
            credentials or _NoCredentials(), service_url, pipeline_type=pipeline
        )
        client = ConnectorClient(
            credentials or _NoCredentials(), base_url=service_url, custom_configuration=config
        )
        client.config.add_user_agent("tsm-bot")
        client.tsm_bearer = bearer  # used by post_activity to sign replies sent without msrest
        client.tsm_pool = self
        return client

    async def close(self) -> None:
        self._clients.clear()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


class _NoCredentials:
    microsoft_app_id = ""

    def signed_session(self, session=None):  # pragma: no cover - never called by our pipeline
        return session


class _PooledConnectorFactory(ConnectorFactory):
    def __init__(
        self,
        pool: ConnectorPool,
        credentials_factory: ServiceClientCredentialsFactory,
        app_id: str,
        default_audience: str,
        login_endpoint: str | None,
        validate_authority: bool,
    ) -> None:
        self.pool = pool
        self.credentials_factory = credentials_factory
        self.app_id = app_id or ""
        self.default_audience = default_audience
        self.login_endpoint = login_endpoint
        self.validate_authority = validate_authority
        self._creds: dict[str, AppCredentials] = {}

    async def create(self, service_url: str, audience: str = None) -> ConnectorClient:
        audience = audience or self.default_audience
        key = (self.app_id, service_url, audience or "")
        cached = self.pool._clients.get(key)
        if cached is not None:
            self.pool._clients.move_to_end(key)
            return cached
        creds = None
        if self.app_id:
            creds = await self.credentials_factory.create_credentials(
                self.app_id, audience, self.login_endpoint, self.validate_authority
            )
        return self.pool.get(self.app_id, service_url, audience, creds)


class _NoUserTokens(UserTokenClient):
    """This bot uses no OAuth sign-in: building the SDK's token client on every turn would be wasted work."""

    async def get_user_token(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError("user sign-in is not used by this bot")

    async def get_sign_in_resource(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError("user sign-in is not used by this bot")

    async def sign_out_user(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError("user sign-in is not used by this bot")

    async def get_token_status(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError("user sign-in is not used by this bot")

    async def get_aad_tokens(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError("user sign-in is not used by this bot")

    async def exchange_token(self, *a, **kw):  # pragma: no cover
        raise NotImplementedError("user sign-in is not used by this bot")


class PooledAuthentication(BotFrameworkAuthentication):
    """The SDK's authentication for inbound requests, with pooled outbound connector clients."""

    def __init__(
        self,
        inner: BotFrameworkAuthentication,
        credentials_factory: ServiceClientCredentialsFactory,
        pool: ConnectorPool,
    ) -> None:
        self.inner = inner
        self.credentials_factory = credentials_factory
        self.pool = pool
        impl = getattr(inner, "_inner", inner)  # ConfigurationBotFrameworkAuthentication wraps the real one
        self._login_endpoint = getattr(impl, "_to_channel_from_bot_login_url", None)
        self._validate_authority = getattr(impl, "_validate_authority", True)
        self._user_tokens = _NoUserTokens()

    def _factory(self, claims: ClaimsIdentity, audience: str | None) -> ConnectorFactory:
        from botframework.connector.auth._built_in_bot_framework_authentication import (
            _BuiltinBotFrameworkAuthentication,
        )

        app_id = _BuiltinBotFrameworkAuthentication.get_app_id(claims) or ""
        return _PooledConnectorFactory(
            self.pool,
            self.credentials_factory,
            app_id,
            audience or self.inner.get_originating_audience(),
            self._login_endpoint,
            self._validate_authority,
        )

    async def authenticate_request(self, activity, auth_header: str) -> AuthenticateRequestResult:
        result = await self.inner.authenticate_request(activity, auth_header)
        result.connector_factory = self._factory(result.claims_identity, result.audience)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str):
        return await self.inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        return self._factory(claims_identity, None)

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        return self._user_tokens

    def create_bot_framework_client(self):
        return self.inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        return self.inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await self.inner.authenticate_channel_request(auth_header)


class ReplyFailed(Exception):
    """The Bot Connector refused an activity: its status, Retry-After and error code (never the body's text)."""

    def __init__(self, status: int, retry_after: float | None = None, code: str = "") -> None:
        super().__init__(f"the Bot Connector answered HTTP {status} {code}".strip())
        self.status = status
        self.retry_after = retry_after
        self.code = code


async def post_activity(
    client: ConnectorClient, service_url: str, conversation_id: str, reply_to_id: str | None, activity: dict
) -> str | None:
    """Send one activity (a plain dict, already JSON-shaped) through the client's pool and credentials.

    The SDK's ``TurnContext.send_activity`` deep-copies the activity and msrest serialises it model by model
    (a card is walked key by key): for a card reply that is most of a turn's CPU. This posts the JSON as is,
    to the same endpoint (``/v3/conversations/{id}/activities[/{replyToId}]``), signed the same way.
    """
    pool: ConnectorPool = client.tsm_pool
    url = f"{service_url.rstrip('/')}/v3/conversations/{quote(conversation_id, safe='')}/activities"
    if reply_to_id:
        url += f"/{quote(reply_to_id, safe='')}"
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "tsm-bot"}
    auth = await client.tsm_bearer.authorization()
    if auth:
        headers["Authorization"] = auth
    async with pool.session().post(
        url, data=json.dumps(activity, separators=(",", ":")), headers=headers, timeout=pool.timeout
    ) as resp:
        if resp.status >= 300:
            retry_after = None
            try:
                retry_after = max(0.0, float(resp.headers.get("Retry-After", "")))
            except ValueError:
                pass
            code = ""
            try:
                err = (await resp.json(content_type=None) or {}).get("error") or {}
                code = str(err.get("code") or "")[:80] if isinstance(err, dict) else ""
            except (ValueError, AttributeError):
                pass
            raise ReplyFailed(resp.status, retry_after, code)
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            return None
        return body.get("id") if isinstance(body, dict) else None


def channel_metadata_url(authentication: BotFrameworkAuthentication) -> str:
    """The OpenID metadata URL whose keys sign the channel's tokens (the configured one, else the public cloud's)."""
    from botframework.connector.auth import AuthenticationConstants, ChannelValidation

    inner = getattr(authentication, "inner", authentication)
    impl = getattr(inner, "_inner", inner)
    return (
        getattr(impl, "_to_bot_from_channel_open_id_metadata_url", None)
        or ChannelValidation.open_id_metadata_endpoint
        or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    )
