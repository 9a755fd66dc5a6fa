"""Proactive messages through Teams: the :class:`tsm.messaging.MessengerPort` the scheduler and the turns use.

- The recipient's 1:1 conversation reference is looked up in ``bot_conversation`` (stored at install and on
  every message). None: ``NO_CONVERSATION`` (the app is not installed for that person yet).
- Every send waits for Teams' limits (``tsm.ratelimit.SendLimiter``: per conversation 7/s, 60/30 s, 1800/h;
  per tenant 50/s), shared by every sender in the process.
- 429 (and 412/502/503/504, timeouts, connection errors) are retried after ``Retry-After`` or an exponential
  backoff with jitter, a bounded number of times; a wait longer than ``max_wait`` is handed back as
  ``RETRY`` with ``retry_after`` so the caller's ledger tries later instead of holding a task.
- 403 (``MessageWritesBlocked``: the user blocked the bot, or it was uninstalled) is recorded on
  ``bot_conversation.blocked_at`` and never retried; later sends answer ``BLOCKED`` without calling Teams
  until the user writes to the bot again.

The message text is the notification preview; it is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

import aiohttp
from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ConversationReference
from msrest.exceptions import ClientRequestError, HttpOperationError

from tsm.messaging import Message, Recipient, SendResult, SendStatus
from tsm.ratelimit import SendLimiter

from .connector import ReplyFailed, post_activity
from .handler import CARD_CONTENT_TYPE
from .store import BotStore

log = logging.getLogger(__name__)

RETRYABLE = frozenset({412, 429, 502, 503, 504})


class TeamsMessenger:
    def __init__(
        self,
        adapter: Any,
        store: BotStore,
        *,
        app_id: str = "",
        limiter: SendLimiter | None = None,
        max_attempts: int = 4,
        base_backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
        owns_pool: bool = False,
        service_urls: Any = None,
    ) -> None:
        self.adapter = adapter
        # bot.service_urls.ServiceUrls: a stored conversation whose serviceUrl is not Teams' (kept before the
        # allow-list existed) is never written to. None: any (tests of the messenger alone).
        self.service_urls = service_urls
        # True when this messenger's adapter and connection pool are its own (``tsm worker``): ``close`` closes
        # them. The server's messenger shares the turns' pool, which the bot runtime closes.
        self.owns_pool = owns_pool
        self.store = store
        self.app_id = app_id
        self.limiter = limiter or SendLimiter()
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.max_wait = max_wait
        self.sleep = sleep
        self.stats = {"sent": 0, "retried": 0, "blocked": 0, "failed": 0, "no_conversation": 0}

    async def send(self, recipient: Recipient, message: Message) -> SendResult:
        if recipient.kind not in (
            "contact",
            "officer",
        ):  # an invitee by address only (an invitation): email's
            return SendResult(SendStatus.NO_CONVERSATION, "not a person the bot can reach in Teams")
        conv = await self.store.conversation_for(recipient.kind, recipient.id)
        if conv is None:
            self.stats["no_conversation"] += 1
            return SendResult(SendStatus.NO_CONVERSATION, "the app is not installed for this person")
        if conv.blocked_at is not None:
            self.stats["blocked"] += 1
            return SendResult(SendStatus.BLOCKED, "blocked or uninstalled (recorded earlier)")
        if self.service_urls is not None and not self.service_urls.allows(conv.service_url):
            self.stats["no_conversation"] += 1
            return SendResult(
                SendStatus.NO_CONVERSATION, "the stored conversation's serviceUrl is not a Teams service URL"
            )
        reference = ConversationReference().deserialize(conv.reference)
        body = to_activity(message)
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(conv.tenant_id, conv.conversation_id)
            try:
                await self.adapter.continue_conversation(
                    reference, _sender(body, conv.reference), bot_app_id=self.app_id
                )
                self.stats["sent"] += 1
                return SendResult(SendStatus.SENT)
            except (HttpOperationError, ReplyFailed) as exc:
                status, retry_after, code = (
                    (exc.status, exc.retry_after, exc.code)
                    if isinstance(exc, ReplyFailed)
                    else _status_of(exc)
                )
                if status == 403:
                    await self.store.mark_blocked(conv.conversation_id, f"403 {code}".strip())
                    self.stats["blocked"] += 1
                    return SendResult(SendStatus.BLOCKED, f"403 {code}".strip())
                if status not in RETRYABLE:
                    await self.store.note_error(conv.conversation_id, f"{status} {code}".strip())
                    self.stats["failed"] += 1
                    return SendResult(SendStatus.FAILED, f"{status} {code}".strip())
                detail = f"{status} {code}".strip()
            except (TimeoutError, aiohttp.ClientError, ClientRequestError, OSError) as exc:
                retry_after, detail = None, type(exc).__name__
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            if retry_after is not None:
                self.limiter.conversations.get(conv.conversation_id).defer(retry_after)
            if attempt >= self.max_attempts or wait > self.max_wait:
                await self.store.note_error(conv.conversation_id, detail)
                return SendResult(SendStatus.RETRY, detail, retry_after=wait)
            self.stats["retried"] += 1
            await self.sleep(wait)

    async def close(self) -> None:
        """Close the connection pool when it is this messenger's own (idempotent; a shared one is left open)."""
        pool = getattr(self.adapter, "pool", None)
        if self.owns_pool and pool is not None:
            await pool.close()

    def _backoff(self, attempt: int) -> float:
        return self.base_backoff * (2 ** (attempt - 1)) * (0.5 + random.random())


def to_activity(message: Message) -> dict:
    """The message as the JSON activity Teams receives: text (also the notification preview) and card."""
    attachments: list[dict] = []
    if message.card is not None:
        attachments.append({"contentType": CARD_CONTENT_TYPE, "content": message.card})
    for a in message.attachments:
        attachments.append(
            {k: a[k] for k in ("contentType", "content", "contentUrl", "name") if a.get(k) is not None}
        )
    body: dict[str, Any] = {"type": "message", "text": message.text, "textFormat": "markdown"}
    if attachments:
        body["attachments"] = attachments
    if message.card is not None and message.text:
        body["summary"] = message.text[:120]
    return body


def _sender(body: dict, reference: dict):
    async def send(turn_context: TurnContext) -> None:
        # A new message in the conversation (not a reply to the continuation event's made-up id), posted as JSON
        # through the pooled client like the turns' replies.
        client = turn_context.turn_state.get(turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY)
        payload = {
            **body,
            "conversation": reference.get("conversation"),
            "from": reference.get("bot"),
            "recipient": reference.get("user"),
            "channelId": reference.get("channelId"),
            "serviceUrl": reference.get("serviceUrl"),
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        if client is None or not hasattr(client, "tsm_pool"):
            await turn_context.adapter.send_activities(turn_context, [Activity().deserialize(payload)])
            return
        await post_activity(
            client, turn_context.activity.service_url, turn_context.activity.conversation.id, None, payload
        )

    return send


def _status_of(exc: HttpOperationError) -> tuple[int, float | None, str]:
    resp = getattr(exc, "response", None)
    status = getattr(resp, "status", None) or getattr(resp, "status_code", None) or 0
    headers = getattr(resp, "headers", None) or {}
    retry_after = None
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    if raw:
        try:
            retry_after = max(0.0, float(raw))
        except ValueError:
            retry_after = None
    code = ""
    err = getattr(exc, "error", None)
    inner = getattr(err, "error", None)
    if inner is not None and isinstance(getattr(inner, "code", None), str):
        code = inner.code[:80]
    return int(status), retry_after, code
