"""Reading an Adaptive Card as a client would: every node of the tree, its Action.Execute buttons, its inputs.

Shared by the chat, transport, feedback and production tests, which all drive the bot through its own cards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(node: Any) -> Iterator[dict]:
    """Every dict in a card (depth first): elements, actions, fallbacks, data."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from walk(v)


def actions(card: dict | None) -> list[dict]:
    """Every Action.Execute of the card with a verb (ActionSets in the body and fallbacks included), in order."""
    return [
        n for n in walk(card or {}) if n.get("type") == "Action.Execute" and isinstance(n.get("verb"), str)
    ]


def inputs(card: dict | None) -> dict[str, dict]:
    """The card's inputs by id."""
    return {
        n["id"]: n for n in walk(card or {}) if str(n.get("type", "")).startswith("Input.") and n.get("id")
    }
