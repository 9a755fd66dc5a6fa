"""The Teams activity handler: it only converts. Activity -> :class:`~tsm.chat.Incoming` -> ``Router.dispatch`` ->
:class:`~tsm.chat.Reply` -> activity (or an ``adaptiveCard/action`` invoke response).

Per turn, in order:

1. the tenant gate (``bot/tenants.py``: the tenants registered with ``tsm tenants add``, held in memory); a refused
   tenant gets nothing;
2. ``Router.dispatch``, whose guards run in order:

   a. the per-user rate limit, keyed on the ids in the activity: a refused turn costs no database work
      (``tests/chat/test_rate_limited_turn.py`` holds it at 0 statements);
   b. identify, from what the channel vouches for: the AAD object id, else the email/UPN read from the Teams
      roster (``TeamsInfo.get_member``, cached per user, failures tolerated); never card data;
   c. this transport's claim (``_TeamsTurn.claim``): the activity (conversation id + activity id) claimed and the
      conversation reference stored, in one transaction; a redelivered activity stops here (a redelivered invoke
      gets the stored card back);
   d. the role check, then the handler;
3. the reply is sent; the delivery of what the turn's changes call for is woken.

Teams' ``meetingEnd`` event goes to the ``meeting_ended`` port given at construction (the composition root wires
it to the scheduler's handler): this package imports neither the scheduler nor the composition root.

Nothing of a message's text or card data is logged or stored.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import quote

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.schema import Activity, Attachment

from tsm.chat import Incoming, Reply, Router, Who
from tsm.chat.router import Next, Turn
from tsm.services.actors import Actor
from tsm.services.events import recorded_in_this_task

from .connector import post_activity
from .files import FileStore, ics_card
from .store import BotStore, RefInfo

log = logging.getLogger(__name__)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ROSTER_TTL = 3600.0  # an email read from the roster is trusted for an hour
ROSTER_FAIL_TTL = 60.0  # a failed roster lookup is not retried for a minute
_AT_TAG = re.compile(r"<at>[^<]*</at>", re.I)


class TenantNotAllowed(Exception):
    """The activity comes from a Microsoft 365 tenant that is not on the allow-list."""


def tenant_of(activity: Activity) -> str:
    conv = activity.conversation
    tenant = getattr(conv, "tenant_id", None) if conv is not None else None
    if not tenant and isinstance(activity.channel_data, dict):
        t = activity.channel_data.get("tenant")
        tenant = t.get("id") if isinstance(t, dict) else None
    return str(tenant or "")


# The JSON body Teams posted for the turn being handled (set by the HTTP layer): read without msrest.
RAW_ACTIVITY: ContextVar[dict | None] = ContextVar("tsm_raw_activity", default=None)


def raw_of(activity: Activity) -> dict:
    raw = RAW_ACTIVITY.get()
    if raw is None or raw.get("id") != activity.id:
        raw = activity.serialize()
    return raw


def ref_info(activity: Activity) -> RefInfo:
    """The conversation reference (addresses and ids only; never text, value or attachments)."""
    raw = raw_of(activity)
    conv = raw.get("conversation") or {}
    frm = raw.get("from") or {}
    rcp = raw.get("recipient") or {}
    reference = {
        k: v
        for k, v in (
            ("user", frm),
            ("bot", rcp),
            ("conversation", conv),
            ("channelId", raw.get("channelId")),
            ("serviceUrl", raw.get("serviceUrl")),
            ("locale", raw.get("locale")),
        )
        if v
    }
    return RefInfo(
        conversation_id=str(conv.get("id") or ""),
        conversation_type=str(conv.get("conversationType") or "personal"),
        tenant_id=tenant_of(activity),
        aad_object_id=frm.get("aadObjectId") or None,
        user_id=str(frm.get("id") or ""),
        service_url=str(raw.get("serviceUrl") or ""),
        channel_id=str(raw.get("channelId") or ""),
        bot_id=str(rcp.get("id") or ""),
        reference=reference,
    )


def card_attachment(card: dict) -> Attachment:
    return Attachment(content_type=CARD_CONTENT_TYPE, content=card)


def text_card(text: str, *, error: bool = False) -> dict:
    block: dict[str, Any] = {"type": "TextBlock", "text": text, "wrap": True}
    if error:
        block["color"] = "Attention"
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [block],
    }


def invoke_body(reply: Reply) -> dict:
    """The ``adaptiveCard/action`` answer: the card that replaces the one acted on (errors included)."""
    if reply.card is not None:
        card = dict(reply.card)
        if reply.text and reply.text not in _texts(card):
            block = {"type": "TextBlock", "text": reply.text, "wrap": True}
            if reply.error:
                block["color"] = "Attention"
            card["body"] = [block, *card.get("body", [])]
    else:
        card = text_card(reply.text or "Done.", error=reply.error)
    return {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}


def _texts(card: dict) -> set[str]:
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock" and isinstance(node.get("text"), str):
                found.add(node["text"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card.get("body", []))
    return found


Spawn = Callable[[Coroutine[Any, Any, Any]], Any]


class MeetingEnded(Protocol):
    """The port for "a Teams meeting ended": given the meeting's join URL and/or Teams meeting id, end our TSM
    once (``scheduler.meeting_events.meeting_end_handler`` is the one the composition root plugs in)."""

    async def __call__(self, *, join_url: str | None, teams_meeting_id: str | None) -> object: ...


class TsmTeamsBot(TeamsActivityHandler):
    def __init__(
        self,
        *,
        router: Router,
        services: Any,
        store: BotStore,
        files: FileStore,
        clock: Callable[[], datetime],
        tenant_gate: Any = None,
        messenger: Any = None,
        spawn: Spawn | None = None,
        roster_cache_size: int = 10_000,
        aad_resolver: Any = None,
        meeting_ended: MeetingEnded | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.router = router
        self.services = services
        self.store = store
        self.files = files
        self.clock = clock
        self.tenant_gate = tenant_gate  # bot.tenants.TenantGate; None: every tenant, no tenant rules (tests)
        self.messenger = messenger
        self.spawn = spawn or _default_spawn
        self.aad = aad_resolver  # batched AAD-id lookups (bot/identity.py); None: Directory.identify per turn
        # Wakes the delivery of what a turn's changes call for (the scheduler's event sweep); the events are in the
        # database already, so a bot without it (TSM_RUN_SCHEDULER=false) leaves them to the worker's sweep.
        self.on_change = on_change
        self.meeting_ended = meeting_ended  # None: meetings are ended by the scheduler's timer only
        self._roster: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._roster_cache_size = roster_cache_size
        self.stats = {"turns": 0, "duplicates": 0, "roster_lookups": 0}

    # ------------------------------------------------------------------ the turn

    async def on_turn(self, turn_context: TurnContext):
        activity = turn_context.activity
        if self.tenant_gate is not None and not self.tenant_gate.allows(tenant_of(activity)):
            log.warning("activity from a tenant not on the allow-list refused (type %s)", activity.type)
            raise TenantNotAllowed()
        if activity.conversation is None or not activity.conversation.id:
            log.info("activity without a conversation ignored (type %s)", activity.type)
            return
        self.stats["turns"] += 1
        await super().on_turn(turn_context)

    async def on_message_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        if not _is_personal(
            activity
        ):  # a group chat, a channel, a meeting's chat: nothing personal said there
            await self._send_reply(turn_context, await self._private_only(activity))
            return
        turn = _TeamsTurn(self, turn_context)
        try:
            reply = await self._dispatch(self._incoming_from_message(activity, sender(activity)), turn)
            if turn.duplicate:
                return
            await self._send_reply(turn_context, reply, turn.actor)
        except Exception:
            await turn.release()
            raise
        self._changed(reply)

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return await super().on_invoke_activity(turn_context)
        conv_id = activity.conversation.id
        if not _is_personal(activity):
            return self._create_invoke_response(invoke_body(await self._private_only(activity)))
        incoming = self._incoming_from_invoke(activity, sender(activity))
        if isinstance(
            incoming, Reply
        ):  # malformed: refused before anything runs (a redelivery gets the same)
            return self._create_invoke_response(invoke_body(incoming))
        turn = _TeamsTurn(self, turn_context)
        try:
            reply = await self._dispatch(incoming, turn)
            if turn.duplicate:
                stored = await self.store.stored_response(conv_id, activity.id)
                return self._create_invoke_response(
                    stored
                    or invoke_body(
                        Reply(
                            text="That was already done: this card is out of date. Type **help** to start again.",
                            error=True,
                        )
                    )
                )
            body = invoke_body(reply)
            if (
                turn.claimed
            ):  # a turn refused before the claim (the rate limit) leaves nothing in the database
                await self.store.save_response(conv_id, activity.id, body)
            if reply.files:
                await self._send_files(turn_context, reply, turn.actor)
        except Exception:
            await turn.release()
            raise
        self._changed(reply)
        return self._create_invoke_response(body)

    async def on_event_activity(self, turn_context: TurnContext):
        """Teams' meetingEnd (the app is in the meeting's chat): handed to the ``meeting_ended`` port, which ends
        the TSM once (the scheduler's timer does it anyway when no event comes). Other events are ignored."""
        activity = turn_context.activity
        if activity.name != "application/vnd.microsoft.meetingEnd" or self.meeting_ended is None:
            return
        if not await self.store.record_turn(
            ref_info(activity), activity_id=activity.id, actor=None, store=False
        ):
            self.stats["duplicates"] += 1
            return
        value = activity.value if isinstance(activity.value, dict) else {}
        channel_data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
        meeting = channel_data.get("meeting") if isinstance(channel_data.get("meeting"), dict) else {}
        join_url = value.get("JoinUrl") or value.get("joinUrl")
        teams_id = meeting.get("id")
        outcome = await self.meeting_ended(
            join_url=join_url if isinstance(join_url, str) else None,
            teams_meeting_id=teams_id if isinstance(teams_id, str) else None,
        )
        log.info("Teams meetingEnd: %s", getattr(outcome, "status", outcome))

    async def on_installation_update_add(self, turn_context: TurnContext):
        activity = turn_context.activity
        # Installed in a group chat or a team: nobody to identify there (only a 1:1 chat is about a person).
        who, actor = await self._who(turn_context) if _is_personal(activity) else (sender(activity), None)
        if not await self.store.record_turn(ref_info(activity), activity_id=activity.id, actor=actor):
            return
        if (activity.conversation.conversation_type or "personal") != "personal" or activity.action != "add":
            return  # no greeting in group chats, nor again when the app is upgraded
        # One greeting per conversation (issue 14, item 7a): Teams keeps a 1:1 chat's history across a reinstall.
        if not await self.store.claim_greeting(activity.conversation.id):
            return
        try:
            if actor is None:
                reply = await self._unknown(
                    Incoming(who=who, text=None, conversation_id=activity.conversation.id)
                )
            else:
                reply = Reply(text=welcome_text(actor))
            await self._send_reply(turn_context, reply)
        except Exception:
            await self.store.unclaim_greeting(activity.conversation.id)
            raise

    async def on_installation_update_remove(self, turn_context: TurnContext):
        await self.store.set_installed(turn_context.activity.conversation.id, False)

    async def on_conversation_update_activity(self, turn_context: TurnContext):
        """Members added or removed (the bot installed in a chat or team): keep the reference current."""
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        removed = [m for m in (activity.members_removed or []) if m.id == bot_id]
        if removed:
            await self.store.set_installed(activity.conversation.id, False)
            return
        actor = None
        if (
            activity.from_property is not None
            and (activity.conversation.conversation_type or "personal") == "personal"
        ):
            _who, actor = await self._who(turn_context)
        await self.store.record_turn(ref_info(activity), activity_id=activity.id, actor=actor, claim=False)

    # ------------------------------------------------------------------ conversion

    def _incoming_from_message(self, activity: Activity, who: Who) -> Incoming:
        value = activity.value
        tz = activity.local_timezone or None
        if isinstance(value, dict) and value:
            verb = value.get("verb")
            return Incoming(
                who=who,
                verb=verb if isinstance(verb, str) else "",
                data=value,
                timezone=tz,
                conversation_id=activity.conversation.id,
            )
        text = _AT_TAG.sub(" ", activity.text or "").strip()
        return Incoming(who=who, text=text, timezone=tz, conversation_id=activity.conversation.id)

    def _incoming_from_invoke(self, activity: Activity, who: Who) -> Incoming | Reply:
        value = activity.value if isinstance(activity.value, dict) else {}
        action = value.get("action")
        if (
            not isinstance(action, dict)
            or action.get("type") != "Action.Execute"
            or not isinstance(action.get("verb"), str)
        ):
            return Reply(
                text="That button sent something I can't read. Type **help** to start again.", error=True
            )
        data = action.get("data")
        return Incoming(
            who=who,
            verb=action["verb"],
            data=data if isinstance(data, dict) else {},
            timezone=activity.local_timezone or None,
            conversation_id=activity.conversation.id,
            is_invoke=True,
        )

    @staticmethod
    def _create_invoke_response(body: object = None) -> InvokeResponse:
        # The SDK serialises the body here and CloudAdapter.process serialises it again (HTTP 500 on every
        # invoke with a body). Keep the body a plain dict; the HTTP layer serialises it once.
        return InvokeResponse(status=int(HTTPStatus.OK), body=body)

    # ------------------------------------------------------------------ identity

    async def _who(self, turn_context: TurnContext) -> tuple[Who, Actor | None]:
        """The sender and the actor they are: by AAD object id, else by the email the Teams roster gives (the
        directory then remembers the AAD id). The Who comes back with that email, for "I can't find you (...)"."""
        who = sender(turn_context.activity)
        aad = who.aad_object_id
        directory = self.services.directory
        # Identity is bound to the tenant the activity comes from whenever a tenant is registered (bot/tenants.py).
        tenant = self.tenant_gate.bound_tenant(who.tenant_id) if self.tenant_gate is not None else None
        if aad:
            actor = await (
                self.aad.resolve(aad, tenant)
                if self.aad is not None
                else directory.identify(aad, None, tenant)
            )
            if actor is not None:
                return who, actor
        if not who.channel_user_id:
            return who, None
        email = await self._roster_email(turn_context, aad or who.channel_user_id)
        if email:
            who = Who(
                aad_object_id=aad,
                email=email,
                name=who.name,
                tenant_id=who.tenant_id,
                channel_user_id=who.channel_user_id,
            )
            return who, await directory.identify(aad, email, tenant)
        return who, None

    async def _roster_email(self, turn_context: TurnContext, key: str) -> str:
        now = time.monotonic()
        hit = self._roster.get(key)
        if hit is not None:
            email, at = hit
            if now - at < (ROSTER_TTL if email else ROSTER_FAIL_TTL):
                return email
        email = ""
        try:
            self.stats["roster_lookups"] += 1
            member = await TeamsInfo.get_member(turn_context, turn_context.activity.from_property.id)
            email = (
                getattr(member, "email", None) or getattr(member, "user_principal_name", None) or ""
            ).strip()
        except Exception as exc:  # the roster is a convenience: identity by AAD id still works without it
            log.info("Teams roster lookup failed (%s)", type(exc).__name__)
        self._roster[key] = (email, now)
        self._roster.move_to_end(key)
        while len(self._roster) > self._roster_cache_size:
            self._roster.popitem(last=False)
        return email

    # ------------------------------------------------------------------ dispatch and replies

    async def _dispatch(self, incoming: Incoming, turn: _TeamsTurn) -> Reply:
        """Through the router's guards: rate limit -> identify (``turn.identify``) -> claim (``turn.claim``) -> role
        check -> handler. A turn over the rate limit is answered before any database work."""
        return await self.router.dispatch(
            incoming, identify=turn.identify, services=self.services, clock=self.clock, claim=turn.claim
        )

    async def _private_only(self, activity: Activity) -> Reply:
        """The only answer in a shared conversation (issue 12 A4): meetings, schools and reports are personal, so
        they are dealt with in the person's 1:1 chat with the bot, which the button opens. Nobody is identified and
        nothing is read or stored; the per-user rate limit still applies (no database work either way)."""
        incoming = Incoming(who=sender(activity), text="", conversation_id=activity.conversation.id)

        async def answer() -> Reply:
            return private_only_reply(activity.recipient.id if activity.recipient else "")

        return await self.router.limit_rate(Turn(incoming, _nobody, self.services, self.clock), answer)

    async def _unknown(self, incoming: Incoming) -> Reply:
        return await self.router.unknown(incoming, self.services)

    async def _send_reply(self, turn_context: TurnContext, reply: Reply, actor: Actor | None = None) -> None:
        body: dict[str, Any] = {"type": "message"}
        if reply.text:
            body.update(text=reply.text, textFormat="markdown")
        if reply.card is not None:
            body["attachments"] = [{"contentType": CARD_CONTENT_TYPE, "content": reply.card}]
        if len(body) > 1:
            await self._post(turn_context, body)
        if reply.files:
            await self._send_files(turn_context, reply, actor)

    async def _send_files(self, turn_context: TurnContext, reply: Reply, actor: Actor | None = None) -> None:
        for name, content_type, data in reply.files:
            url = await self.files.put(name, content_type, data, actor=actor)
            await self._post(
                turn_context,
                {
                    "type": "message",
                    "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": ics_card(name, url)}],
                },
            )

    async def _post(self, turn_context: TurnContext, body: dict) -> None:
        """A reply in the turn's conversation, posted as JSON through the pooled client (see post_activity)."""
        client = turn_context.turn_state.get(turn_context.adapter.BOT_CONNECTOR_CLIENT_KEY)
        raw = raw_of(turn_context.activity)
        if client is None or not hasattr(client, "tsm_pool"):  # not our adapter: the SDK's way
            await turn_context.send_activity(Activity().deserialize(body))
            return
        payload = {
            **body,
            "channelId": raw.get("channelId"),
            "serviceUrl": raw.get("serviceUrl"),
            "conversation": raw.get("conversation"),
            "from": raw.get("recipient"),
            "recipient": raw.get("from"),
            "replyToId": raw.get("id"),
            "locale": raw.get("locale"),
        }
        await post_activity(
            client,
            raw.get("serviceUrl") or "",
            (raw.get("conversation") or {}).get("id", ""),
            raw.get("id"),
            {k: v for k, v in payload.items() if v is not None},
        )

    def _changed(self, reply: Reply) -> None:
        """A turn that changed something recorded its events in its own transaction (tsm.services.events counts
        them per task, and each turn is its own task): wake their delivery now rather than at the next sweep. Only
        a wake-up: nothing is sent from the turn, and a turn that only read wakes nothing."""
        if self.on_change is not None and recorded_in_this_task():
            self.on_change()


class _TeamsTurn:
    """The Teams transport's part of one turn in the router's guards: ``identify`` (the channel's identity, the
    roster's email) and ``claim`` (after identify, before the role check: the activity claimed and the conversation
    reference stored in one transaction; a redelivery stops there, ``duplicate``)."""

    def __init__(self, bot: TsmTeamsBot, turn_context: TurnContext) -> None:
        self.bot = bot
        self.turn_context = turn_context
        self.who: Who | None = None
        self.actor: Actor | None = None
        self.claimed = False
        self.duplicate = False

    async def identify(self, _who: Who) -> Actor | None:
        self.who, self.actor = await self.bot._who(self.turn_context)
        return self.actor

    async def claim(self, turn: Turn, next: Next) -> Reply:
        activity = self.turn_context.activity
        if not await self.bot.store.record_turn(
            ref_info(activity), activity_id=activity.id, actor=turn.actor
        ):
            self.duplicate = True
            self.bot.stats["duplicates"] += 1
            turn.outcome = "duplicate"
            return Reply(error=True)
        self.claimed = True
        if self.who is not None:  # the roster's email, for the unknown-user answer
            turn.incoming = replace(turn.incoming, who=self.who)
        return await next()

    async def release(self) -> None:
        """The turn failed after its claim: let a redelivery try again."""
        if self.claimed:
            activity = self.turn_context.activity
            await self.bot.store.release(activity.conversation.id, activity.id)


PRIVATE_ONLY_TEXT = (
    "I only talk about meetings, schools and reports in a private chat, so that nothing about them is "
    "shown to everyone here. Message me privately and say **help**."
)


def private_only_reply(bot_id: str) -> Reply:
    """ "Message me privately", with a button that opens the 1:1 chat with the bot (a Teams deep link to
    ``28:<bot app id>``, the bot's id in every activity it receives)."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": PRIVATE_ONLY_TEXT, "wrap": True}],
    }
    if bot_id:
        card["actions"] = [
            {
                "type": "Action.OpenUrl",
                "title": "Message me privately",
                "url": f"https://teams.microsoft.com/l/chat/0/0?users={quote(bot_id, safe=':')}",
            }
        ]
    return Reply(card=card)


def _is_personal(activity: Activity) -> bool:
    conv = activity.conversation
    return (getattr(conv, "conversation_type", None) or "personal") == "personal" and not getattr(
        conv, "is_group", False
    )


async def _nobody(_who: Who) -> Actor | None:
    return None


def sender(activity: Activity) -> Who:
    """Who sent ``activity``, as the channel vouches for it (no lookup: what the rate limit keys on)."""
    frm = activity.from_property
    aad = (getattr(frm, "aad_object_id", None) or None) if frm else None
    return Who(
        aad_object_id=aad,
        email=None,
        name=(frm.name if frm else "") or "",
        tenant_id=tenant_of(activity),
        channel_user_id=(frm.id if frm else "") or "",
    )


def welcome_text(actor: Actor) -> str:
    first = (actor.name or "").split(" ")[0]
    hello = f"Hello {first}!" if first else "Hello!"
    if actor.is_officer:
        return (
            f"{hello} I'm the TSM bot: I keep your Targeting Support Meetings with your schools in order. "
            "Type **help** to see what I can do."
        )
    return (
        f"{hello} I'm the TSM bot: I book your school's termly Targeting Support Meeting with your LA link "
        "officer. Type **help** to see what I can do."
    )


def _default_spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coro)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task


_BACKGROUND: set[asyncio.Task] = set()
