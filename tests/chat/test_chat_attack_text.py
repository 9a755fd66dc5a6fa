"""Issue 12 B3/B4 through the chat: a cancellation reason with a pupil's UPN and date of birth is refused at the
first step (before a confirmation card shows it) and at the last (a forged "Yes, cancel it" carrying it), and the
officer reads a reason with markup as the words typed."""

from __future__ import annotations

from chatkit import text_of, told
from test_chat_booking import booked

ATTACK = "Jayden Smith (UPN A123456789012, DOB 01/02/2015)"


async def test_a_reason_with_a_upn_is_refused_at_both_steps_and_nothing_changes(chat):
    lead, m = await booked(chat)
    before = await chat.snapshot()
    r = await chat.say(lead, "cancel")
    refused = await chat.press(lead, r, "Continue", reason=ATTACK)
    assert refused.error and "A123456789012" in text_of(refused) and "never stored" in text_of(refused)
    forged = await chat.act(lead, "meeting.cancel", {"meetingId": m.id, "reason": ATTACK})
    assert forged.error and "never stored" in text_of(forged)
    named = await chat.act(
        lead, "meeting.cancel", {"meetingId": m.id, "reason": "Jayden Smith is in hospital"}
    )
    assert named.error and "“Jayden Smith”" in text_of(named)
    assert "Cancel this TSM?" in text_of(named)  # the reason card again, to edit the words flagged
    assert await chat.snapshot() == before and await told(chat) == []


async def test_the_officer_reads_a_reason_with_a_link_as_text(chat):
    lead, m = await booked(chat)
    done = await chat.act(
        lead,
        "meeting.cancel",
        {"meetingId": m.id, "reason": "Rebook at [our new page](https://evil.example/x)"},
    )
    assert not done.error, text_of(done)
    (_, message), *_ = await told(chat)
    assert "\\[our new page\\]\\(https://evil.example/x\\)" in message.text
