"""The gate in front of the Bot Framework SDK's token validation: nothing the SDK would fetch blocks the event loop.

The SDK (botframework-connector 4.17) validates a token against OpenID metadata it fetches with blocking
``requests`` calls, without a timeout, inside the event loop; it picks the metadata by what the *unverified* token
says (an emulator issuer, or a "skill" token's claims, send it to another issuer's metadata); and it forgets a
failed fetch, so every request retries it. One forged token froze the bot for seconds. So, before the SDK sees a
token, :class:`TokenGate`:

1. refuses anything but ``Bearer <JWT>`` whose issuer is the Bot Connector's (``https://api.botframework.com``),
   with no fetch at all: Bot Framework Emulator tokens (they authenticated, then failed with a 500 on
   ``Invalid app_id``) and skill tokens (this bot is no skill host) get a 401 and a sentence;
2. makes sure the channel's signing keys are in the SDK's own cache and fresh, fetching them with aiohttp (never
   blocking the loop) with a timeout, one fetch at a time; a failed fetch is remembered for ``retry_after`` seconds
   (meanwhile 503 at once, no new fetch); a key id that is not among the keys refreshes them at most once every
   ``unknown_kid_every`` seconds, else 401 at once.

Only then does the SDK validate the token (signature, audience, expiry, endorsements, the ``serviceurl`` claim),
and it finds the keys fresh, so it fetches nothing itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp
import jwt
from botframework.connector.auth import AuthenticationConstants, EmulatorValidation
from botframework.connector.auth.jwt_token_extractor import JwtTokenExtractor

log = logging.getLogger(__name__)

CHANNEL_ISSUER = AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER  # https://api.botframework.com
SDK_KEY_AGE = timedelta(days=1)  # the SDK refreshes (blocking) keys older than this: ours never get that old
FRESH_FOR = timedelta(hours=20)


class Refused(Exception):
    """The request is refused before any validation: its HTTP status and the sentence to answer with."""

    def __init__(self, status: int, sentence: str) -> None:
        super().__init__(sentence)
        self.status = status
        self.sentence = sentence


NO_TOKEN = "This endpoint needs a Bot Framework token from Microsoft Teams (Authorization: Bearer ...)."
NOT_A_TOKEN = "The Authorization header does not hold a token this bot can read."
EMULATOR = (
    "Tokens from the Bot Framework Emulator are not accepted by a bot with an app id: only Microsoft Teams "
    "(the Bot Connector) may call it. Use the Emulator or the Agents Playground against a local bot "
    "without TSM_MICROSOFT_APP_ID."
)
OTHER_ISSUER = (
    "The token was not issued by the Bot Connector (https://api.botframework.com); nothing was done."
)
SKILL = "Skill tokens are not accepted: this bot only talks to Microsoft Teams."
UNKNOWN_KEY = "The token is signed with a key the Bot Connector does not publish; nothing was done."
KEYS_UNAVAILABLE = (
    "The Bot Connector's signing keys cannot be fetched just now, so the token cannot be checked; "
    "try again in a minute."
)


class SigningKeys:
    """The channel's signing keys in the SDK's own cache (``JwtTokenExtractor.metadataCache[url]``), fetched
    without blocking the loop, with a timeout, one fetch at a time, and failures remembered."""

    def __init__(
        self,
        metadata_url: str,
        *,
        timeout: float = 5.0,
        retry_after: float = 60.0,
        unknown_kid_every: float = 300.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = metadata_url
        self.timeout = timeout
        self.retry_after = retry_after
        self.unknown_kid_every = unknown_kid_every
        self.monotonic = monotonic
        self._inflight: asyncio.Task | None = None
        self._failed_at: float | None = None
        self._attempted_at: float | None = None

    def _cache(self):
        return JwtTokenExtractor.get_open_id_metadata(self.url)

    def kids(self) -> set[str]:
        return {k.get("kid") for k in (self._cache().keys or []) if isinstance(k, dict)}

    def fresh(self) -> bool:
        cache = self._cache()
        return bool(cache.keys) and cache.last_updated > datetime.now() - FRESH_FOR

    async def _fetch(self) -> int:
        limit = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=limit) as session:
            async with session.get(self.url) as resp:
                resp.raise_for_status()
                jwks_uri = (await resp.json(content_type=None))["jwks_uri"]
            async with session.get(jwks_uri) as resp:
                resp.raise_for_status()
                keys = (await resp.json(content_type=None))["keys"]
        if not isinstance(keys, list):
            raise ValueError("the key set is not a list")
        cache = self._cache()
        cache.keys = keys
        cache.last_updated = datetime.now()  # naive local time, as the SDK compares it
        return len(keys)

    async def refresh(self) -> int:
        """Fetch the keys now (joining a fetch already under way); raises what the fetch raised."""
        if self._inflight is None or self._inflight.done():
            self._attempted_at = self.monotonic()
            self._inflight = asyncio.get_running_loop().create_task(self._fetch())
        try:
            n = await asyncio.shield(self._inflight)
        except Exception:
            self._failed_at = self.monotonic()
            raise
        self._failed_at = None
        return n

    def _recently_failed(self) -> bool:
        return self._failed_at is not None and self.monotonic() - self._failed_at < self.retry_after

    async def ensure(self, kid: str | None) -> None:
        """The key ``kid`` is in the cache, fresh: else :class:`Refused` (401 for a key that is not published,
        503 while the keys cannot be fetched)."""
        if not self.fresh():
            if self._recently_failed():
                raise Refused(503, KEYS_UNAVAILABLE)
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("could not fetch the channel's signing keys (%s)", type(exc).__name__)
                raise Refused(503, KEYS_UNAVAILABLE) from None
        if kid in self.kids():
            return
        recently = (
            self._attempted_at is not None and self.monotonic() - self._attempted_at < self.unknown_kid_every
        )
        if recently or self._recently_failed():
            raise Refused(401, UNKNOWN_KEY)
        try:
            await self.refresh()
        except Exception as exc:
            log.warning("could not fetch the channel's signing keys (%s)", type(exc).__name__)
            raise Refused(503, KEYS_UNAVAILABLE) from None
        if kid not in self.kids():
            raise Refused(401, UNKNOWN_KEY)


class TokenGate:
    """What a request's ``Authorization`` must be before the SDK validates it (see the module's docstring)."""

    def __init__(self, keys: SigningKeys, *, issuer: str = CHANNEL_ISSUER) -> None:
        self.keys = keys
        self.issuer = issuer

    async def check(self, auth_header: str | None) -> None:
        scheme, _, token = (auth_header or "").partition(" ")
        token = token.strip()
        if scheme != "Bearer" or not token:
            raise Refused(401, NO_TOKEN)
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Refused(401, NOT_A_TOKEN) from None
        if not isinstance(claims, dict) or not isinstance(header, dict):
            raise Refused(401, NOT_A_TOKEN)
        iss = claims.get("iss")
        if iss != self.issuer:
            emulator = EmulatorValidation.TO_BOT_FROM_EMULATOR_TOKEN_VALIDATION_PARAMETERS.issuer
            raise Refused(401, EMULATOR if iss in emulator else OTHER_ISSUER)
        if _is_skill(claims):
            raise Refused(401, SKILL)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Refused(401, UNKNOWN_KEY)
        await self.keys.ensure(kid)


def _is_skill(claims: dict) -> bool:
    """The SDK's test (``SkillValidation.is_skill_claim``) on claims already decoded: such a token would be
    validated against another issuer's metadata."""
    if claims.get(AuthenticationConstants.APP_ID_CLAIM) == AuthenticationConstants.ANONYMOUS_SKILL_APP_ID:
        return True
    if AuthenticationConstants.VERSION_CLAIM not in claims:
        return False
    audience = claims.get(AuthenticationConstants.AUDIENCE_CLAIM)
    if not audience or audience == CHANNEL_ISSUER:
        return False
    app_id = claims.get(AuthenticationConstants.APP_ID_CLAIM) or claims.get(
        AuthenticationConstants.AUTHORIZED_PARTY
    )
    return bool(app_id) and app_id != audience


async def keep_fresh(keys: SigningKeys, *, every: float = 6 * 3600.0, first_wait: float = 0.0) -> None:
    """Refresh the keys every ``every`` seconds (a minute after a failure), so no turn waits for them."""
    await asyncio.sleep(first_wait)
    while True:
        try:
            n = await keys.refresh()
            log.info("channel signing keys refreshed (%d keys)", n)
            delay = every
        except Exception as exc:
            log.warning(
                "could not refresh the channel's signing keys (%s); retrying in a minute", type(exc).__name__
            )
            delay = 60.0
        await asyncio.sleep(delay)
