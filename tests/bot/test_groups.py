"""Personal data only in personal chats (issue 12 A4): in a group chat, a channel or a meeting's chat the bot answers
only "message me privately" with a button that opens the 1:1 chat; "my meetings", "my schools" and reports were
answered into the shared conversation before.

The manifest keeps its team and group-chat scopes on purpose: Teams sends the meeting-end event only to an app in
the meeting's chat (docs/school-it.md), and that chat is a group chat.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botkit import make_harness
from fakes.connector import BOT_ID, installation_update, invoke, member, message
from sqlmodel import select

from tsm.adapters.db.directory import Officer, School, SchoolContact
from tsm.adapters.db.teams import BotConversation
from tsm.chat.app import build_router


def _grouped(activity: dict, kind: str) -> dict:
    activity["conversation"] = {
        **activity["conversation"],
        "conversationType": kind,
        "isGroup": True,
        "id": f"19:{kind}-thread@thread.v2",
    }
    return activity


async def test_my_meetings_in_a_group_gets_no_personal_data(sqlite_url, connector):
    # The clock in the factories' autumn term, so that the officer's schools are this term's.
    h = await make_harness(
        sqlite_url, connector, router=build_router(), clock_start=datetime(2025, 11, 11, 10, tzinfo=UTC)
    )
    try:
        async with h.app.db.reader() as s:
            lead = await s.get(SchoolContact, h.world.contacts["low_primary.lead"])
            school = await s.get(School, lead.school_id)
            ann = await s.get(Officer, h.world.officers["ann"])
        connector.members["29:user-1"] = member("29:user-1", lead.email, "aad-1", lead.name)
        connector.members["29:ann"] = member("29:ann", ann.email, "aad-ann", ann.name)

        # The control: in her 1:1 chat, an officer's "my schools" names her schools.
        r = await h.post(message(connector, "my schools", user_id="29:ann", aad="aad-ann", conv="a:ann"))
        assert r.status == 200
        personal = " ".join(connector.texts()) + repr(connector.cards())
        assert school.name in personal
        connector.sent.clear()
        roster_before = connector.roster_calls

        asks = [
            _grouped(message(connector, "<at>TSM Booking</at> my meetings"), "groupChat"),
            _grouped(message(connector, "my schools", user_id="29:ann", aad="aad-ann"), "channel"),
            _grouped(message(connector, "report coverage", user_id="29:ann", aad="aad-ann"), "groupChat"),
            _grouped(invoke(connector, "book.start", {}), "groupChat"),
        ]
        for activity in asks:
            r = await h.post(activity)
            assert r.status == 200
        invoke_answer = (await r.json())["value"]
        said = " ".join(connector.texts()) + repr(connector.cards()) + repr(invoke_answer)
        for private in (school.name, lead.name, ann.name, lead.email, "Low Primary", "Bob's Primary"):
            assert private not in said, private
        cards = [*connector.cards(), invoke_answer]
        assert len(cards) == 4
        for card in cards:
            [button] = card["actions"]
            assert button == {
                "type": "Action.OpenUrl",
                "title": "Message me privately",
                "url": f"https://teams.microsoft.com/l/chat/0/0?users={BOT_ID}",
            }
            assert "private chat" in card["body"][0]["text"]
        # The app added to a group chat: the conversation is kept (for nothing personal), nobody is identified.
        r = await h.post(
            _grouped(installation_update(connector, user_id="29:ann", aad="aad-ann"), "groupChat")
        )
        assert r.status == 200 and len(connector.cards()) == 3
        # Nobody was looked up, and no group conversation is tied to a person.
        assert connector.roster_calls == roster_before
        async with h.app.db.reader() as s:
            groups = list(
                await s.exec(select(BotConversation).where(BotConversation.conversation_type != "personal"))
            )
        assert [(g.contact_id, g.officer_id) for g in groups] == [(None, None)]
    finally:
        await h.client.close()
        await h.app.close()
