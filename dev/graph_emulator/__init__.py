"""A local Microsoft Graph (calendar subset) for tests and hand-testing: see :class:`GraphEmulator`.

Point msgraph-sdk at ``emulator.graph_url``; drive the emulator through its methods or ``/_emulator/...``.
"""

from .app import (
    CONTROL_PREFIX,
    GRAPH_PREFIX,
    MAX_SCHEDULES,
    MAX_SUBSCRIPTION_MINUTES,
    Fault,
    GraphEmulator,
    GraphError,
)

__all__ = [
    "CONTROL_PREFIX",
    "GRAPH_PREFIX",
    "MAX_SCHEDULES",
    "MAX_SUBSCRIPTION_MINUTES",
    "Fault",
    "GraphEmulator",
    "GraphError",
]
