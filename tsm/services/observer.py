"""The booking service's observation hook: an observer given at construction, told how each book/move/cancel ended.

``BookingService(..., observer=...)`` (the composition root passes the App's ``tsm.observability.Metrics``, which
counts and logs). The service's own methods are decorated in its class body with :func:`observed`; nothing replaces
an instance's methods, so what runs is always the class's code (``tests/server/test_observability.py`` checks).
The core knows only this protocol, not Prometheus.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class BookingObserver(Protocol):
    def booking(self, op: str, actor: Any, *, result: Any = None, error: BaseException | None = None) -> None:
        """``op`` (book, move, cancel) by ``actor`` ended with ``result``, or raised ``error``."""


def observed(op: str) -> Callable[[F], F]:
    """Decorate a service method ``async def m(self, actor, ...)``: its outcome goes to ``self.observer`` (if any).
    An observer that fails is logged and never changes the outcome."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        async def run(self, actor, *args, **kwargs):
            observer: BookingObserver | None = self.observer
            if observer is None:
                return await fn(self, actor, *args, **kwargs)
            try:
                result = await fn(self, actor, *args, **kwargs)
            except Exception as exc:
                _tell(observer, op, actor, error=exc)
                raise
            _tell(observer, op, actor, result=result)
            return result

        return run  # type: ignore[return-value]

    return decorate


def _tell(observer: BookingObserver, op: str, actor: Any, **outcome: Any) -> None:
    try:
        observer.booking(op, actor, **outcome)
    except Exception:  # noqa: BLE001 - counting must not turn a done booking into an error
        log.exception("booking observer failed on %s", op)
