"""Drives a booking through the bot's own cards, as a person would: send "book", then press the next button on each
card (filling its inputs with the first choice), until the confirmation. Works over HTTP against any running bot."""

from __future__ import annotations

from typing import Any

from cardtree import walk

BOOKING_STEPS = ("book.confirm", "book.attendees", "book.pick_time", "book.pick_date", "book.pick_mode")


def actions(card: dict) -> list[dict]:
    return [n for n in walk(card) if n.get("type") == "Action.Execute" and isinstance(n.get("verb"), str)]


def inputs(card: dict) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for n in walk(card):
        t = n.get("type")
        if not (isinstance(t, str) and t.startswith("Input.")) or not n.get("id"):
            continue
        if n.get("value") not in (None, ""):
            values[n["id"]] = n["value"]
        elif t == "Input.ChoiceSet" and n.get("choices"):
            if not n.get("isRequired") and n.get("isMultiSelect"):
                values[n["id"]] = ""
            else:
                values[n["id"]] = n["choices"][0]["value"]
        elif t == "Input.Text" and n.get("isRequired"):
            values[n["id"]] = "x"
    return values


def next_step(card: dict, steps: tuple[str, ...] = BOOKING_STEPS) -> tuple[str, dict] | None:
    """The button to press next (verb, data with the card's inputs merged in, as Teams does), or None."""
    found = actions(card)
    for verb in steps:
        for a in found:
            if a["verb"] == verb:
                data = {**inputs(card), **(a.get("data") or {})}
                data.pop("verb", None)
                return verb, data
    return None


def invoke_card(response_json: dict) -> dict | None:
    """The replacement card of an ``adaptiveCard/action`` invoke response."""
    if response_json.get("type") == "application/vnd.microsoft.card.adaptive":
        return response_json.get("value")
    return None


def reply_cards(activities: list[dict]) -> list[dict]:
    return [
        a["content"]
        for act in activities
        for a in (act.get("attachments") or [])
        if a.get("contentType") == "application/vnd.microsoft.card.adaptive"
    ]


def card_text(card: dict) -> str:
    return " ".join(n.get("text", "") for n in walk(card) if isinstance(n.get("text"), str))
