"""Literal Teams activities through the real aiohttp server and CloudAdapter, replies caught by a fake connector."""

from __future__ import annotations

import asyncio

from botkit import make_harness, production
from fakes.connector import TENANT, conversation_update, installation_update, invoke, member, message
from sqlmodel import select

from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.teams import BotConversation, BotProcessedActivity


async def _contact(h, key="low_primary.lead"):
    async with h.app.db.reader() as s:
        return await s.get(SchoolContact, h.world.contacts[key])


async def _conversations(h):
    async with h.app.db.reader() as s:
        return list(await s.exec(select(BotConversation)))


async def _know_user(h, aad="aad-1", user_id="29:user-1", key="low_primary.lead"):
    c = await _contact(h, key)
    h.connector.members[user_id] = member(user_id, c.email.upper(), aad, c.name)
    return c


async def test_message_identified_by_roster_email_then_by_remembered_aad(harness):
    h = harness
    c = await _know_user(h)
    r = await h.post(message(h.connector, "ping"))
    assert r.status == 200
    assert h.connector.texts() == [f"pong contact:{c.id} tz=Europe/London"]
    assert h.connector.sent[0].reply_to is not None  # a reply to the user's message
    assert h.connector.roster_calls == 1
    # The AAD id is remembered: the next turn needs no roster lookup, even from a fresh process cache.
    h.runtime.bot._roster.clear()
    r = await h.post(message(h.connector, "ping"))
    assert r.status == 200 and len(h.connector.sent) == 2
    assert h.connector.roster_calls == 1
    assert (await _contact(h)).teams_aad_id == "aad-1"


async def test_unknown_user_is_told_whom_to_ask_and_nothing_runs(harness):
    h = harness
    h.connector.members["29:user-1"] = member(
        "29:user-1", "stranger@elsewhere.example", "aad-x", "Sam Stranger"
    )
    r = await h.post(message(h.connector, "ping", aad="aad-x", name="Sam Stranger"))
    assert r.status == 200
    [text] = h.connector.texts()
    assert "stranger@elsewhere.example" in text and "link officer" in text and "attendance team" in text
    assert h.counter.calls == {}
    # The conversation is stored (the bot may greet them once added) but linked to nobody.
    [conv] = await _conversations(h)
    assert conv.contact_id is None and conv.officer_id is None


async def test_roster_failure_is_tolerated(harness):
    h = harness  # no member registered: the roster answers 404
    r = await h.post(message(h.connector, "ping", aad="aad-unknown"))
    assert r.status == 200
    [text] = h.connector.texts()
    assert "can't find you" in text
    # A failed lookup is cached for a while: a second turn does not ask the roster again.
    await h.post(message(h.connector, "ping", aad="aad-unknown"))
    assert h.connector.roster_calls == 1


async def test_same_activity_twice_is_processed_once(harness):
    h = harness
    await _know_user(h)
    act = message(h.connector, "ping", id="f:dup-1")
    r1 = await h.post(act)
    r2 = await h.post(act)
    assert r1.status == 200 and r2.status == 200
    assert h.counter.calls == {"ping": 1}
    assert len(h.connector.sent) == 1
    # The same id in another conversation is another activity.
    other = message(h.connector, "ping", id="f:dup-1", conv="a:conv-2")
    assert (await h.post(other)).status == 200
    assert h.counter.calls == {"ping": 2}


async def test_concurrent_redeliveries_claim_once(harness):
    h = harness
    await _know_user(h)
    act = message(h.connector, "ping", id="f:race-1")
    results = await asyncio.gather(*(h.post(act) for _ in range(8)))
    assert all(r.status == 200 for r in results)
    assert h.counter.calls == {"ping": 1}


async def test_invoke_answers_200_with_the_replacement_card_and_redelivery_gets_the_same(harness):
    h = harness
    await _know_user(h)
    act = invoke(h.connector, "test.card", {"n": 7}, id="f:inv-1")
    r = await h.post(act)
    assert r.status == 200
    body = await r.json()
    assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    texts = [b["text"] for b in body["value"]["body"]]
    assert texts == ["Here is your card", "n=7"]
    assert h.connector.sent == []  # the card replaces the one acted on: no extra message
    r2 = await h.post(act)
    assert r2.status == 200 and await r2.json() == body
    assert h.counter.calls == {"test.card": 1}
    await h.runtime.store.flush()
    async with h.app.db.reader() as s:
        row = await s.get(BotProcessedActivity, ("a:conv-1", "f:inv-1"))
    assert row.response == body
    # Another instance (no answer in its memory) gets the stored card too.
    h.runtime.store._responses.clear()
    r3 = await h.post(act)
    assert await r3.json() == body and h.counter.calls == {"test.card": 1}


async def test_invoke_errors_come_back_as_a_card(harness):
    h = harness
    await _know_user(h)
    r = await h.post(invoke(h.connector, "no.such_verb", {}))
    body = await r.json()
    assert r.status == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
    assert "not one I know" in body["value"]["body"][0]["text"]
    assert body["value"]["body"][0]["color"] == "Attention"
    # A handler that crashes: an apology card, not a 500 and not a traceback.
    r = await h.post(invoke(h.connector, "test.fail", {}))
    body = await r.json()
    assert r.status == 200 and "something went wrong" in body["value"]["body"][0]["text"]
    # A malformed invoke (no action, or not an Action.Execute) is refused with a card; nothing dispatched.
    bad = invoke(h.connector, "test.card", {})
    bad["value"] = {"trigger": "manual"}
    r = await h.post(bad)
    body = await r.json()
    assert r.status == 200 and "can't read" in body["value"]["body"][0]["text"]
    r = await h.post(invoke(h.connector, "test.card", {}, action_type="Action.Submit"))
    assert r.status == 200 and "can't read" in (await r.json())["value"]["body"][0]["text"]
    assert h.counter.calls == {"test.fail": 1}


async def test_submit_fallback_message_with_value_runs_the_verb(harness):
    h = harness
    await _know_user(h)
    r = await h.post(message(h.connector, None, value={"verb": "test.card", "n": 3}))
    assert r.status == 200
    [card] = h.connector.cards()
    assert card["body"][0]["text"] == "n=3"
    assert h.connector.texts() == ["Here is your card"]
    # A value whose verb is not a string is an unknown button, not a crash.
    await h.post(message(h.connector, None, value={"verb": ["x"]}))
    assert "not one I know" in h.connector.texts()[-1]


async def test_installation_stores_reference_and_greets(harness):
    h = harness
    c = await _know_user(h)
    r = await h.post(installation_update(h.connector, "add"))
    assert r.status == 200
    [conv] = await _conversations(h)
    assert conv.conversation_id == "a:conv-1" and conv.tenant_id == TENANT and conv.installed
    assert conv.contact_id == c.id and conv.service_url == h.connector.url
    assert conv.reference["conversation"]["id"] == "a:conv-1"
    assert conv.reference["bot"]["id"] == "28:bot-app-id"
    [greeting] = h.connector.texts()
    assert greeting.startswith("Hello Lead!") and "help" in greeting
    # Uninstall: the reference is kept but marked, so the messenger stops using it.
    await h.post(installation_update(h.connector, "remove"))
    [conv] = await _conversations(h)
    assert conv.installed is False


async def test_a_conversation_is_greeted_once_whatever_install_activities_arrive(harness):
    """Issue 14 item 7a: a reinstall (installationUpdate add after a remove) greeted again under the first greeting
    (Teams keeps a 1:1 chat's history), and so could conversationUpdate + installationUpdate for one install."""
    h = harness
    await _know_user(h)
    await h.post(installation_update(h.connector, "add"))
    await h.post(conversation_update(h.connector))  # Teams may send both for the same install
    await h.post(installation_update(h.connector, "remove"))
    await h.post(installation_update(h.connector, "add"))  # reinstalled
    [greeting] = h.connector.texts()
    assert greeting.startswith("Hello Lead!")
    [conv] = await _conversations(h)
    assert conv.installed and conv.greeted_at is not None
    # The other order for a new conversation: conversationUpdate first stores it; the install still greets, once.
    h.connector.sent.clear()
    await h.post(conversation_update(h.connector, conv="a:conv-2"))
    assert h.connector.texts() == []
    await h.post(installation_update(h.connector, "add", conv="a:conv-2"))
    await h.post(installation_update(h.connector, "add", conv="a:conv-2"))  # a second add (new activity id)
    [again] = h.connector.texts()
    assert again.startswith("Hello Lead!")


async def test_conversation_update_stores_reference_without_message_bodies(harness):
    h = harness
    await _know_user(h)
    r = await h.post(conversation_update(h.connector))
    assert r.status == 200
    [conv] = await _conversations(h)
    assert conv.installed and conv.user_id == "29:user-1"
    # A message refreshes the same row; its text is stored nowhere.
    await h.post(message(h.connector, "ping secret words"))
    [conv] = await _conversations(h)
    assert "secret words" not in repr(conv.reference)
    async with h.app.db.reader() as s:
        rows = list(await s.exec(select(BotProcessedActivity)))
    assert all("secret" not in repr(r.response) for r in rows)


async def test_malformed_and_oversized_bodies_are_4xx_and_change_nothing(harness):
    h = harness
    c = h.client
    r = await c.post("/api/messages", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400
    r = await c.post("/api/messages", data=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert r.status == 400
    r = await c.post("/api/messages", json={"text": "no type"})
    assert r.status == 400
    r = await c.post("/api/messages", json={"type": "message", "text": "no conversation"})
    assert r.status == 400
    r = await c.post("/api/messages", data=b"type=message", headers={"Content-Type": "text/plain"})
    assert r.status == 415
    big = message(h.connector, "x" * (300 * 1024))
    r = await h.post(big)
    assert r.status == 413
    r = await c.get("/api/messages")
    assert r.status == 405
    assert await _conversations(h) == [] and h.connector.sent == []


async def test_file_reply_becomes_a_download_link_served_by_the_bot(harness):
    h = harness
    await _know_user(h)
    r = await h.post(invoke(h.connector, "test.file", {}))
    assert r.status == 200
    [card] = h.connector.cards()
    [action] = card["actions"]
    assert action["type"] == "Action.OpenUrl" and action["url"].endswith("/tsm-invitation.ics")
    path = action["url"].split("://", 1)[1].split("/", 1)[1]
    got = await h.client.get("/" + path)
    assert got.status == 200 and got.headers["Content-Type"].startswith("text/calendar")
    assert await got.read() == b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    assert (await h.client.get("/files/not-a-token/tsm-invitation.ics")).status == 404


async def test_a_turns_change_is_delivered_through_the_event_sweep_not_the_turn(harness):
    """The turn only records the change (a domain event) and wakes delivery; the scheduler's event sweep sends it
    through the Teams messenger, once: a second sweep finds nothing to send."""
    from scheduler.service import build_jobs

    h = harness
    await _know_user(h)
    # The officer installed the bot earlier: their conversation is known.
    h.connector.members["29:ann"] = member("29:ann", "ann@la.example", "aad-ann", "Ann Officer")
    await h.post(
        installation_update(h.connector, conv="a:ann", user_id="29:ann", aad="aad-ann", name="Ann Officer")
    )
    woken = []
    h.runtime.bot.on_change = lambda: woken.append(1)
    h.connector.sent.clear()
    assert (
        await h.post(message(h.connector, "ping"))
    ).status == 200 and woken == []  # a turn that only reads
    h.connector.sent.clear()
    r = await h.post(invoke(h.connector, "test.change", {}))
    assert r.status == 200 and woken == [1]
    await h.drain()
    assert (
        h.connector.sent == []
    )  # the invoke is answered in its HTTP response; nothing else is sent by the turn
    h.connector.sent.clear()
    jobs = build_jobs(h.app, h.runtime.messenger, worker_id="w1")
    first = await jobs.events()
    assert first.sent == 1 and first.by_kind == {"ev.book_requested": 1}
    [(conv, text)] = [(s.conversation_id, s.activity["text"]) for s in h.connector.sent]
    assert conv == "a:ann" and "asked to book a TSM" in text and "Low Primary School" in text
    assert (await jobs.events()).claimed == 0


async def test_healthz_reports_database_and_scheduler(harness):
    r = await harness.client.get("/healthz")
    body = await r.json()
    assert r.status == 200
    assert body["database"]["ok"] is True and body["scheduler"] == {"enabled": False, "running": False}
    assert body["graph"]["configured"] is False and body["auth"].startswith("none")


async def test_tenant_allow_list(sqlite_url, connector):
    """Only the tenants registered in the database (tsm tenants add) are served, whatever the case of the id."""
    h = await make_harness(
        sqlite_url, connector, tenants=[("aaaaaaaa-0000-0000-0000-000000000000", "school", "100001")]
    )
    try:
        await _know_user(h)
        r = await h.post(message(connector, "ping"))
        assert r.status == 403
        assert h.counter.calls == {} and connector.sent == [] and await _conversations(h) == []
        r = await h.post(message(connector, "ping", tenant="AAAAAAAA-0000-0000-0000-000000000000"))
        assert r.status == 200 and h.counter.calls == {"ping": 1}
    finally:
        await h.client.close()
        await h.app.close()


async def test_auth_on_requires_a_valid_bot_framework_token(sqlite_url, connector):
    h = await make_harness(
        sqlite_url,
        connector,
        microsoft_app_id="00000000-1111-2222-3333-444444444444",
        microsoft_app_password="not-used",
        microsoft_app_tenant_id=TENANT,
        **production(connector),
    )
    try:
        await _know_user(h)
        r = await h.post(message(connector, "ping"))
        assert r.status == 401
        r = await h.post(message(connector, "ping"), headers={"Authorization": "Bearer not-a-jwt"})
        assert r.status == 401
        r = await h.post(invoke(connector, "test.card", {}), headers={"Authorization": "Basic abc"})
        assert r.status == 401
        assert h.counter.calls == {} and connector.sent == [] and await _conversations(h) == []
        health = await (await h.client.get("/healthz")).json()
        assert health["auth"] == "bot-framework"
    finally:
        await h.client.close()
        await h.app.close()


async def test_meeting_end_event_goes_to_the_scheduler_once(harness, monkeypatch):
    import scheduler.meeting_events as meeting_events

    calls = []

    async def ended(app, messenger, *, join_url=None, teams_meeting_id=None, jobs=None):
        calls.append((join_url, teams_meeting_id))
        return meeting_events.MeetingEndOutcome(None, "unknown_meeting")

    monkeypatch.setattr(meeting_events, "teams_meeting_ended", ended)
    h = harness
    act = message(h.connector, "", conv="19:meeting_abc@thread.v2", id="f:end-1")
    act.pop("text")
    act.update(
        type="event",
        name="application/vnd.microsoft.meetingEnd",
        value={
            "Id": "m1",
            "MeetingType": "Scheduled",
            "Title": "TSM",
            "JoinUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
            "EndTime": "2026-11-25T11:00:00Z",
        },
        channelData={"tenant": {"id": TENANT}, "meeting": {"id": "MCMxOTptZWV0aW5nX2FiY0B0aHJlYWQudjIjMA=="}},
    )
    act["conversation"].update(conversationType="groupChat", isGroup=True)
    assert (await h.post(act)).status == 200
    assert (await h.post(act)).status == 200  # redelivered: handled once
    assert calls == [
        (
            "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0",
            "MCMxOTptZWV0aW5nX2FiY0B0aHJlYWQudjIjMA==",
        )
    ]
    assert await _conversations(h) == []  # a meeting chat is not a conversation to write to
    # Other events are ignored.
    other = {**act, "id": "f:other", "name": "application/vnd.microsoft.meetingStart"}
    assert (await h.post(other)).status == 200 and len(calls) == 1


async def test_meeting_end_for_an_unknown_meeting_is_ignored_by_the_real_scheduler(harness):
    h = harness
    act = message(h.connector, "", conv="19:meeting_zzz@thread.v2")
    act.pop("text")
    act.update(
        type="event",
        name="application/vnd.microsoft.meetingEnd",
        value={"JoinUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_zzz%40thread.v2/0"},
        channelData={"tenant": {"id": TENANT}, "meeting": {"id": "bm90LWEtbWVldGluZw=="}},
    )
    assert (await h.post(act)).status == 200
    assert h.connector.sent == []


async def test_redeliveries_through_the_adapter_on_both_databases(any_db_url, connector):
    """The same message and the same invoke, each delivered 6 times at once: handled once, on SQLite and PostgreSQL."""
    h = await make_harness(any_db_url, connector)
    try:
        await _know_user(h)
        msg = message(connector, "ping", id="f:pg-msg")
        inv = invoke(connector, "test.card", {"n": 1}, id="f:pg-inv")
        results = await asyncio.gather(*(h.post(msg) for _ in range(6)), *(h.post(inv) for _ in range(6)))
        assert all(r.status == 200 for r in results)
        bodies = [await r.json() for r in results[6:]]
        assert all(b == bodies[0] for b in bodies) and bodies[0]["value"]["body"][1]["text"] == "n=1"
        assert h.counter.calls == {"ping": 1, "test.card": 1}
        assert len(connector.sent) == 1
    finally:
        await h.client.close()
        await h.app.close()
