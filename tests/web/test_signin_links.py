"""Sign-in links and sessions (tsm/services/signin.py) on both databases: only hashes stored, single use even when
pressed twice at once, expiry, bound to one person, inactive people refused, revocation."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

from factories import make_world
from sqlmodel import col, func, select

from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import AuditLog
from tsm.adapters.db.signin import SignInLink, WebSession
from tsm.clock import FixedClock
from tsm.messaging import Recipient
from tsm.services.signin import SignInLinks


async def test_links_and_sessions(any_db_url):
    db = Database(any_db_url)
    try:
        w = await make_world(db)
        clock = FixedClock(datetime(2025, 11, 10, 9, tzinfo=UTC))
        links = SignInLinks(db, base_url="https://tsm.example.org/", clock=clock)
        lead = w.contacts["low_primary.lead"]
        url = await links.issue(Recipient("contact", lead), card={"type": "AdaptiveCard", "body": []})
        assert url.startswith("https://tsm.example.org/web/link/")
        token = url.rsplit("/", 1)[1]
        assert len(token) >= 43  # 256 bits, base64url
        async with db.reader() as s:
            [row] = list(await s.exec(select(SignInLink)))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in str(
            row.model_dump()
        )
        assert (await links.peek(token)).ok and (await links.peek(token)).name

        # Pressed twice at once: one session.
        results = await asyncio.gather(*(links.exchange(token) for _ in range(5)))
        sessions = [r for r in results if not isinstance(r, str)]
        assert len(sessions) == 1 and sorted(r for r in results if isinstance(r, str)) == ["used"] * 4
        [got] = sessions
        assert got.card == {"type": "AdaptiveCard", "body": []}
        session = await links.session(got.session_token)
        actor = await links.actor(session)
        assert (actor.kind, actor.id, actor.school_id) == ("contact", lead, w.schools["low_primary"])
        async with db.reader() as s:
            [ws] = list(await s.exec(select(WebSession)))
        assert ws.token_hash == hashlib.sha256(got.session_token.encode()).hexdigest()

        # CSRF tokens are the session's own.
        assert links.csrf_ok(got.session_token, links.csrf_token(got.session_token))
        assert not links.csrf_ok(got.session_token, links.csrf_token("x" * 43))
        assert not links.csrf_ok(got.session_token, None)

        # Expiry of links and sessions.
        old = (await links.issue(Recipient("contact", lead))).rsplit("/", 1)[1]
        clock.advance(timedelta(days=7))
        assert await links.exchange(old) == "expired"
        assert await links.session(got.session_token) is None  # 12 hours are long gone

        # Unknown people, inactive people, no page: no link.
        assert await links.issue(Recipient("contact", 999_999)) is None
        assert await links.issue(Recipient("officer", 999_999)) is None
        fresh = (await links.issue(Recipient("contact", lead))).rsplit("/", 1)[1]
        async with db.transaction() as s:
            c = await s.get(SchoolContact, lead)
            c.active = False
            s.add(c)
        assert await links.issue(Recipient("contact", lead)) is None
        assert await links.exchange(fresh) == "inactive"
        off = SignInLinks(db, base_url="https://x.example", enabled=False, clock=clock)
        assert await off.issue(Recipient("officer", w.officers["ann"])) is None
        assert await off.request("ann@la.example") is False

        # Revocation: every live session and unused link of an address; sessions of others untouched.
        ann = w.officers["ann"]
        a1 = await links.exchange((await links.issue(Recipient("officer", ann))).rsplit("/", 1)[1])
        a2 = await links.exchange((await links.issue(Recipient("officer", ann))).rsplit("/", 1)[1])
        spare = (await links.issue(Recipient("officer", ann))).rsplit("/", 1)[1]
        bob = await links.exchange(
            (await links.issue(Recipient("officer", w.officers["bob"]))).rsplit("/", 1)[1]
        )
        assert await links.revoke("  ANN@la.example ") == (2, 1)
        async with db.reader() as s:
            audit = [
                (a.action, a.actor, a.entity, a.detail)
                for a in await s.exec(
                    select(AuditLog)
                    .where(col(AuditLog.action).in_(("web.signin", "web.revoke")))
                    .order_by(AuditLog.id)
                )
            ]
        assert audit.count(("web.signin", f"officer:{ann}", "signin_link", None)) == 2
        assert audit[-1] == ("web.revoke", "admin:cli", "officer", {"sessions": 2, "links": 1})
        assert await links.session(a1.session_token) is None and await links.session(a2.session_token) is None
        assert await links.exchange(spare) == "expired"
        assert await links.session(bob.session_token) is not None
        async with db.reader() as s:
            assert (await s.exec(select(func.count()).select_from(WebSession))).one() == 4

        # Housekeeping: what ended over a day ago goes (the first link, spent a week ago, and its session, expired);
        # what ended today stays until tomorrow's run, and a link still within its week stays.
        assert await links.purge() == 2
        clock.advance(timedelta(days=2))
        assert await links.purge() == 5 + 3  # five links spent or expired, three sessions revoked or expired
        async with db.reader() as s:
            assert (await s.exec(select(func.count()).select_from(WebSession))).one() == 0
            assert [r.token_hash for r in await s.exec(select(SignInLink))] == [
                hashlib.sha256(fresh.encode()).hexdigest()
            ]
    finally:
        await db.dispose()


async def test_a_sign_in_link_asked_for_by_address_goes_by_email_even_to_someone_in_teams():
    from fakes.messenger import ScriptedMessenger

    from tsm.mailing import ChannelChoice
    from tsm.messaging import Message
    from tsm.notifications import _signin_message

    teams, email = ScriptedMessenger(), ScriptedMessenger()
    channel = ChannelChoice(teams, email, "teams_then_email")
    message = _signin_message("https://tsm.example.org/web/link/" + "A" * 43, 7)
    assert message.email_only and message.card is None  # text only: the channel adds no second link
    await channel.send(Recipient("contact", 5), message)
    await channel.send(Recipient("contact", 5), Message("Your TSM is tomorrow"))
    assert [m.text for _, m in email.sent] == [message.text]
    assert [m.text for _, m in teams.sent] == [
        "Your TSM is tomorrow"
    ]  # everything else: Teams first, as before
