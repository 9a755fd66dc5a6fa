"""The listener registry: text commands and card verbs mapped to handlers, and the rules every turn obeys.

- The sender is identified by the transport (AAD object id, else email/UPN from the Teams roster) and
  turned into an :class:`~tsm.services.actors.Actor` here, on every turn: card data never says who acts.
- Card data is untrusted input: handlers read it only through :func:`field` / the typed readers, which
  raise :class:`~tsm.domain.errors.InvalidInput` with a sentence a person understands.
- A :class:`~tsm.domain.errors.TsmError` raised by a handler becomes a reply with its message; anything
  else is logged (without the message body) and answered with an apology, never a traceback.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.errors import InvalidInput, NotAllowed, TsmError
from ..domain.text import clean_text
from ..ports import CalendarError
from ..ratelimit import TurnLimiter
from ..services.actors import Actor

log = logging.getLogger(__name__)

DEFAULT_TZ = "Europe/London"


@dataclass(frozen=True)
class Who:
    """The sender as the channel vouches for them (never taken from card data)."""

    aad_object_id: str | None = None
    email: str | None = None  # email or UPN from the Teams roster, where the transport could read it
    name: str = ""
    tenant_id: str = ""
    channel_user_id: str = ""


@dataclass(frozen=True)
class Incoming:
    """One turn: a typed message (``text``) or a card action (``verb`` + untrusted ``data``)."""

    who: Who
    text: str | None = None
    verb: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    timezone: str | None = None  # the client's IANA time zone (activity.localTimezone), if it sent one
    conversation_id: str = ""
    is_invoke: bool = False  # an Action.Execute: the reply's card replaces the card acted on

    @property
    def is_action(self) -> bool:
        return self.verb is not None


@dataclass(frozen=True)
class Reply:
    """What the bot answers: a text, a card, or both. For an invoke the card replaces the one acted on."""

    text: str | None = None
    card: dict[str, Any] | None = None
    # Files to attach (name, content type, bytes), e.g. the .ics invitation with the local calendar.
    files: tuple[tuple[str, str, bytes], ...] = ()
    error: bool = False  # the turn was refused (bad input, not allowed...): nothing changed


@dataclass
class ChatContext:
    """What a handler gets: the verified actor, the composition root's services, the turn itself."""

    actor: Actor
    incoming: Incoming
    services: Any  # tsm.bootstrap.App (typed loosely so this module imports no infrastructure)
    clock: Callable[[], datetime]

    @property
    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.incoming.timezone or DEFAULT_TZ)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo(DEFAULT_TZ)


Handler = Callable[[ChatContext, dict[str, Any]], Awaitable[Reply]]
Identify = Callable[[Who], Awaitable[Actor | None]]


@dataclass(frozen=True)
class _Command:
    words: tuple[str, ...]
    handler: Handler
    help: str
    roles: frozenset[str]


@dataclass(frozen=True)
class _Verb:
    handler: Handler
    roles: frozenset[str]


ALL_ROLES = frozenset({"contact", "officer", "admin"})


class Router:
    """Text commands and card verbs, each with exactly one handler and the roles allowed to use it."""

    def __init__(self, *, turn_limiter: TurnLimiter | None = None) -> None:
        self._verbs: dict[str, _Verb] = {}
        self._commands: list[_Command] = []
        self.fallback: Handler | None = None
        self.unknown_user: Callable[[Incoming], Awaitable[Reply]] | None = None
        # Per-user rate limit against abusive chat, checked before anything else. The composition root passes
        # ``TurnLimiter.for_chat(settings)``; a router built without one (tests) takes the settings of the first
        # app it serves.
        self.turn_limiter = turn_limiter

    # ------------------------------------------------------------------ registration

    def verb(self, name: str, *, roles: Iterable[str] = ALL_ROLES) -> Callable[[Handler], Handler]:
        if not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", name):
            raise ValueError(f"verb names are dotted lower-case words: {name!r}")

        def register(fn: Handler) -> Handler:
            if name in self._verbs:
                raise ValueError(f"verb {name!r} already has a handler")
            self._verbs[name] = _Verb(fn, frozenset(roles))
            return fn

        return register

    def command(self, *words: str, help: str = "", roles: Iterable[str] = ALL_ROLES) -> Callable[[Handler], Handler]:
        """A text command: the message starts with one of ``words`` (case and punctuation ignored)."""

        def register(fn: Handler) -> Handler:
            norm = tuple(_norm(w) for w in words)
            for c in self._commands:
                clash = set(norm) & set(c.words)
                if clash:
                    raise ValueError(f"command words {sorted(clash)} already have a handler")
            self._commands.append(_Command(norm, fn, help, frozenset(roles)))
            return fn

        return register

    @property
    def verbs(self) -> frozenset[str]:
        return frozenset(self._verbs)

    def commands_for(self, role: str) -> list[tuple[str, str]]:
        """(first word, help) of the commands a role may use, for the help card."""
        return [(c.words[0], c.help) for c in self._commands if role in c.roles and c.help]

    # ------------------------------------------------------------------ dispatch

    async def dispatch(self, incoming: Incoming, *, identify: Identify, services: Any,
                       clock: Callable[[], datetime]) -> Reply:
        metrics = getattr(services, "metrics", None)
        kind = "action" if incoming.verb is not None else "message"
        started = time.perf_counter()
        reply, outcome = await self._dispatch(incoming, identify=identify, services=services, clock=clock)
        if metrics is not None:
            metrics.turn(kind, outcome or ("refused" if reply.error else "ok"), time.perf_counter() - started)
        return reply

    async def _dispatch(self, incoming: Incoming, *, identify: Identify, services: Any,
                        clock: Callable[[], datetime]) -> tuple[Reply, str | None]:
        """The reply, and the outcome when it is not simply ok/refused (rate_limited, unknown_user, unavailable,
        error)."""
        wait = self._turn_limiter(services).hit(_sender_key(incoming.who))
        if wait > 0:  # checked before anything else, the directory lookup included: a flood costs no database work
            log.info("turn refused by the per-user rate limit", extra={"retry_in": round(wait, 1)})
            return (Reply(text=f"You're sending messages faster than I can take them. Please wait about "
                               f"{max(1, round(wait))} seconds and try again; nothing was changed. "
                               "Type **help** then to carry on.", error=True), "rate_limited")
        actor = await identify(incoming.who)
        if actor is None:
            return await self.unknown(incoming), "unknown_user"
        ctx = ChatContext(actor, incoming, services, clock)
        try:
            if incoming.verb is not None:
                return await self._dispatch_verb(ctx), None
            return await self._dispatch_text(ctx), None
        except TsmError as exc:
            return error_reply(str(exc)), None
        except CalendarError as exc:  # Outlook slow, down or refusing: nothing was written (bookings read first)
            log.warning("turn stopped by the calendar (%s, retryable=%s)", type(exc).__name__, exc.retryable)
            if exc.retryable:
                return error_reply("Outlook isn't answering just now, so nothing was booked or changed. Please try "
                                   "again in a minute."), "unavailable"
            return error_reply(f"{exc} Nothing was booked or changed."), "unavailable"
        except Exception:
            log.exception("turn failed (actor %s, verb %s)", actor.key, incoming.verb or "-")
            return (error_reply("Sorry, something went wrong on our side and nothing was changed. Please try "
                                "again in a minute; if it keeps happening, tell your link officer."), "error")

    async def unknown(self, incoming: Incoming) -> Reply:
        """The answer to someone the directory does not know: ``unknown_user`` if set, else whom to ask."""
        if self.unknown_user is not None:
            return await self.unknown_user(incoming)
        return Reply(text=unknown_user_text(incoming.who), error=True)

    def _turn_limiter(self, services: Any) -> TurnLimiter:
        if self.turn_limiter is None:
            self.turn_limiter = TurnLimiter.for_chat(services.settings)
        return self.turn_limiter

    async def _dispatch_verb(self, ctx: ChatContext) -> Reply:
        verb = ctx.incoming.verb or ""
        entry = self._verbs.get(verb)
        if entry is None:
            raise InvalidInput("That button is not one I know (perhaps an old card). Type **help** to start again.")
        if ctx.actor.kind not in entry.roles:
            raise NotAllowed("That action is not open to you.")
        data = ctx.incoming.data if isinstance(ctx.incoming.data, dict) else {}
        return await entry.handler(ctx, data)

    async def _dispatch_text(self, ctx: ChatContext) -> Reply:
        text = _norm(ctx.incoming.text or "")
        for c in self._commands:
            for w in c.words:
                if text == w or text.startswith(w + " "):
                    if ctx.actor.kind not in c.roles:
                        raise NotAllowed("That command is not open to you. Type **help** to see what you can do.")
                    rest = (ctx.incoming.text or "").strip()[len(w):].strip() if text.startswith(w) else ""
                    return await c.handler(ctx, {"args": rest})
        if self.fallback is not None:
            return await self.fallback(ctx, {"args": ctx.incoming.text or ""})
        raise InvalidInput("I didn't understand that. Type **help** to see what I can do.")


def _sender_key(who: Who) -> str:
    """Whom a turn counts against: the AAD object id (stable, vouched for by the channel), else the channel's user
    id, else the email; unknown users are limited the same way as known ones."""
    return (f"aad:{who.tenant_id}:{who.aad_object_id}" if who.aad_object_id else
            f"ch:{who.channel_user_id}" if who.channel_user_id else f"mail:{(who.email or '').lower()}")


def unknown_user_text(who: Who) -> str:
    addr = f" ({who.email})" if who.email else ""
    return (f"Hello{(' ' + who.name.split(' ')[0]) if who.name else ''}. I can't find you{addr} among the school "
            "contacts or link officers I know, so I can't book anything for you yet. Please ask your school's LA "
            "link officer, or your local authority's attendance team, to add you as a contact for your school"
            f"{' with the address ' + who.email if who.email else ''}. Once they have, say **hi** here again.")


def error_reply(message: str) -> Reply:
    return Reply(text=message, error=True)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s'-]", " ", text.lower()).split())


# ---------------------------------------------------------------------- reading untrusted card data


def field_str(data: dict[str, Any], key: str, *, label: str, max_len: int = 500, required: bool = True) -> str:
    return clean_text(data.get(key), label=label, max_len=max_len, required=required)


def field_int(data: dict[str, Any], key: str, *, label: str) -> int:
    value = data.get(key)
    if isinstance(value, bool):
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} is not in the expected form.")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value.strip()):
        return int(value.strip())
    raise InvalidInput(f"{label[:1].upper()}{label[1:]} is missing or not in the expected form.")


def field_datetime(data: dict[str, Any], key: str, *, label: str) -> datetime:
    """An ISO 8601 instant with an offset (what our own cards put in their data)."""
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} is missing or not in the expected form.")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} is not a valid date and time.") from None
    if dt.tzinfo is None:
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} has no time zone.")
    return dt
