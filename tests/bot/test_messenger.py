"""Proactive sends through the real adapter to the fake connector: 429 retried after Retry-After (bounded),
403 recorded and never retried, no conversation, Teams' per-conversation limits."""

from __future__ import annotations

from fakes.clock import FakeClock
from fakes.connector import installation_update, member, message
from sqlmodel import select

from bot.messenger import TeamsMessenger
from tsm.adapters.db.teams import BotConversation
from tsm.messaging import Message, Recipient, SendStatus
from tsm.ratelimit import SendLimiter


async def _officer_installed(h) -> int:
    officer_id = h.world.officers["ann"]
    h.connector.members["29:ann"] = member("29:ann", "ann@la.example", "aad-ann", "Ann Officer")
    r = await h.post(
        installation_update(h.connector, conv="a:ann", user_id="29:ann", aad="aad-ann", name="Ann Officer")
    )
    assert r.status == 200
    h.connector.sent.clear()
    h.connector.attempts.clear()
    return officer_id


def _messenger(h, t: FakeClock, **kw) -> TeamsMessenger:
    limiter = SendLimiter(clock=t.monotonic, sleep=t.sleep)
    return TeamsMessenger(h.runtime.adapter, h.runtime.store, limiter=limiter, sleep=t.sleep, **kw)


async def _conv(h, cid="a:ann") -> BotConversation:
    async with h.app.db.reader() as s:
        return (await s.exec(select(BotConversation).where(BotConversation.conversation_id == cid))).one()


async def test_no_conversation(harness):
    m = _messenger(harness, FakeClock(seconds=1000.0))
    result = await m.send(Recipient("officer", harness.world.officers["bob"]), Message("hi"))
    assert result.status is SendStatus.NO_CONVERSATION and harness.connector.attempts.total() == 0


async def test_sent_with_card_to_the_stored_conversation(harness):
    h = harness
    officer_id = await _officer_installed(h)
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Agenda"}]}
    result = await _messenger(h, FakeClock(seconds=1000.0)).send(
        Recipient("officer", officer_id), Message("Your agenda", card)
    )
    assert result.status is SendStatus.SENT
    [sent] = h.connector.sent
    assert sent.conversation_id == "a:ann" and sent.reply_to is None
    assert sent.activity["text"] == "Your agenda" and sent.activity["attachments"][0]["content"] == card
    assert sent.activity["conversation"]["id"] == "a:ann"


async def test_429_is_retried_after_retry_after(harness):
    h = harness
    officer_id = await _officer_installed(h)
    h.connector.fail_next = [(429, {"Retry-After": "2"}, "TooManyRequests"), (503, {}, "ServiceUnavailable")]
    t = FakeClock(seconds=1000.0)
    result = await _messenger(h, t, base_backoff=1.0).send(Recipient("officer", officer_id), Message("hello"))
    assert result.status is SendStatus.SENT
    assert h.connector.attempts.total() == 3 and len(h.connector.sent) == 1
    assert round(t.sleeps[0], 3) == 2.0  # Retry-After honoured
    assert (
        1.0 <= round(t.sleeps[1], 3) <= 3.0
    )  # then exponential backoff with jitter (2nd attempt: 2 s x 0.5-1.5)


async def test_429_retries_are_bounded_then_handed_back(harness):
    h = harness
    officer_id = await _officer_installed(h)
    h.connector.fail_next = [(429, {"Retry-After": "1"}, "TooManyRequests")] * 10
    t = FakeClock(seconds=1000.0)
    result = await _messenger(h, t, max_attempts=3).send(Recipient("officer", officer_id), Message("hello"))
    assert result.status is SendStatus.RETRY and result.retry_after == 1.0
    assert h.connector.attempts.total() == 3 and h.connector.sent == []
    # A Retry-After longer than we hold a task for is handed back at once, for the caller's ledger.
    h.connector.fail_next = [(429, {"Retry-After": "600"}, "TooManyRequests")]
    h.connector.attempts.clear()
    result = await _messenger(h, FakeClock(seconds=1000.0), max_wait=60).send(
        Recipient("officer", officer_id), Message("x")
    )
    assert (
        result.status is SendStatus.RETRY
        and result.retry_after == 600.0
        and h.connector.attempts.total() == 1
    )


async def test_403_is_recorded_and_never_retried_until_the_user_writes_again(harness):
    h = harness
    officer_id = await _officer_installed(h)
    h.connector.fail_next = [(403, {}, "MessageWritesBlocked")]
    m = _messenger(h, FakeClock(seconds=1000.0))
    result = await m.send(Recipient("officer", officer_id), Message("hello"))
    assert result.status is SendStatus.BLOCKED and "MessageWritesBlocked" in result.detail
    assert h.connector.attempts.total() == 1
    conv = await _conv(h)
    assert conv.blocked_at is not None and "MessageWritesBlocked" in conv.last_error
    result = await m.send(Recipient("officer", officer_id), Message("hello again"))
    assert result.status is SendStatus.BLOCKED and h.connector.attempts.total() == 1  # not even attempted
    # The officer writes to the bot: the block is lifted.
    await h.post(
        message(h.connector, "hello", conv="a:ann", user_id="29:ann", aad="aad-ann", name="Ann Officer")
    )
    assert (await _conv(h)).blocked_at is None
    h.connector.sent.clear()
    result = await m.send(Recipient("officer", officer_id), Message("hello at last"))
    assert result.status is SendStatus.SENT and h.connector.sent[0].activity["text"] == "hello at last"


async def test_other_errors_fail_without_retry(harness):
    h = harness
    officer_id = await _officer_installed(h)
    h.connector.fail_next = [(400, {}, "BadSyntax")]
    result = await _messenger(h, FakeClock(seconds=1000.0)).send(
        Recipient("officer", officer_id), Message("hello")
    )
    assert result.status is SendStatus.FAILED and h.connector.attempts.total() == 1
    assert (await _conv(h)).blocked_at is None


async def test_uninstalled_conversation_is_not_used(harness):
    h = harness
    officer_id = await _officer_installed(h)
    await h.post(installation_update(h.connector, "remove", conv="a:ann", user_id="29:ann", aad="aad-ann"))
    result = await _messenger(h, FakeClock(seconds=1000.0)).send(
        Recipient("officer", officer_id), Message("hello")
    )
    assert result.status is SendStatus.NO_CONVERSATION and h.connector.attempts.total() == 0


async def test_per_conversation_limit_is_kept(harness):
    h = harness
    officer_id = await _officer_installed(h)
    t = FakeClock(seconds=1000.0)
    m = _messenger(h, t)
    for i in range(9):
        assert (await m.send(Recipient("officer", officer_id), Message(f"n{i}"))).delivered
    assert len(h.connector.sent) == 9
    # Teams allows 7 a second per conversation: the 8th waited for the window to move on.
    assert sum(round(x, 3) for x in t.sleeps) >= 1.0 - 1e-6
    assert [s.activity["text"] for s in h.connector.sent] == [f"n{i}" for i in range(9)]


async def test_connector_clients_are_reused(harness):
    h = harness
    officer_id = await _officer_installed(h)
    m = _messenger(h, FakeClock(seconds=1000.0))
    for _ in range(3):
        await m.send(Recipient("officer", officer_id), Message("x"))
    for _ in range(3):
        await h.post(message(h.connector, "hello", conv="a:ann", user_id="29:ann", aad="aad-ann"))
    assert h.runtime.pool.created == 1  # one client for this serviceUrl, turns and proactive sends alike


async def test_worker_messenger_is_built_from_the_app(harness):
    """``tsm worker`` builds its messenger with ``bot.runtime.build_messenger(app)`` (no server in that process)."""
    from bot.runtime import build_messenger

    h = harness
    officer_id = await _officer_installed(h)
    m = build_messenger(h.app)
    assert (
        await m.send(Recipient("officer", h.world.officers["bob"]), Message("x"))
    ).status is SendStatus.NO_CONVERSATION
    assert (await m.send(Recipient("officer", officer_id), Message("from the worker"))).delivered
    assert h.connector.sent[-1].activity["text"] == "from the worker"
    await m.adapter.pool.close()
