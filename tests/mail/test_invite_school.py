"""Invite and chase by email: ``tsm invite --urn`` records an ``invited`` event that the notifications turn into a
message to the school's attendance leads and senior leaders (Teams with a conversation, else an email with their
sign-in link); the start-of-term nudge and the chaser reach schools with no Teams conversation the same way."""

from __future__ import annotations

import asyncio
from datetime import UTC

from click.testing import CliRunner
from factories import local, make_world
from mailkit import install, mail_world
from sqlmodel import select

from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import DomainEvent
from tsm.cli import cli
from tsm.messaging import Recipient


def test_tsm_invite_sends_a_schools_staff_their_link(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def world():
        db = Database(sqlite_url)
        try:
            return await make_world(db)
        finally:
            await db.dispose()

    w = asyncio.run(world())
    runner = CliRunner()
    out = runner.invoke(
        cli,
        ["--database-url", sqlite_url, "invite", "--urn", "100001", "--as", "ann@la.example"],
        obj={},
        catch_exceptions=False,
    )
    assert out.exit_code == 0, out.output
    assert "Lead of Low Primary School <lead@100001.sch.example>" in out.output
    assert "Head of Low Primary School <head@100001.sch.example>" in out.output
    assert "by email to the others" in out.output
    # another officer's school is refused, and nothing is recorded for it
    refused = runner.invoke(
        cli, ["--database-url", sqlite_url, "invite", "--urn", "100009", "--as", "ann@la.example"], obj={}
    )
    assert refused.exit_code == 2 and "not on your list" in refused.output

    async def deliver():
        mw = await mail_world(sqlite_url, tmp_path, world=w)
        try:
            async with mw.app.db.reader() as s:
                [ev] = list(await s.exec(select(DomainEvent).where(DomainEvent.kind == "invited")))
            assert (ev.school_id, ev.actor) == (w.schools["low_primary"], f"officer:{w.officers['ann']}")
            head = Recipient("contact", w.contacts["low_primary.head"])
            await install(mw.app, head)  # the head has the app: Teams; the lead has not: email
            result = await mw.jobs.events()
            assert (result.sent, result.undeliverable) == (2, 0)
            assert mw.teams.to(head) == ["Ann Officer invites Low Primary School to book this term's TSM."]
            [mail] = mw.mail_to("lead@100001.sch.example")
            assert str(mail["Subject"]) == "Ann Officer invites Low Primary School to book this term's TSM."
            text = mail.get_body(("plain",)).get_content()
            lead = Recipient("contact", w.contacts["low_primary.lead"])
            assert f"{mw.issuer.base}?t=token-contact-{lead.id}-" in text  # their own sign-in link
            [(who, card)] = mw.issuer.issued
            assert who == lead and "book.start" in str(card)  # the link opens on the Book card
            assert (await mw.jobs.events()).claimed == 0  # once
        finally:
            await mw.app.close()

    asyncio.run(deliver())


async def test_the_term_start_nudge_and_the_chaser_reach_a_school_without_teams_by_email(mw):
    w = mw.world
    officer = Recipient("officer", w.officers["ann"])
    await install(mw.app, officer)
    mw.clock.now = local(2026, 1, 6, 9).astimezone(UTC)  # the first day of the spring term
    nudged = await mw.jobs.term_start_nudges()
    assert nudged.undeliverable == 0 and nudged.sent > 0
    [nudge] = mw.mail_to("lead@100001.sch.example")
    assert (
        str(nudge["Subject"])
        == "A new term has started: please book Low Primary School's TSM with Ann Officer."
    )
    text = nudge.get_body(("plain",)).get_content()
    assert "signin?t=token-contact-" in text and "say **book**" not in text
    mw.clock.now = local(2026, 1, 27, 9).astimezone(UTC)  # three weeks into term, still not booked
    chased = await mw.jobs.chasers()
    assert chased.undeliverable == 0
    assert [str(m["Subject"]) for m in mw.mail_to("lead@100001.sch.example")][1] == (
        "Low Primary School has no TSM booked this term yet: please pick a time with Ann Officer."
    )
    # the officer, who has the app, hears of it in Teams: in the day's digest of unbooked schools, not one message each
    assert mw.teams.to(officer) == []
    await mw.jobs.unbooked_weekly()
    [(_, digest)] = [(r, m) for r, m in mw.teams.sent if r == officer]
    assert digest.text.endswith("schools still to book this term")
    assert "**Low Primary School**: Expected each term (reminded Tuesday 27 January)" in str(digest.card)
