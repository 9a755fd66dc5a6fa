"""One scripted messenger: the delivery port (``tsm.messaging.MessengerPort``) for tests that look at what would be
sent, with options for what the variants need.

By default every send is SENT and recorded (``sent``: (recipient, message); ``log``: (recipient, text, the clock's
time) when a clock is given). Then, in the order a send meets them:

- ``forbidden=True``: any send fails the test (code that must send nothing);
- ``gate``: an ``asyncio.Event`` every send waits on (a slow channel, to catch a sweep mid-send);
- ``installs=db``: install-aware, like Teams: NO_CONVERSATION unless the person has a ``bot_conversation`` row
  (``always_missing=True``: whatever the table says);
- ``teams=store``: what ``bot.messenger.TeamsMessenger`` does with a ``BotStore``'s conversations, minus HTTP: no
  conversation -> NO_CONVERSATION; ``blocked_at`` recorded -> BLOCKED without calling Teams (``teams_calls``
  counts the calls that reach it); someone in ``blocked_in_teams`` -> Teams answers 403, recorded with
  ``BotStore.mark_blocked``, BLOCKED;
- scripted answers: ``script[recipient]``, that recipient's next answers in turn; else ``answers``, the next
  answers to anyone; else ``answer`` (SENT unless given: ``answer=SendResult(SendStatus.FAILED)`` fails all).

``attempts`` counts every send asked for.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from sqlmodel import select

from tsm.adapters.db.engine import Database
from tsm.adapters.db.teams import BotConversation
from tsm.clock import Clock
from tsm.messaging import Message, Recipient, SendResult, SendStatus

if TYPE_CHECKING:
    from bot.store import BotStore


class ScriptedMessenger:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        installs: Database | None = None,
        teams: BotStore | None = None,
        gate: asyncio.Event | None = None,
        answer: SendResult | None = None,
        forbidden: bool = False,
    ) -> None:
        self.clock = clock
        self.installs = installs
        self.teams = teams
        self.gate = gate
        self.answer = answer or SendResult(SendStatus.SENT)
        self.forbidden = forbidden
        self.script: dict[Recipient, list[SendResult]] = {}
        self.answers: list[SendResult] = []
        self.always_missing = False
        self.blocked_in_teams: set[Recipient] = set()
        self.sent: list[tuple[Recipient, Message]] = []
        self.log: list[tuple[Recipient, str, object]] = []  # (recipient, text, clock time) of every send
        self.attempts = 0
        self.teams_calls = 0

    async def send(self, recipient: Recipient, message: Message) -> SendResult:
        if self.forbidden:
            raise AssertionError(f"no message was to be sent; got {message.text!r} for {recipient}")
        self.attempts += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.installs is not None:
            column = BotConversation.contact_id if recipient.kind == "contact" else BotConversation.officer_id
            async with self.installs.reader() as s:
                conv = (await s.exec(select(BotConversation).where(column == recipient.id))).first()
            if conv is None or self.always_missing:
                return SendResult(SendStatus.NO_CONVERSATION, "not installed")
        if self.teams is not None:
            ref = await self.teams.conversation_for(recipient.kind, recipient.id)
            if ref is None or self.always_missing:
                return SendResult(SendStatus.NO_CONVERSATION, "not installed")
            if ref.blocked_at is not None:
                return SendResult(SendStatus.BLOCKED, "blocked or uninstalled (recorded earlier)")
            self.teams_calls += 1
            if recipient in self.blocked_in_teams:
                await self.teams.mark_blocked(ref.conversation_id, "403 MessageWritesBlocked")
                return SendResult(SendStatus.BLOCKED, "403")
        queue = self.script.get(recipient)
        result = queue.pop(0) if queue else self.answers.pop(0) if self.answers else self.answer
        if result.status is SendStatus.SENT:
            self.sent.append((recipient, message))
            self.log.append((recipient, message.text, self.clock() if self.clock else None))
        return result

    def texts(self) -> list[str]:
        return [m.text for _, m in self.sent]

    def to(self, recipient: Recipient) -> list[str]:
        """The texts sent to ``recipient``, in order."""
        return [m.text for r, m in self.sent if r == recipient]

    def headlines(self, recipient: Recipient) -> list[str]:
        """The same, cut at the first colon ("TSM in a week: ..." -> "TSM in a week")."""
        return [t.split(":")[0] for t in self.to(recipient)]
