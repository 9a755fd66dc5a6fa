"""The listener registry: text commands and card verbs mapped to handlers, and the rules every turn obeys.

- Every turn goes through one ordered list of guards, :attr:`Router.middleware` (bolt-python's middleware list,
  the Agents SDK's ``before_turn``): **rate limit → identify → role check**, then the handler. The rate limit
  needs only what the channel sent, so a flood is refused before any database work; a transport's own step (Teams:
  claim the activity) goes between identify and the role check (``dispatch(..., claim=...)``).
- The sender is identified by the transport (AAD object id, else email/UPN from the Teams roster) and
  turned into an :class:`~tsm.services.actors.Actor` by the identify guard, on every turn: card data never says
  who acts.
- Card data is untrusted input: handlers read it only through :func:`field` / the typed readers, which
  raise :class:`~tsm.domain.errors.InvalidInput` with a sentence a person understands.
- A :class:`~tsm.domain.errors.TsmError` raised by a handler becomes a reply with its message; anything
  else is logged (without the message body) and answered with an apology, never a traceback.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..domain.errors import InvalidInput, ServiceBusy, TsmError
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
class Route:
    """The handler a turn goes to, the data it gets, the roles allowed and the sentence that refuses the others."""

    handler: Handler
    data: dict[str, Any]
    roles: frozenset[str]
    refusal: str


@dataclass
class Turn:
    """One turn on its way through the guards: filled in as it goes (the actor by identify, the route by the role
    check); ``outcome`` when it is not simply ok/refused (rate_limited, unknown_user, unavailable, error, or
    duplicate: a redelivery the transport had handled already, which is not counted as a turn)."""

    incoming: Incoming
    identify: Identify
    services: Any
    clock: Callable[[], datetime]
    actor: Actor | None = None
    route: Route | None = None
    outcome: str | None = None


Next = Callable[[], Awaitable[Reply]]
Middleware = Callable[[Turn, Next], Awaitable[Reply]]  # answers itself, or returns ``await next()``


@dataclass(frozen=True)
class _Command:
    words: tuple[str, ...]
    handler: Handler
    help: Mapping[str, str]  # role -> its line on that role's help card (none: not listed there)
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
        # The answer to someone the directory does not know (incoming, services): tsm.chat.help sets it.
        self.unknown_user: Callable[[Incoming, Any], Awaitable[Reply]] | None = None
        # Per-user rate limit against abusive chat, checked before anything else. The composition root passes
        # ``TurnLimiter.for_chat(settings)``; a router built without one (tests) takes the settings of the first
        # app it serves.
        self.turn_limiter = turn_limiter
        # The turn guards, in order; ``use`` adds more after them (run before the handler).
        self.middleware: list[Middleware] = [self.limit_rate, self.identify_sender, self.check_role]

    def use(self, middleware: Middleware) -> Middleware:
        """Add a middleware after the guards (bolt-python's ``app.use``): it runs before every handler."""
        self.middleware.append(middleware)
        return middleware

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

    def command(
        self, *words: str, help: str | Mapping[str, str] = "", roles: Iterable[str] = ALL_ROLES
    ) -> Callable[[Handler], Handler]:
        """A text command: the message starts with one of ``words`` (case and punctuation ignored). ``help`` is its
        line on the help card of every role allowed, or per role (each audience's help lists only its own actions:
        a role left out still has the command, unlisted)."""
        allowed = frozenset(roles)
        lines = {r: help for r in allowed} if isinstance(help, str) else dict(help)
        if not set(lines) <= allowed:
            raise ValueError(f"help for roles that may not use the command: {sorted(set(lines) - allowed)}")

        def register(fn: Handler) -> Handler:
            norm = tuple(_norm(w) for w in words)
            for c in self._commands:
                clash = set(norm) & set(c.words)
                if clash:
                    raise ValueError(f"command words {sorted(clash)} already have a handler")
            self._commands.append(_Command(norm, fn, lines, allowed))
            return fn

        return register

    @property
    def verbs(self) -> frozenset[str]:
        return frozenset(self._verbs)

    def commands_for(self, role: str) -> list[tuple[str, str]]:
        """(first word, help) of the commands a role may use, for the help card."""
        return [(c.words[0], c.help[role]) for c in self._commands if role in c.roles and c.help.get(role)]

    # ------------------------------------------------------------------ dispatch

    async def dispatch(
        self,
        incoming: Incoming,
        *,
        identify: Identify,
        services: Any,
        clock: Callable[[], datetime],
        claim: Middleware | None = None,
    ) -> Reply:
        """Run the turn through :attr:`middleware` and its handler. ``claim`` is the transport's own step, run right
        after identify (Teams: claim the activity and store the conversation reference; a redelivery stops there
        with ``turn.outcome = "duplicate"``)."""
        metrics = getattr(services, "metrics", None)
        kind = "action" if incoming.verb is not None else "message"
        started = time.perf_counter()
        turn = Turn(incoming, identify, services, clock)
        reply = await self._run(turn, self._chain(claim))
        if metrics is not None and turn.outcome != "duplicate":
            metrics.turn(
                kind, turn.outcome or ("refused" if reply.error else "ok"), time.perf_counter() - started
            )
        return reply

    def _chain(self, claim: Middleware | None) -> list[Middleware]:
        guards = list(self.middleware)
        if claim is not None:
            guards.insert(
                guards.index(self.identify_sender) + 1 if self.identify_sender in guards else 0, claim
            )
        return guards

    async def _run(self, turn: Turn, guards: list[Middleware]) -> Reply:
        async def step(i: int) -> Reply:
            if i == len(guards):
                return await self._handle(turn)
            return await guards[i](turn, lambda: step(i + 1))

        return await step(0)

    # ------------------------------------------------------------------ the guards, in order

    async def limit_rate(self, turn: Turn, next: Next) -> Reply:
        """Per sender, from what the channel vouches for (no lookup): a flood costs no database work."""
        wait = self._turn_limiter(turn.services).hit(_sender_key(turn.incoming.who))
        if wait > 0:
            log.info("turn refused by the per-user rate limit", extra={"retry_in": round(wait, 1)})
            turn.outcome = "rate_limited"
            return Reply(
                text=f"You're sending messages faster than I can take them. Please wait about "
                f"{max(1, round(wait))} seconds and try again; nothing was changed. "
                "Type **help** then to carry on.",
                error=True,
            )
        return await next()

    async def identify_sender(self, turn: Turn, next: Next) -> Reply:
        """The actor from the channel's identity (``Directory.identify`` behind every transport); None: unknown."""
        turn.actor = await turn.identify(turn.incoming.who)
        return await next()

    async def check_role(self, turn: Turn, next: Next) -> Reply:
        """An unknown sender is told whom to ask; a known one reaches the handler only with one of its roles."""
        if turn.actor is None:
            turn.outcome = "unknown_user"
            return await self.unknown(turn.incoming, turn.services)
        try:
            route = self._route(turn.incoming)
        except InvalidInput as exc:
            return error_reply(str(exc))
        if turn.actor.kind not in route.roles:
            return error_reply(route.refusal)
        turn.route = route
        return await next()

    async def _handle(self, turn: Turn) -> Reply:
        actor, route, incoming = turn.actor, turn.route, turn.incoming
        if (
            actor is None or route is None
        ):  # the middleware list lost its role check: refuse, never run unchecked
            log.error("turn reached its handler without identify and the role check; refused")
            turn.outcome = "error"
            return error_reply("Sorry, something went wrong on our side and nothing was changed.")
        try:
            return await route.handler(ChatContext(actor, incoming, turn.services, turn.clock), route.data)
        except TsmError as exc:
            return error_reply(str(exc))
        except ServiceBusy:  # the database is locked by someone else: the transport answers 503 + Retry-After
            turn.outcome = "unavailable"
            raise
        except (
            CalendarError
        ) as exc:  # Outlook slow, down or refusing: nothing was written (bookings read first)
            log.warning("turn stopped by the calendar (%s, retryable=%s)", type(exc).__name__, exc.retryable)
            turn.outcome = "unavailable"
            if exc.retryable:
                return error_reply(
                    "Outlook isn't answering just now, so nothing was booked or changed. Please try "
                    "again in a minute."
                )
            return error_reply(f"{exc} Nothing was booked or changed.")
        except Exception:
            log.exception("turn failed (actor %s, verb %s)", actor.key, incoming.verb or "-")
            turn.outcome = "error"
            return error_reply(
                "Sorry, something went wrong on our side and nothing was changed. Please try "
                "again in a minute; if it keeps happening, tell your link officer."
            )

    async def unknown(self, incoming: Incoming, services: Any = None) -> Reply:
        """The answer to someone the directory does not know: ``unknown_user`` if set, else whom to ask."""
        if self.unknown_user is not None:
            return await self.unknown_user(incoming, services)
        return Reply(text=unknown_user_text(incoming.who), error=True)

    def _turn_limiter(self, services: Any) -> TurnLimiter:
        if self.turn_limiter is None:
            self.turn_limiter = TurnLimiter.for_chat(services.settings)
        return self.turn_limiter

    def _route(self, incoming: Incoming) -> Route:
        """The verb's or the command's handler (else the fallback); InvalidInput when there is none."""
        if incoming.verb is not None:
            entry = self._verbs.get(incoming.verb)
            if entry is None:
                raise InvalidInput(
                    "That button is not one I know (perhaps an old card). Type **help** to start again."
                )
            data = incoming.data if isinstance(incoming.data, dict) else {}
            return Route(entry.handler, data, entry.roles, "That action is not open to you.")
        raw = (incoming.text or "").strip()
        text = _norm(raw)
        for c in self._commands:
            for w in c.words:
                if text == w or text.startswith(w + " "):
                    rest = _after_words(raw, w)
                    return Route(
                        c.handler,
                        {"args": rest},
                        c.roles,
                        "That command is not open to you. Type **help** to see what you can do.",
                    )
        near = self._near_command(raw)
        if (
            near is not None
        ):  # "bok", "my meeting", "mymeetings": taken as the one command they are a slip from
            c, rest = near
            return Route(
                c.handler,
                {"args": rest},
                c.roles,
                "That command is not open to you. Type **help** to see what you can do.",
            )
        if self.fallback is not None:
            return Route(self.fallback, {"args": incoming.text or ""}, ALL_ROLES, "")
        raise InvalidInput("I didn't understand that. Type **help** to see what I can do.")

    def _near_command(self, raw: str) -> tuple[_Command, str] | None:
        """The one command whose words the message starts with but for one slip (a letter missed, added, changed or
        two swapped, or the spaces left out), with the rest of the message; None when none or more than one is that
        close. Words shorter than four letters are never guessed ("hi" is not "h")."""
        words = _norm(raw).split()
        found: dict[int, tuple[_Command, str]] = {}
        for c in self._commands:
            for w in c.words:
                n = len(w.split())
                if len(w.replace(" ", "")) < 4:
                    continue
                for take in {n, max(1, n - 1)}:  # "mymeetings" is one word for a two-word command
                    head = " ".join(words[:take])
                    if head and (one_slip(head, w) or head.replace(" ", "") == w.replace(" ", "")):
                        found.setdefault(id(c), (c, " ".join(raw.split()[take:])))
        return next(iter(found.values())) if len(found) == 1 else None


def _sender_key(who: Who) -> str:
    """Whom a turn counts against: the AAD object id (stable, vouched for by the channel), else the channel's user
    id, else the email; unknown users are limited the same way as known ones."""
    return (
        f"aad:{who.tenant_id}:{who.aad_object_id}"
        if who.aad_object_id
        else f"ch:{who.channel_user_id}"
        if who.channel_user_id
        else f"mail:{(who.email or '').lower()}"
    )


def unknown_user_text(who: Who) -> str:
    addr = f" ({who.email})" if who.email else ""
    return (
        f"Hello{(' ' + who.name.split(' ')[0]) if who.name else ''}. I can't find you{addr} among the school "
        "contacts or link officers I know, so I can't book anything for you yet. Please ask your school's LA "
        "link officer, or your local authority's attendance team, to add you as a contact for your school"
        f"{' with the address ' + who.email if who.email else ''}. Once they have, say **hi** here again."
    )


def error_reply(message: str) -> Reply:
    return Reply(text=message, error=True)


def one_slip(a: str, b: str) -> bool:
    """Whether ``a`` is ``b`` with at most one letter missed, added, changed, or two neighbours swapped."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1 :]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s'-]", " ", text.lower()).split())


def _after_words(raw: str, words: str) -> str:
    """What the person typed after a command's words, however many spaces or marks stand between the words
    (``_norm`` makes "My  meetings" the command "my meetings"; counting its characters in the raw text left "s")."""
    between = r"[^\w'-]+"
    found = re.match(r"[^\w'-]*" + between.join(map(re.escape, words.split())), raw, re.IGNORECASE)
    return raw[found.end() :].strip() if found else ""


# ---------------------------------------------------------------------- reading untrusted card data


def field_str(
    data: dict[str, Any], key: str, *, label: str, max_len: int = 500, required: bool = True
) -> str:
    return clean_text(data.get(key), label=label, max_len=max_len, required=required)


MAX_ID = 2**31 - 1  # the largest id a column can hold on every backend (PostgreSQL's integer)


def field_int(data: dict[str, Any], key: str, *, label: str) -> int:
    """An id from a card: a whole number from 0 to :data:`MAX_ID` (larger ones overflow the database's integer)."""
    value = data.get(key)
    if isinstance(value, bool):
        raise InvalidInput(f"{label[:1].upper()}{label[1:]} is not in the expected form.")
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value <= MAX_ID:
        return value
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
