"""Builds the one Router of the product from its feature modules; each has ``register(router)``.

Adding a feature is one line in ``FEATURES``. Built by the composition root, never at import time.
"""

from __future__ import annotations

from importlib import import_module

from ..ratelimit import TurnLimiter
from .router import Router

# Each module defines ``register(router: Router) -> None`` and owns the verbs and commands it registers.
FEATURES: tuple[str, ...] = (
    "tsm.chat.booking",  # school staff: book, my meetings, move, cancel, add colleague, senior leader unavailable
    "tsm.chat.officer",  # officers: my week, my schools, book for a school, add a contact
    "tsm.chat.joint",  # a joint TSM for several schools of a trust (officers; trust contacts where the LA allows)
    "tsm.chat.feedback",  # evaluations, the TSM record and its actions, reports (issue 6)
    "tsm.chat.help",  # help, and the answer to anything not understood (keep last: it sets the fallback)
)


def build_router(features: tuple[str, ...] = FEATURES, *, turn_limiter: TurnLimiter | None = None) -> Router:
    """The router with every feature of ``features`` and its per-user limit (``TurnLimiter.for_chat(settings)``,
    from the composition root)."""
    router = Router(turn_limiter=turn_limiter)
    for name in features:
        import_module(name).register(router)
    return router
