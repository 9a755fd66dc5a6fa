"""Issue 14, item 2: no dead ends. When the server refuses what was entered, the answer is the same card with what
the person entered, the message beside the field, and every button (never one red line that replaces the card).
And the card's own checks (isRequired, regex, errorMessage) refuse what the server refuses, in the same words.

Driven through Router.dispatch with the demo LA (tests/chat/chatkit.py), as Teams sends the actions.
"""

from __future__ import annotations

import re
from datetime import timedelta

from cardtree import walk
from chatkit import button, choices, input_values, inputs, text_of, titles, told
from test_chat_booking import ASHCOMBE, booked
from test_chat_officer import BROOKFIELD

from cards import booking as cards
from tsm.chat import Reply


def message_under(card: dict, input_id: str) -> str | None:
    """The attention-coloured text right after the input ``input_id`` in its list, if any."""
    found: list[str] = []

    def visit(items: list) -> None:
        for i, item in enumerate(items):
            if isinstance(item.get("items"), list):
                visit(item["items"])
            if item.get("id") == input_id and i + 1 < len(items):
                nxt = items[i + 1]
                if nxt.get("type") == "TextBlock" and nxt.get("color") == "Attention":
                    found.append(nxt["text"])

    visit(card["body"])
    return found[0] if found else None


async def test_a_reason_too_short_returns_the_reason_card_with_what_was_typed(chat):
    lead, m = await booked(chat)
    mine = await chat.say(lead, "my meetings")
    ask = await chat.press(lead, mine, "Cancel")
    field = inputs(ask.card)["reason"]
    # the card says it before sending: required, the server's rule as a regex, the server's words
    assert (
        field["isRequired"]
        and field["regex"] == cards.REASON_REGEX
        and field["errorMessage"] == cards.REASON_ERROR
    )
    assert "at least 3 characters" in text_of(ask)

    short = await chat.press(lead, ask, "Continue", reason="no")
    assert short.error
    assert input_values(short.card)["reason"] == "no"  # what was typed, to correct
    assert message_under(short.card, "reason").startswith(cards.REASON_ERROR)
    assert titles(short.card) == titles(ask.card)  # every button, Continue and Keep the meeting
    assert (await chat.meeting(m.id)).status == "booked"

    # corrected on the same card, it goes on
    confirm = await chat.press(lead, short, "Continue", reason="Ofsted visit")
    assert not confirm.error and "Cancel this TSM for good?" in text_of(confirm)
    # a forged final step with a short reason: the reason card again, nothing cancelled
    forged = await chat.act(lead, "meeting.cancel", {"meetingId": m.id, "reason": "x"})
    assert (
        forged.error and input_values(forged.card)["reason"] == "x" and message_under(forged.card, "reason")
    )
    assert (await chat.meeting(m.id)).status == "booked"


async def test_the_cards_reason_check_is_the_servers(chat):
    """For each reason: the card's regex (as Teams applies it) accepts it exactly when the server does."""
    lead, m = await booked(chat)
    for reason in ("", "  ", "no", " no ", "a b", "abc", "  ab  ", "ok\n\nyes", "\n\nab\n", "Ofsted"):
        r = await chat.act(lead, "meeting.cancel_confirm", {"meetingId": m.id, "reason": reason})
        client_ok = re.search(cards.REASON_REGEX, reason) is not None
        assert client_ok == (not r.error), (reason, text_of(r))


async def test_move_to_this_time_with_no_time_keeps_the_proposal_and_its_accept(chat):
    officer = await chat.officer_of(BROOKFIELD)
    school = await chat.school(BROOKFIELD)
    picker = await chat.say(officer, "book for school")
    start = await chat.press(officer, picker, "Next", schoolId=str(school.id))
    dates = await chat.press(officer, start, "More dates", mode="on_site")
    review = await chat.press(officer, await chat.press(officer, dates, "Show times"), "Choose this time")
    assert not (await chat.press(officer, review, "Book it")).error
    lead = await chat.contact(BROOKFIELD)
    proposal = Reply(card=next(m.card for r, m in await told(chat) if r.kind == "contact"))
    [m] = await chat.meetings_of(BROOKFIELD)
    # the card asks for a time before sending "Move to this time" (Accept sends no inputs, so it never asks)
    field = inputs(proposal.card)["start"]
    assert field["isRequired"] and field["errorMessage"] and "value" not in field
    assert button(proposal.card, "Accept")["associatedInputs"] == "none"

    again = await chat.press(lead, proposal, "Move to this time")  # no time chosen (an old client, or forged)
    assert again.error and "choose a time" in message_under(again.card, "start")
    assert set(titles(proposal.card)) == set(titles(again.card))  # Accept is still there
    assert choices(again.card, "start") == choices(proposal.card, "start")
    before = await chat.meeting(m.id)
    accepted = await chat.press(lead, again, "Accept")
    assert not accepted.error and "has been told" in text_of(accepted)
    assert (await chat.meeting(m.id)).start == before.start


async def test_move_with_no_time_after_the_senior_leader_cannot_attend_keeps_the_times(chat):
    lead, m = await booked(chat)
    ask = await chat.say(lead, "senior leader unavailable")
    slots = await chat.press(lead, ask, "Find another time")
    again = await chat.press(lead, slots, "Move to this time", start="")
    assert again.error and message_under(again.card, "start")
    assert {"Move to this time", "Keep the current time"} <= set(titles(again.card))
    moved = await chat.press(lead, again, "Move to this time", start=choices(again.card, "start")[1]["value"])
    assert not moved.error and "Your TSM has moved" in text_of(moved)


async def test_an_evaluation_without_ratings_returns_the_card_with_what_was_entered(chat):
    lead, m = await booked(chat, ASHCOMBE)
    chat.clock.now = m.end.replace(tzinfo=chat.clock.now.tzinfo) + timedelta(hours=2)
    card = await chat.say(lead, "feedback")
    assert not card.error and "How was your TSM?" in text_of(card)
    questions = [i for i, n in inputs(card.card).items() if n["type"] == "Input.ChoiceSet"]
    assert len(questions) == 4 and all(inputs(card.card)[q]["isRequired"] for q in questions)

    again = await chat.press(lead, card, "Send feedback", usefulness="4", comments="Useful, thanks")
    assert again.error
    assert (
        input_values(again.card)["usefulness"] == "4"
        and input_values(again.card)["comments"] == "Useful, thanks"
    )
    assert message_under(again.card, "usefulness") is None
    for q in questions[1:]:
        assert "Please rate" in message_under(again.card, q), q
    assert titles(again.card) == ["Send feedback"]
    done = await chat.press(lead, again, "Send feedback", working_together="5", clarity="4", overall="5")
    assert not done.error and "saved" in text_of(done)
    assert not [n for n in walk(done.card) if n.get("color") == "Attention"]
