"""The web page over HTTP (the real server, the demo LA): a contact signs in with a link and books, moves and adds a
colleague through the same router as Teams; the link rules (expired, reused, forged, another contact's, another
school's meeting, CSRF missing: each refused with a clear page and nothing changed); sessions ended by sign-out, by
the CLI and by the person being made inactive; "email me a link" with its rate limits and the same answer for
known and unknown addresses."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from click.testing import CliRunner
from sqlmodel import func, select

from tsm.adapters.db.directory import SchoolContact
from tsm.adapters.db.history import DomainEvent
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingSchool
from tsm.adapters.db.signin import SignInLink, WebSession
from tsm.messaging import Recipient
from tsm.web.page import COOKIE


async def _meetings(site, school_id: int) -> list[Meeting]:
    async with site.app.db.reader() as s:
        return list(
            await s.exec(
                select(Meeting)
                .join(MeetingSchool, MeetingSchool.meeting_id == Meeting.id)
                .where(MeetingSchool.school_id == school_id)
                .order_by(Meeting.id)
            )
        )


async def _count(site, table) -> int:
    async with site.app.db.reader() as s:
        return (await s.exec(select(func.count()).select_from(table))).one()


async def _signed_in(site, contact):
    u = await site.user()
    page = await u.open_link(await site.app.signin.issue(Recipient("contact", contact.id)))
    assert u.status == 200 and f"Hello {contact.name.split()[0]}" in page.text
    return u


async def _meet_on_teams(u):
    """How to meet: a button per mode, or the modes as a choice and Next (the card has had both forms)."""
    if any(b.text == "On Microsoft Teams (recommended)" for b in u.page.buttons):
        return await u.press("On Microsoft Teams (recommended)")
    return await u.press(verb="book.pick_mode", values={"mode": "teams"})


async def _book(u):
    await u.press("Book a TSM")
    await _meet_on_teams(u)
    await u.press("Show times")
    await u.press("Choose this time")
    await u.press("Next")
    return await u.press("Book it")


async def test_book_see_move_and_add_a_colleague_through_the_page(site):
    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    page = await _book(u)
    assert u.status == 200 and "Your TSM is booked" in page.text
    [m] = await _meetings(site, c.school_id)
    assert m.status == "booked" and m.booked_by == f"contact:{c.id}"
    # The invitation (.ics) is a download served by the same server.
    [(_, href)] = [link for link in page.links if link[0].startswith("Download")]
    got = await u.client.get(href)
    assert got.status == 200 and b"BEGIN:VCALENDAR" in await got.read()

    page = await u.press(verb="meeting.list")
    assert "Move" in [b.text for b in page.buttons] and "Status booked" in page.text
    first = m.start
    await u.press("Move")
    # Another day: the second date offered.
    dates = next(f for f in u.page.forms if "i.date" in f.choices).choices["i.date"]
    await u.press("Show times", values={"date": dates[1]})
    await u.press("Choose this time")
    page = await u.press("Move it")
    [m] = await _meetings(site, c.school_id)
    assert m.status == "moved" and m.start != first, page.text

    await u.press(verb="meeting.list")
    await u.press("Add a colleague")
    page = await u.press(
        verb="meeting.add_colleague",
        values={"name": "Dana Colleague", "email": "dana.colleague@ashcombe.example"},
    )
    assert u.status == 200, page.text
    async with site.app.db.reader() as s:
        emails = set(await s.exec(select(MeetingAttendee.email).where(MeetingAttendee.meeting_id == m.id)))
    assert "dana.colleague@ashcombe.example" in emails
    # The changes are domain events like Teams' (the officer is told by the delivery path).
    async with site.app.db.reader() as s:
        kinds = list(
            await s.exec(
                select(DomainEvent.kind).where(DomainEvent.meeting_id == m.id).order_by(DomainEvent.id)
            )
        )
    assert kinds[:2] == ["booked", "moved"] and "attendee_added" in kinds


async def test_link_rules_each_refused_with_a_clear_page_and_nothing_changed(site):
    c = await site.bookable_lead()
    links = site.app.signin

    # Forged: no such token.
    u = await site.user()
    page = await u.open_link("http://127.0.0.1/web/link/" + "A" * 43)
    assert u.status == 404 and "not valid" in page.text
    r = await u.client.post("/web/link/" + "A" * 43, data={"csrf": "x" * 30})
    assert r.status == 403  # and the pre-sign-in CSRF check comes first
    assert COOKIE not in {ck.key for ck in u.client.session.cookie_jar}

    # A second link opened in a browser already signed in: the earlier session ends, the new one stands.
    u = await _signed_in(site, c)
    old_cookie = next(ck.value for ck in u.client.session.cookie_jar if ck.key == COOKIE)
    await u.open_link(await links.issue(Recipient("contact", c.id)))
    assert u.status == 200 and await links.session(old_cookie) is None
    assert (await u.get("/web/")) and u.status == 200

    # Reused: the second press of one link opens nothing.
    url = await links.issue(Recipient("contact", c.id))
    first = await site.user()
    await first.open_link(url)
    assert first.status == 200
    sessions = await _count(site, WebSession)
    again = await site.user()
    page = await again.open_link(url)
    assert again.status == 410 and "used already" in page.text
    assert await _count(site, WebSession) == sessions

    # Expired: a week and a day later.
    url = await links.issue(Recipient("contact", c.id))
    site.app.clock.advance(timedelta(days=8))
    late = await site.user()
    page = await late.open_link(url)
    assert late.status == 410 and "expired" in page.text
    # ... refused at the exchange too (a page kept open), and the link stays unspent.
    token = url.rsplit("/", 1)[1]
    pre = late.page.forms[-1].fields["csrf"][0]
    r = await late.client.post(f"/web/link/{token}", data={"csrf": pre})
    assert r.status == 410 and "expired" in await r.text()
    async with site.app.db.reader() as s:
        row = (await s.exec(select(SignInLink).order_by(SignInLink.id.desc()))).first()
    assert row.used_at is None
    assert await _count(site, WebSession) == sessions

    # CSRF missing at the link's exchange: not signed in, the link not spent.
    site.app.clock.advance(timedelta(days=-8))
    url = await links.issue(Recipient("contact", c.id))
    v = await site.user()
    await v.get("/" + url.split("://", 1)[1].split("/", 1)[1])
    r = await v.client.post("/web/link/" + url.rsplit("/", 1)[1], data={})
    assert r.status == 403 and "not signed in" in (await r.text()).replace(
        "were not signed in", "not signed in"
    )
    assert (await links.peek(url.rsplit("/", 1)[1])).ok


async def test_forms_without_csrf_or_for_another_school_or_contact_change_nothing(site):
    a = await site.bookable_lead()
    b = await site.bookable_lead(skip_school=a.school_id)
    ua = await _signed_in(site, a)
    ub = await _signed_in(site, b)
    await _book(ub)
    [mb] = await _meetings(site, b.school_id)

    # CSRF missing (a cross-site form carries the cookie but cannot know the token): refused, nothing booked.
    await ua.press("Book a TSM")
    await _meet_on_teams(ua)
    await ua.press("Show times")
    await ua.press("Choose this time")
    await ua.press("Next")
    confirm = ua.page.button("Book it")
    r = await ua.client.post("/web/act", data={"action": confirm.value})
    assert r.status == 403 and "Nothing was changed" in await r.text()
    r = await ua.client.post("/web/act", data={"action": confirm.value, "csrf": "0" * 64})
    assert r.status == 403
    # Another contact's token: B's form token does not work with A's session (each is derived from its session).
    r = await ua.client.post("/web/act", data={"action": confirm.value, "csrf": ub.csrf()})
    assert r.status == 403 and "Nothing was changed" in await r.text()
    assert await _meetings(site, a.school_id) == []

    # Another school's meeting: cancelling B's TSM from A's session is refused by the same rule as in Teams.
    import json

    for verb, data in (
        ("meeting.cancel", {"meetingId": mb.id, "reason": "forged"}),
        ("meeting.move_start", {"meetingId": mb.id}),
        ("meeting.add_colleague", {"meetingId": mb.id, "name": "Eve", "email": "eve@x.example"}),
    ):
        page = await ua.post(
            "/web/act",
            {
                "csrf": ua.csrf(),
                "action": json.dumps({"verb": verb, "data": {"verb": verb, **data}, "inputs": False}),
            },
        )
        assert ua.status == 200 and "another school's meeting" in page.text, (verb, page.text)
    [again] = await _meetings(site, b.school_id)
    assert (again.status, again.start) == (mb.status, mb.start)

    # Another contact's offer: A's confirm button pressed in B's session is refused (offers are bound to people).
    page = await ub.post("/web/act", {"csrf": ub.csrf(), "action": confirm.value})
    assert "book.confirm" not in page.verbs() and len(await _meetings(site, b.school_id)) == 1
    assert await _meetings(site, a.school_id) == []
    assert "made for someone else" in page.text

    # Junk in the action field: 400, never 500.
    page = await ua.post("/web/act", {"csrf": ua.csrf(), "action": "{not json"})
    assert ua.status == 400
    r = await ua.client.post("/web/act", json={"action": "x"})
    assert r.status == 415


async def test_sessions_end_by_sign_out_by_the_cli_and_when_the_person_is_made_inactive(site, monkeypatch):
    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    page = await u.post("/web/signout", {"csrf": u.csrf()})
    assert u.status == 200 and "signed out" in page.text
    page = await u.get("/web/")
    assert u.status == 401 and "Sign in" in page.text

    # tsm sessions revoke --email: every session and unused link of that address ends.
    u = await _signed_in(site, c)
    spare = await site.app.signin.issue(Recipient("contact", c.id))
    from tsm.cli import cli

    monkeypatch.setenv("TSM_DATABASE_URL", site.app.settings.database_url)
    monkeypatch.setenv("TSM_CLOCK_START", site.app.clock().isoformat())
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["sessions", "revoke", "--email", c.email.upper()]
    )
    assert result.exit_code == 0, result.output
    assert "1 session" in result.output and "1 unused link" in result.output
    page = await u.get("/web/")
    assert u.status == 401 and "session has ended" in page.text
    other = await site.user()
    await other.open_link(spare)
    assert other.status == 410

    # Made inactive since signing in: signed out at the next request, nothing done.
    u = await _signed_in(site, c)
    async with site.app.db.transaction() as s:
        row = await s.get(SchoolContact, c.id)
        row.active = False
        s.add(row)
    page = await u.get("/web/")
    assert u.status == 403 and "no longer" in page.text
    async with site.app.db.transaction() as s:
        row = await s.get(SchoolContact, c.id)
        row.active = True
        s.add(row)
    page = await u.get("/web/")
    assert u.status == 401  # the session was ended, not just refused once


async def test_email_me_a_link_same_answer_rate_limited_and_the_link_sent_works(site):
    c = await site.bookable_lead()
    u = await site.user()
    page = await u.get("/web/signin")
    pre = page.forms[-1].fields["csrf"][0]
    known = await u.post("/web/signin", {"csrf": pre, "email": c.email.upper()})
    assert u.status == 200
    unknown = await u.post("/web/signin", {"csrf": pre, "email": "nobody@nowhere.example"})
    assert u.status == 200 and unknown.text == known.text  # never says whether the address is known
    async with site.app.db.reader() as s:
        events = list(await s.exec(select(DomainEvent).where(DomainEvent.kind == "signin_requested")))
    assert [e.data["person"] for e in events] == [f"contact:{c.id}"]

    # The notifications send the person their link, made when the message is composed; it signs them in.
    notes = site.app.notifications
    [out] = await notes.outgoing(events)
    assert out.recipient == Recipient("contact", c.id)
    message = await notes.compose(out.event_id, out.kind, out.recipient)
    url = next(w for w in message.text.split() if "/web/link/" in w)
    v = await site.user()
    page = await v.open_link(url)
    assert v.status == 200 and f"Hello {c.name.split()[0]}" in page.text

    # Per address: 3 an hour (the first above counts), then 429 with the same words for any address.
    for _ in range(2):
        await u.post("/web/signin", {"csrf": pre, "email": c.email})
        assert u.status == 200
    page = await u.post("/web/signin", {"csrf": pre, "email": c.email})
    assert u.status == 429 and "Too many" in page.text
    async with site.app.db.reader() as s:
        assert (
            await s.exec(
                select(func.count()).select_from(DomainEvent).where(DomainEvent.kind == "signin_requested")
            )
        ).one() == 3
    # Per client: 20 an hour whatever the addresses (4 counted so far; the refused one did not count).
    for i in range(20 - 4):
        await u.post("/web/signin", {"csrf": pre, "email": f"someone{i}@nowhere.example"})
        assert u.status == 200, i
    await u.post("/web/signin", {"csrf": pre, "email": "fresh@nowhere.example"})
    assert u.status == 429
    # Without the form's own token nothing is sent.
    w = await site.user()
    r = await w.client.post("/web/signin", data={"email": c.email})
    assert r.status == 403


async def test_an_emailed_card_opens_after_sign_in_and_works_the_evaluation(site):
    """A link issued with a card (as the email channel does) lands on that card; its radio buttons and toggle come
    back as the Teams card's inputs, and the router saves the evaluation as it does from Teams."""
    from cards import evaluation as eval_cards
    from tsm.adapters.db.feedback import Evaluation, EvaluationReceipt
    from tsm.domain.feedback import QUESTION_KEYS

    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    await _book(u)
    [m] = await _meetings(site, c.school_id)
    site.app.clock.advance(m.end - site.app.clock() + timedelta(minutes=5))  # the meeting has ended
    card = eval_cards.evaluation_card(await site.app.evaluations.card_view(m.id, c.id))
    url = await site.app.signin.issue(Recipient("contact", c.id), card=card)

    v = await site.user()
    page = await v.open_link(url)
    assert v.status == 200 and "How was your TSM?" in page.text and v.page.button("Send feedback")
    choices = next(f for f in page.forms if "i.usefulness" in f.choices).choices
    assert choices["i.usefulness"] == ["1", "2", "3", "4", "5"]
    page = await v.press(
        "Send feedback",
        values={
            **{k: "4" for k in QUESTION_KEYS},
            "overall": "5",
            "comments": "Clear actions.",
            "anonymous": "true",
        },
    )
    assert "Thank you" in page.text, page.text
    async with site.app.db.reader() as s:
        [e] = list(await s.exec(select(Evaluation).where(Evaluation.meeting_id == m.id)))
        receipts = list(await s.exec(select(EvaluationReceipt).where(EvaluationReceipt.meeting_id == m.id)))
    assert e.anonymous and e.contact_id is None and e.comments == "Clear actions."
    assert [r.contact_id for r in receipts] == [c.id]


async def test_an_officer_signs_in_with_their_la_address_and_gets_their_own_commands(site):
    from tsm.adapters.db.directory import Officer

    async with site.app.db.reader() as s:
        officer = (
            await s.exec(select(Officer).where(Officer.is_admin == False).order_by(Officer.id))  # noqa: E712
        ).first()  # noqa: E712
    u = await site.user()
    page = await u.open_link(await site.app.signin.issue(Recipient("officer", officer.id)))
    assert u.status == 200 and {"officer.week", "officer.schools", "officer.book_start"} <= page.verbs()
    assert "book.start" not in page.verbs()  # the school's own booking is not offered to an officer
    page = await u.press("My schools")
    assert u.status == 200 and "officer.pick_school" in page.verbs()
    # A school's verb is refused for an officer by the router's role check, as in Teams.
    import json

    page = await u.post(
        "/web/act",
        {
            "csrf": u.csrf(),
            "action": json.dumps(
                {"verb": "eval.submit", "data": {"verb": "eval.submit", "meetingId": 1}, "inputs": False}
            ),
        },
    )
    assert "not open to you" in page.text


async def test_the_per_client_limit_trusts_x_forwarded_for_only_behind_our_proxy(site):
    from aiohttp.test_utils import make_mocked_request

    from tsm.web.page import WebPage

    def client(page: WebPage, xff: str) -> str:
        return page._client(make_mocked_request("POST", "/web/signin", headers={"X-Forwarded-For": xff}))

    direct = WebPage(router=None, services=None, signin=site.app.signin, clock=site.app.clock)
    proxied = WebPage(
        router=None, services=None, signin=site.app.signin, clock=site.app.clock, forwarded_for=True
    )
    # Directly exposed: whatever the client writes in the header, it is counted by its own address.
    assert client(direct, "1.1.1.1") == client(direct, "2.2.2.2")
    # Behind the proxy: the address the proxy appended (the last one); what the client put before it is ignored.
    assert client(proxied, "6.6.6.6, 203.0.113.7") == "203.0.113.7"
    assert client(proxied, "203.0.113.8") == "203.0.113.8"


async def test_next_terms_time_picked_from_the_emailed_offer(site):
    """The end-of-meeting card (next term's free times, each a button) opens from its link and books the time
    picked, through the router's offer.pick_slot as from Teams; this term's TSM stays."""
    from cards import notifications as offer_cards
    from tsm.services.actors import Actor

    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    await _book(u)
    [this_term] = await _meetings(site, c.school_id)
    offer = await site.app.booking.free_slots(
        Actor("admin"), [c.school_id], term="next", mode="teams", limit=5
    )
    assert offer.slots and offer.term_id != this_term.term_id
    card = offer_cards.next_tsm_offer(
        offer_cards.OfferView(
            "Book next term's TSM now?",
            "the school",
            c.school_id,
            offer.officer_name,
            offer.term_label,
            "teams",
            offer.timezone,
            tuple(offer_cards.OfferSlot(s.start, s.end) for s in offer.slots),
            True,
        )
    )
    v = await site.user()
    page = await v.open_link(await site.app.signin.issue(Recipient("contact", c.id), card=card))
    assert "Book next term's TSM now?" in page.text
    first = page.button(verb="offer.pick_slot")
    page = await v.press(first.text, verb="offer.pick_slot")
    assert "Who will attend?" in page.text  # on with the booking's own steps
    await v.press("Next")
    page = await v.press("Book it")
    assert v.status == 200 and "Your TSM is booked" in page.text, page.text
    meetings = await _meetings(site, c.school_id)
    assert len(meetings) == 2 and meetings[0].id == this_term.id and meetings[0].status == "booked"
    assert meetings[1].term_id == offer.term_id and meetings[1].start == offer.slots[0].start


async def test_senior_leader_unavailable_then_cancel_with_a_reason(site):
    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    await _book(u)
    [m] = await _meetings(site, c.school_id)
    await u.press(verb="meeting.list")
    page = await u.press("Senior leader can't attend")
    assert u.status == 200 and page.verbs() & {"meeting.move", "book.pick_time", "book.pick_date"}, page.text
    await u.press(verb="meeting.list")
    page = await u.press("Cancel")
    assert "Cancel this TSM?" in page.text
    page = await u.press("Continue", values={"reason": "Ofsted visit that week"})
    assert "Cancel this TSM for good?" in page.text and "Ofsted visit that week" in page.text
    page = await u.press("Yes, cancel it")
    async with site.app.db.reader() as s:
        row = await s.get(Meeting, m.id)
        events = {
            e.kind: e.data for e in await s.exec(select(DomainEvent).where(DomainEvent.meeting_id == m.id))
        }
    assert row.status == "cancelled", page.text
    assert events["cancelled"]["reason"] == "Ofsted visit that week" and "leader_unavailable" in events


async def test_the_tsm_record_written_on_the_page(site):
    """The record form (columns of fields, a drop-down, a date) typed as a command and saved through the router."""
    from datetime import date

    from tsm.adapters.db.feedback import RecordAction, TsmRecord

    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    await _book(u)
    [m] = await _meetings(site, c.school_id)
    site.app.clock.advance(m.start - site.app.clock() + timedelta(minutes=10))  # the meeting has started
    u = await _signed_in(site, c)  # two days on: yesterday's session has expired
    page = await u.post("/web/say", {"csrf": u.csrf(), "text": "record"})
    assert "TSM record" in page.text
    page = await u.press("Write the record")
    assert 'type="date"' in page.html and any("i.action1_owner" in f.choices for f in page.forms)
    page = await u.press(
        "Save the record",
        values={
            "attendance_pct": "93.4",
            "pa": "12",
            "sa": "3",
            "action1_text": "Call the families of the Year 9 absentees",
            "action1_owner": "school",
            "action1_due": "2026-12-04",
        },
    )
    assert "The TSM record is saved" in page.text, page.text
    assert "<em>" in page.html  # the card's _italic_ owner and due date
    async with site.app.db.reader() as s:
        [rec] = list(await s.exec(select(TsmRecord).where(TsmRecord.meeting_id == m.id)))
        [act] = list(await s.exec(select(RecordAction).where(RecordAction.record_id == rec.id)))
    assert (rec.attendance_pct, rec.pa_count, rec.sa_count) == (93.4, 12, 3)
    assert act.due_date == date(2026, 12, 4) and act.owner == "school"


async def test_junk_is_answered_with_a_4xx_and_never_a_500(site):
    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    csrf = u.csrf()
    junk = [
        "",
        "null",
        "[]",
        "1e999",
        '{"verb": 5}',
        '{"verb": "x", "data": []}',
        "[" * 5000 + "]" * 5000,
        '{"verb": "book.confirm", "data": {"offerId": {"$ne": 1}, "start": ["x"]}, "inputs": true}',
        '{"verb": "meeting.cancel", "data": {"meetingId": 1e30, "reason": "\\u0000"}, "inputs": false}',
        '{"verb": "' + "a." * 2000 + 'b", "data": {}}',
    ]
    for value in junk:
        r = await u.client.post("/web/act", data={"csrf": csrf, "action": value})
        assert r.status < 500, (value[:40], r.status)
    r = await u.client.post(
        "/web/act",
        data=f"csrf={csrf}&action=%FF%FE%7B".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # not UTF-8
    assert r.status < 500
    for path, data in (
        ("/web/say", {"csrf": csrf, "text": "\x00" * 600}),
        ("/web/signin", {"email": "x" * 10_000}),
        ("/web/link/" + "%00" * 50, {}),
        ("/web/link/" + "a" * 300, {"csrf": "b"}),
        ("/web/signout", {}),
    ):
        r = await u.client.post(path, data=data)
        assert r.status < 500, (path, r.status)
    r = await u.client.post(
        "/web/act", data=b"\xff\xfe" * 100, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status < 500
    r = await u.client.post(
        "/web/act", data=b"a" * (70 * 1024), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status == 413
    for path in ("/web/link/" + "x" * 5000, "/web/view", "/web/page.css", "/web/nothing"):
        r = await u.client.get(path)
        assert r.status < 500, (path, r.status)
    assert await _meetings(site, c.school_id) == []


async def test_home_offers_next_terms_tsm_once_this_terms_is_held(site):
    c = await site.bookable_lead()
    u = await _signed_in(site, c)
    page = await u.get("/web/")
    assert "offer.pick_slot" not in page.verbs()  # nothing held yet: nothing to offer
    await _book(u)
    [m] = await _meetings(site, c.school_id)
    site.app.clock.advance(m.end - site.app.clock() + timedelta(hours=1))
    async with site.app.db.transaction() as s:
        row = await s.get(Meeting, m.id)
        row.status = "held"
        s.add(row)
    u = await _signed_in(site, c)
    page = await u.get("/web/")
    assert "Waiting for your answer" in page.text and "Spring term" in page.text, page.text
    slot = page.button(verb="offer.pick_slot")
    await u.press(slot.text, verb="offer.pick_slot")
    await u.press("Next")
    page = await u.press("Book it")
    assert "Your TSM is booked" in page.text
    meetings = await _meetings(site, c.school_id)
    assert [x.status for x in meetings] == ["held", "booked"] and meetings[1].term_id != m.term_id
    page = await u.get("/web/")
    assert "offer.pick_slot" not in page.verbs()  # booked: no longer waiting
