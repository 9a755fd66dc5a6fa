"""The evaluation card: Kent's TSM evaluation form (four ratings 1–5, comments, optionally anonymous).

``evaluation_card(view)`` takes :class:`tsm.services.evaluations.EvaluationView` (built by
``Evaluations.card_view(meeting_id, contact_id)``) and returns an Adaptive Card 1.5 dict. Its one verb,
``eval.submit``, carries the meeting id and, for an anonymous answer, the edit token that lets the same
person change it; who answers is always taken from the sender, never from the card.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cards.notifications import _card as base_card
from tsm.domain.feedback import QUESTIONS, SCALE
from tsm.domain.text import when_text
from tsm.services.evaluations import EvaluationView

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERBS = {"eval.submit"}


# Small helpers shared by the feedback cards (evaluation, record, report).


def card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A card; its buttons in rows that fit a phone (cards.notifications: Teams never wraps a button's title)."""
    return base_card(body, actions)


def text(value: str, **kw: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": value, "wrap": True, **kw}


def facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs if v != ""]}


def execute(title: str, verb: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """Action.Execute with an Action.Submit fallback carrying the same verb (older clients)."""
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"verb": verb, **data},
        "fallback": {"type": "Action.Submit", "title": title, "data": {"verb": verb, **data}},
        **kw,
    }


def when(start: datetime, end: datetime, tz: str) -> str:
    return when_text(start, end, ZoneInfo(tz), year=True)  # read later than the meeting: with its year


# The card.


def evaluation_card(v: EvaluationView) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if v.saved_now:
        body.append(
            text(
                "Thank you: your answer is " + ("updated." if v.updated else "saved."),
                weight="Bolder",
                size="Medium",
                color="Good",
            )
        )
        body.append(
            text(
                "You can change it below and send it again at any time."
                + (
                    " It is anonymous: your name is not kept with it, so keep this card if you may want to "
                    "change it."
                    if v.anonymous
                    else ""
                ),
                isSubtle=True,
            )
        )
    else:
        body.append(text("How was your TSM?", weight="Bolder", size="Medium"))
        body.append(text("Your feedback helps the LA improve Targeting Support Meetings. It takes a minute."))
    body.append(
        facts(
            [("School", v.school), ("Link officer", v.officer), ("Meeting", when(v.start, v.end, v.timezone))]
        )
    )
    if v.answered and v.ratings is None:
        body.append(
            text(
                "You have already answered this evaluation anonymously. Your name is not kept with an "
                "anonymous answer, so it can only be changed from the card that confirmed it.",
                color="Attention",
            )
        )
        return card(body, [execute("What else can I do?", "help.show", {})])
    prefill = v.ratings or {}
    for key, label in QUESTIONS:
        choice = {
            "type": "Input.ChoiceSet",
            "id": key,
            "label": label,
            "style": "expanded",
            "isRequired": True,
            "spacing": "Medium",
            "errorMessage": "Please choose a rating from 1 to 5.",
            "choices": [{"title": t, "value": str(n)} for n, t in SCALE.items()],
        }
        if key in prefill:
            choice["value"] = str(prefill[key])
        body.append(choice)
    body.append(
        {
            "type": "Input.Text",
            "id": "comments",
            "label": "Comments (optional)",
            "isMultiline": True,
            "maxLength": 2000,
            "value": v.comments,
            "placeholder": "What worked well? What could be better? Please don't name pupils.",
        }
    )
    body.append(
        {
            "type": "Input.Toggle",
            "id": "anonymous",
            "label": "Anonymity",
            "title": "Send anonymously: my name is not kept with my answer",
            "value": "true" if v.anonymous else "false",
            "valueOn": "true",
            "valueOff": "false",
            "wrap": True,
        }
    )
    data: dict[str, Any] = {"meetingId": v.meeting_id}
    if v.edit_token:
        data["editToken"] = v.edit_token
    title = "Change my answer" if v.saved_now or v.answered else "Send feedback"
    return card(body, [execute(title, "eval.submit", data, style="positive")])


def evaluation_text(v: EvaluationView) -> str:
    """The notification preview that goes with the card."""
    return f"How was your TSM with {v.officer}? Your feedback helps us improve."
