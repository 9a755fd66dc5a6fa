"""The messenger port: proactive messages to school contacts and officers (Teams in production).

The scheduler and the services say *who* gets *what*; the adapter (``bot/``) knows conversations,
rate limits and retries. A message carries a short text (also the notification preview) and,
optionally, an Adaptive Card dict built by ``cards``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class Recipient:
    kind: Literal[
        "contact", "officer", "attendee"
    ]  # attendee: a meeting_attendee row (invitations, by email only)
    id: int


@dataclass(frozen=True)
class Invitation:
    """A calendar invitation (RFC 5546 iTIP, ``METHOD:REQUEST`` or ``CANCEL``): a message carrying one goes by
    email, whatever the person's channel, with the ``.ics`` attached."""

    method: str
    ics: bytes


@dataclass(frozen=True)
class Message:
    text: str
    card: dict[str, Any] | None = None
    attachments: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    invitation: Invitation | None = None
    email_only: bool = (
        False  # by email whatever the person's channel: a sign-in link asked for with an address
    )


class SendStatus(StrEnum):
    SENT = "sent"
    NO_CONVERSATION = "no_conversation"  # the app is not installed for this person yet: nothing to send to
    BLOCKED = "blocked"  # 403: uninstalled or blocked; recorded, never retried
    RETRY = "retry"  # throttled or a passing fault: try again later
    FAILED = "failed"


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    detail: str = ""
    retry_after: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is SendStatus.SENT


class MessengerPort(Protocol):
    async def send(self, recipient: Recipient, message: Message) -> SendResult: ...
