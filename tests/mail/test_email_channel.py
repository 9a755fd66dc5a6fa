"""Email as a delivery channel behind the delivery port: the per-recipient choice (Teams with a conversation, email
without; the LA's email-for-everyone and Teams-only), exactly once through the ledger (a message emailed is not sent
again when the person installs the app later), and what an email says (plain text and HTML, who sent it and why, a
sign-in link for a card with actions, every piece of text escaped)."""

from __future__ import annotations

from datetime import UTC

import pytest
from factories import local
from mailkit import FakeIssuer, install, mail_world
from sqlmodel import select

from tsm.adapters.db.delivery import Outbound
from tsm.adapters.db.directory import School, SchoolContact
from tsm.adapters.mail import MailResult, MailStatus
from tsm.mailing import Addressee, ChannelChoice, EmailChannel, render
from tsm.messaging import Message, Recipient, SendStatus


async def ledger(app, kind: str) -> list[tuple[str, int, str, str]]:
    async with app.db.reader() as s:
        return sorted(
            (r.recipient_kind, r.recipient_id, r.status, r.last_error)
            for r in await s.exec(select(Outbound).where(Outbound.kind == kind))
        )


def notifications(mw, address: str):
    """The emails to ``address`` that are notifications (not calendar invitations)."""
    return mw.mail_to(address, invitations=False)


async def test_teams_for_who_has_a_conversation_email_for_who_has_not(mw):
    w, app = mw.world, mw.app
    officer = Recipient("officer", w.officers["ann"])
    head = Recipient("contact", w.contacts["low_primary.head"])
    await install(app, officer)  # the officer has the app; the head has not
    await app.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    result = await mw.jobs.events()
    assert result.undeliverable == 0 and result.failed == 0
    # the officer in Teams, the head by email (the lead booked it and saw it in the chat)
    assert [t.split(":")[0] for t in mw.teams.to(officer)] == ["Low Primary School booked its TSM"]
    assert mw.teams.to(head) == []
    [confirm] = notifications(mw, "head@100001.sch.example")
    assert str(confirm["Subject"]) == "TSM booked: Low Primary School, Tuesday 3 February 10:00–11:00"
    assert notifications(mw, "ann@la.example") == [] and notifications(mw, "lead@100001.sch.example") == []
    assert await ledger(app, "ev.confirm") == [("contact", head.id, "sent", "")]

    # the head installs the app the next day: the confirmation went by email, so nothing is held for them
    mw.clock.now = local(2026, 1, 6, 9).astimezone(UTC)
    await install(app, head)
    assert (await mw.jobs.late_installs()).claimed == 0
    assert mw.teams.to(head) == [] and len(notifications(mw, "head@100001.sch.example")) == 1
    # from now on the head is reached in Teams: the week's reminder goes there, not by email
    mw.clock.now = local(2026, 1, 27, 10, 1).astimezone(UTC)
    assert (await mw.jobs.reminders()).sent == 2
    assert [t.split(":")[0] for t in mw.teams.to(head)] == ["TSM in a week"]
    assert len(notifications(mw, "head@100001.sch.example")) == 1
    # the lead has no app: their reminder is an email
    [reminder] = notifications(mw, "lead@100001.sch.example")
    assert str(reminder["Subject"]).startswith("TSM in a week")


@pytest.mark.parametrize("delivery", ["email", "teams"])
async def test_the_la_chooses_email_for_everyone_or_teams_only(sqlite_url, tmp_path, delivery):
    mw = await mail_world(sqlite_url, tmp_path, delivery=delivery)
    try:
        w, app = mw.world, mw.app
        officer = Recipient("officer", w.officers["ann"])
        head = Recipient("contact", w.contacts["low_primary.head"])
        await install(app, officer)
        await app.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
        result = await mw.jobs.events()
        if delivery == "email":  # even the officer, who has the app, is written to
            assert mw.teams.attempts == 0 and result.sent == result.claimed
            assert [str(m["Subject"]).split(":")[0] for m in notifications(mw, "ann@la.example")] == [
                "Low Primary School booked its TSM"
            ]
            assert len(notifications(mw, "head@100001.sch.example")) == 1
        else:  # Teams only: the head, with no app, is not emailed; the message waits for a late install
            assert [t.split(":")[0] for t in mw.teams.to(officer)] == ["Low Primary School booked its TSM"]
            assert (
                notifications(mw, "head@100001.sch.example") == []
                and notifications(mw, "ann@la.example") == []
            )
            assert await ledger(app, "ev.confirm") == [
                ("contact", head.id, "undeliverable", "no_conversation")
            ]
            await install(app, head)
            assert (await mw.jobs.late_installs()).sent == 1
            assert [t.split(":")[0] for t in mw.teams.to(head)] == ["TSM booked"]
        # calendar invitations are email whatever the choice (the local calendar's, to everyone invited)
        assert len(mw.mail_to("head@100001.sch.example", invitations=True)) == 1
    finally:
        await mw.app.close()


async def test_no_conversation_and_no_address_stays_undeliverable_until_they_install(mw):
    w, app = mw.world, mw.app
    head = Recipient("contact", w.contacts["low_primary.head"])
    async with app.db.transaction() as s:
        c = await s.get(SchoolContact, head.id)
        c.email = " "
        s.add(c)
    await app.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await mw.jobs.events()
    assert await ledger(app, "ev.confirm") == [("contact", head.id, "undeliverable", "no_conversation")]
    await install(app, head)
    assert (await mw.jobs.late_installs()).sent == 1
    assert [t.split(":")[0] for t in mw.teams.to(head)] == ["TSM booked"]


class Down:
    """A mail port whose server refuses (4xx) while ``down``, then sends to ``inner``."""

    def __init__(self, inner) -> None:
        self.inner, self.down, self.refused = inner, True, 0

    async def send(self, message):
        if self.down:
            self.refused += 1
            return MailResult(MailStatus.RETRY, "451 4.3.0 try later")
        return await self.inner.send(message)

    async def close(self):
        return None


async def test_a_mail_server_that_refuses_for_a_while_is_retried_by_the_ledger_and_sends_once(mw):
    w, app = mw.world, mw.app
    server = Down(app.mail)
    mw.channel.email.mail = server
    await app.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
    first = await mw.jobs.events()
    assert first.retry == first.claimed == server.refused and first.sent == 0
    [(_, _, status, error)] = await ledger(app, "ev.confirm")
    assert status == "claimed" and "451" in error  # kept, to be tried again after a delay
    assert mw.mail() == []
    server.down = False
    mw.clock.now = local(2026, 1, 5, 8, 5).astimezone(UTC)  # past the retry delay
    again = await mw.jobs.retry_expired()
    assert again.sent == first.claimed
    assert [r[2] for r in await ledger(app, "ev.confirm")] == ["sent"]
    assert len(notifications(mw, "head@100001.sch.example")) == 1
    assert (await mw.jobs.retry_expired()).claimed == 0  # once


async def test_a_card_with_actions_carries_a_sign_in_link_and_links_stay_links(mw):
    w, app = mw.world, mw.app
    head = Recipient("contact", w.contacts["low_primary.head"])
    # the LA books for the school: the school's staff get the proposal card (Accept / pick another time)
    await app.booking.book(w.officer("ann"), w.schools["low_primary"], local(2026, 2, 3, 10))
    await mw.jobs.events()
    [proposal] = notifications(mw, "head@100001.sch.example")
    text = proposal.get_body(("plain",)).get_content()
    page = proposal.get_body(("html",)).get_content()
    link = f"{mw.issuer.base}?t=token-contact-{head.id}-"  # FakeIssuer's links: one per issue
    assert link in text and f'<a href="{link}' in page
    assert any(r == head and card is not None for r, card in mw.issuer.issued)  # the card the link opens on
    assert "Ann Officer booked your TSM" in text and "Dear Head of Low Primary School," in text
    # who sent it and why, and a reply reaches the link officer
    assert "You receive this as the senior leader of Low Primary School" in text and "Norfolk" in text
    assert str(proposal["Reply-To"]) == "ann@la.example"
    assert str(proposal["From"]) == "TSM bookings <tsm@localhost>"
    assert proposal["Auto-Submitted"] == "auto-generated"


def test_every_piece_of_text_is_escaped_and_markdown_becomes_plain_words():
    who = Addressee(
        "Jo <b>Bloggs</b>", "jo@x.example", "You receive this as the <attendance lead>.", "", "Norfolk"
    )
    card = {
        "type": "AdaptiveCard",
        "body": [
            {"type": "TextBlock", "text": "Booked <script>alert(1)</script>", "weight": "Bolder"},
            {"type": "FactSet", "facts": [{"title": "School", "value": "O'Neil & <Sons> Primary"}]},
            {"type": "Input.Text", "id": "reason"},
        ],
        "actions": [
            {
                "type": "Action.OpenUrl",
                "title": "Join on Teams",
                "url": "https://teams.microsoft.com/l/meetup-join/x?a=1&b=2",
            },
            {"type": "Action.Execute", "title": "Move", "verb": "meeting.move_start", "data": {}},
        ],
    }
    out = render(
        Message("Say **book** to book _now_", card), who, "https://tsm.la.example/web/signin?t=abc&x=1"
    )
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert "&lt;b&gt;Bloggs&lt;/b&gt;" in out.html and "<b>Bloggs" not in out.html
    assert "O&#x27;Neil &amp; &lt;Sons&gt; Primary" in out.html
    assert '<a href="https://teams.microsoft.com/l/meetup-join/x?a=1&amp;b=2">Join on Teams</a>' in out.html
    assert '<a href="https://tsm.la.example/web/signin?t=abc&amp;x=1">' in out.html
    assert "<strong>book</strong>" in out.html and "<em>now</em>" in out.html
    assert "Say book to book now" in out.text and "**" not in out.text
    assert "School: O'Neil & <Sons> Primary" in out.text
    assert "Join on Teams: https://teams.microsoft.com/l/meetup-join/x?a=1&b=2" in out.text
    assert "https://tsm.la.example/web/signin?t=abc&x=1" in out.text
    assert out.subject == "TSM: Say book to book now"
    # no issuer (the page is off): no link, and the email says how to answer instead
    bare = render(Message("Pick a time", card), who, None)
    assert "signin" not in bare.text and "in Microsoft Teams, or by replying to this email" in bare.text


async def test_the_email_channel_answers_no_conversation_for_an_unknown_or_inactive_person(mw):
    channel = EmailChannel(mw.app.db, mw.app.mail, sender="x@la.example", signin=FakeIssuer())
    assert (
        await channel.send(Recipient("contact", 999_999), Message("hi"))
    ).status is SendStatus.NO_CONVERSATION
    async with mw.app.db.transaction() as s:
        c = await s.get(SchoolContact, mw.world.contacts["low_primary.lead"])
        c.active = False
        s.add(c)
    lead = Recipient("contact", mw.world.contacts["low_primary.lead"])
    assert (await channel.send(lead, Message("hi"))).status is SendStatus.NO_CONVERSATION
    assert mw.mail() == []


async def test_the_choice_needs_a_channel_and_closes_what_it_owns():
    with pytest.raises(ValueError):
        ChannelChoice(None, None)


async def test_a_school_name_with_markup_is_escaped_in_a_real_email(mw):
    async with mw.app.db.transaction() as s:
        school = await s.get(School, mw.world.schools["low_primary"])
        school.name = "Low <i>Primary</i> & Co"
        s.add(school)
    await mw.app.booking.book(
        mw.world.contact("low_primary.lead"), mw.world.schools["low_primary"], local(2026, 2, 3, 10)
    )
    await mw.jobs.events()
    [confirm] = notifications(mw, "head@100001.sch.example")
    page = confirm.get_body(("html",)).get_content()
    assert "<i>Primary</i>" not in page and "Low &lt;i&gt;Primary&lt;/i&gt; &amp; Co" in page


def test_a_link_in_the_text_never_goes_in_the_subject_and_only_the_services_own_is_clickable():
    who = Addressee("Jo", "jo@x.example", "Because.", "", "")
    out = render(
        Message(
            "Here is your link to sign in: https://tsm.la.example/web/link/secret-token\n\nAlso "
            "https://tsm.la.example.evil.example/web/link/x and https://elsewhere.example/"
        ),
        who,
        None,
        origin="https://tsm.la.example",
    )
    assert out.subject == "TSM: Here is your link to sign in" and "secret-token" not in out.subject
    assert '<a href="https://tsm.la.example/web/link/secret-token">' in out.html
    assert (
        '<a href="https://tsm.la.example.evil.example' not in out.html
        and '<a href="https://elsewhere' not in out.html
    )
    assert "https://tsm.la.example/web/link/secret-token" in out.text
    assert (
        render(Message("https://x.example/only-a-link"), who, None).subject
        == "A message from the TSM service"
    )


async def test_teams_never_looks_up_an_invitee_known_only_by_address(mw):
    """An ``attendee`` recipient's id is a meeting_attendee row: Teams must not read it as an officer's id."""
    from bot.messenger import TeamsMessenger
    from bot.store import BotStore

    officer = Recipient("officer", mw.world.officers["ann"])
    await install(mw.app, officer)
    teams = TeamsMessenger(adapter=None, store=BotStore(mw.app.db))
    result = await teams.send(Recipient("attendee", officer.id), Message("x"))
    assert result.status is SendStatus.NO_CONVERSATION and teams.stats["sent"] == 0
