"""What a Teams client does with an Adaptive Card: find an action, fill the inputs, send the invoke."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cardtree import walk


def actions(card: dict) -> list[dict]:
    """Every Action.Execute of the card (ActionSets in the body included), in order."""
    return [n for n in walk(card) if n.get("type") == "Action.Execute"]


def verbs(card: dict) -> list[str]:
    return [a["verb"] for a in actions(card)]


def inputs(card: dict) -> list[dict]:
    return [n for n in walk(card.get("body", [])) if str(n.get("type", "")).startswith("Input.")]


def texts(card: dict) -> str:
    return "\n".join(
        n["text"] for n in walk(card) if n.get("type") == "TextBlock" and isinstance(n.get("text"), str)
    )


def find_action(card: dict, verb: str, where: Callable[[dict], bool] | None = None) -> dict:
    for a in actions(card):
        if a["verb"] == verb and (where is None or where(a.get("data") or {})):
            return a
    raise AssertionError(f"no {verb} action on the card; it has {verbs(card)}:\n{texts(card)}")


def fill(card: dict, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inputs' values as a user would leave them: given ``values``, else the default, else the first choice."""
    values = values or {}
    out: dict[str, Any] = {}
    for i in inputs(card):
        iid = i.get("id")
        if not iid:
            continue
        if iid in values:
            out[iid] = values[iid]
        elif i.get("value") not in (None, ""):
            out[iid] = i["value"]
        elif i["type"] == "Input.ChoiceSet" and i.get("choices") and i.get("isRequired"):
            out[iid] = i["choices"][0]["value"]
        elif i["type"] == "Input.Toggle":
            out[iid] = i.get("valueOff", "false")
    return out


def action_data(
    card: dict, verb: str, values: dict[str, Any] | None = None, where: Callable[[dict], bool] | None = None
) -> dict[str, Any]:
    """The data Teams sends for an Action.Execute: the action's data merged with the card's inputs."""
    action = find_action(card, verb, where)
    data = dict(action.get("data") or {})
    if action.get("associatedInputs") != "none":
        data.update(fill(card, values))
    return data
