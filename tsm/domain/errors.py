"""Errors the core raises. Their messages are written for the person who will read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TsmError(Exception):
    """Base class: ``str(err)`` is a sentence a school or an officer understands."""


class ServiceBusy(Exception):
    """The database could not take the work now (a SQLite file locked by another process, a lock wait timed
    out): nothing was changed; the transport answers 503 with ``Retry-After`` (not a TsmError: no handler
    turns it into a chat reply)."""

    def __init__(
        self,
        message: str = "The service is busy just now: nothing was changed. Please try again in a "
        "few seconds.",
        retry_after: int = 5,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(TsmError):
    pass


class NotAllowed(TsmError):
    """The actor may not do this (another school's meeting, an officer outside their list...)."""


class InvalidInput(TsmError):
    pass


class PolicyError(TsmError):
    """An LA policy file is malformed."""


@dataclass
class BookingRefused(TsmError):
    """A booking, move or cancellation refused by a rule.

    ``code`` is stable (tests, cards and the scheduler branch on it); ``message`` is for people;
    ``alternatives`` are fresh slots where some exist; ``context`` carries ids a caller may need
    (e.g. the officer to tell when a contacted-directly school tried to book).
    """

    code: str
    message: str
    alternatives: list[Any] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message
