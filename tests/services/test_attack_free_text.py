"""Issue 12 B3-B5: what an attack found in free text and attendee emails, closed at the services (so the chat,
the CLI and the web page are covered alike).

- B3: a UPN or a date of birth typed in a cancellation reason, a no-show reason, a "senior leader can't attend"
  note or an attendee's name is refused with a sentence and nothing is stored, sent or written into an ``.ics``;
  a likely pupil's name is refused too, naming the words to edit; the ``.ics`` files get a retention.
- B4: text one person typed is shown to another as written (``tsm.domain.text.plain``), never as a link or markup.
- B5: attendee emails are checked by ``email-validator`` (CR/LF, junk), and a meeting's invitees are capped.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from factories import local, make_world
from sqlmodel import select

from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.calendars import CalendarOutbox
from tsm.adapters.db.history import DomainEvent
from tsm.adapters.db.meetings import Meeting, MeetingAttendee, MeetingLeaderUnavailable
from tsm.clock import FixedClock
from tsm.domain.emails import work_email
from tsm.domain.errors import InvalidInput
from tsm.domain.pupil_data import check_free_text
from tsm.domain.text import plain, unescape
from tsm.messaging import Recipient
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.conversation import ConversationService
from tsm.services.reference import ReferenceData

NOW = local(2026, 1, 5, 8, 0)
ATTACK = "Jayden Smith (UPN A123456789012, DOB 01/02/2015)"


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
async def world(db):
    return await make_world(db)


@pytest.fixture
def invites(tmp_path) -> Path:
    return tmp_path / "invites"


@pytest.fixture
async def svc(db, clock, invites):
    cal = LocalCalendar(db, invites)
    return BookingService(db, cal, ReferenceData(db), clock=clock, sync=CalendarSync(db, cal, clock=clock))


async def _book(svc, world):
    return await svc.book(
        world.contact("low_primary.lead"), world.schools["low_primary"], local(2026, 2, 3, 10)
    )


async def _state(db, meeting_id: int) -> tuple:
    async with db.reader() as s:
        m = await s.get(Meeting, meeting_id)
        outbox = [
            o.op for o in await s.exec(select(CalendarOutbox).where(CalendarOutbox.meeting_id == meeting_id))
        ]
        events = [
            e.kind for e in await s.exec(select(DomainEvent).where(DomainEvent.meeting_id == meeting_id))
        ]
        attendees = [
            a.email
            for a in await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id))
        ]
        marked = await s.get(MeetingLeaderUnavailable, meeting_id)
    return m.status, m.ical_sequence, outbox, events, attendees, marked is not None


# ---------------------------------------------------------------------- B3: pupil data in free text


async def test_a_cancellation_reason_with_a_upn_and_a_dob_is_refused_and_nothing_is_sent(
    svc, world, db, invites
):
    r = await _book(svc, world)
    before = await _state(db, r.meeting.id)
    files = sorted(p.name for p in invites.glob("*.ics"))
    with pytest.raises(InvalidInput, match="A123456789012.*never stored"):
        await svc.cancel(world.contact("low_primary.lead"), r.meeting.id, ATTACK)
    with pytest.raises(InvalidInput, match="date of birth"):
        await svc.cancel(world.contact("low_primary.lead"), r.meeting.id, "Child born 01/02/2015 is ill")
    assert (
        await _state(db, r.meeting.id) == before
    )  # still booked; no cancel queued, no event for the officer
    assert sorted(p.name for p in invites.glob("*.ics")) == files  # no cancellation .ics with the reason
    assert not any(b"A123456789012" in p.read_bytes() for p in invites.glob("*.ics"))


async def test_a_reason_naming_someone_asks_for_the_words_to_be_edited(svc, world, db):
    r = await _book(svc, world)
    with pytest.raises(InvalidInput, match="“Jayden Smith”.*edit"):
        await svc.cancel(
            world.contact("low_primary.lead"), r.meeting.id, "Jayden Smith's family are in court"
        )
    # The school's own name, its town and the officer's name are not pupils; neither is a reason without names.
    c = await svc.cancel(
        world.contact("low_primary.lead"),
        r.meeting.id,
        "Low Primary School is closed for Ann Officer's visit to another school",
    )
    assert c.meeting.status == "cancelled"


async def test_a_no_show_reason_with_pupil_data_is_refused(svc, world, db, clock):
    r = await _book(svc, world)
    clock.advance(local(2026, 2, 3, 12) - NOW)
    before = await _state(db, r.meeting.id)
    for bad in (
        "Pupil A123456789012 excluded",
        "Sorting out DOB: 3 March 2015 case",
        "Amira Khan was absent",
    ):
        with pytest.raises(InvalidInput):
            await svc.mark_no_show(world.officer("ann"), r.meeting.id, bad)
    assert await _state(db, r.meeting.id) == before
    v = await svc.mark_no_show(world.officer("ann"), r.meeting.id, "The school was closed for snow")
    assert v.status == "no_show"


async def test_a_senior_leader_unavailable_note_with_pupil_data_is_refused(svc, world, db, clock):
    r = await _book(svc, world)
    conv = ConversationService(db, svc, ReferenceData(db), clock=clock)
    with pytest.raises(InvalidInput, match="UPN"):
        await conv.mark_leader_unavailable(world.contact("low_primary.lead"), r.meeting.id, ATTACK)
    assert not (await _state(db, r.meeting.id))[5]
    await conv.mark_leader_unavailable(world.contact("low_primary.lead"), r.meeting.id, "Head on a course")
    assert (await _state(db, r.meeting.id))[5]


async def test_an_attendee_name_holding_a_upn_is_refused_but_a_real_name_is_not(svc, world, db):
    r = await _book(svc, world)
    lead = world.contact("low_primary.lead")
    for name in ("A123456789012", "Pat (DOB 01/02/2015)"):
        with pytest.raises(InvalidInput, match="never stored"):
            await svc.add_attendee(lead, r.meeting.id, name=name, email="pat@100001.sch.example")
    assert "pat@100001.sch.example" not in (await _state(db, r.meeting.id))[4]
    v = await svc.add_attendee(lead, r.meeting.id, name="Pat Pastoral", email="pat@100001.sch.example")
    assert "Pat Pastoral" in {a.name for a in v.attendees}


def test_the_rule_is_one_function_and_takes_no_override():
    with pytest.raises(InvalidInput, match="UPN"):
        check_free_text("A12345678901B", label="the note")  # the temporary UPN form too
    with pytest.raises(InvalidInput, match="UPN"):
        check_free_text(
            "A123456789012", label="the name", names=False
        )  # a name field still refuses identifiers
    assert check_free_text("Jayden Smith", label="the name", names=False) == "Jayden Smith"
    assert check_free_text("Ofsted visit on Tuesday", label="the reason") == "Ofsted visit on Tuesday"


async def test_ics_invitations_are_deleted_after_their_retention(svc, world, invites):
    await _book(svc, world)
    [old] = list(invites.glob("*.ics"))
    cal = LocalCalendar(None, invites)
    now = local(2026, 1, 5, 8).astimezone()
    # The files' ages are set against the test's clock, not the machine's (a file's time is the real one, today's
    # date may be anything: under a faked 24 March 2027 a file written just now looked 107 days old).
    written = now.timestamp() - 60
    os.utime(old, (written, written))
    assert cal.purge_invitations(now, timedelta(days=30)) == 0  # written a minute ago
    young = invites / "young.ics"
    young.write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    os.utime(young, (now.timestamp() - 29 * 86400,) * 2)
    os.utime(old, (now.timestamp() - 31 * 86400,) * 2)
    assert cal.purge_invitations(now, timedelta(days=30)) == 1
    assert not old.exists() and young.exists()


# ---------------------------------------------------------------------- B4: relayed text is plain text


def test_relayed_text_renders_as_written_in_markdown_and_html():
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark", {"html": True})
    attacks = [
        "[Rebook here](https://evil.example/login)",
        "<a href='https://evil.example'>x</a> &lt;b&gt;",
        "**urgent** _now_ `code`",
        "# Heading\n- item\n1. first\n> quote",
        "![pixel](https://evil.example/p.png)",
        "a\\[b](c)",
        "Ofsted visit",
    ]
    for a in attacks:
        html = md.render(plain(a))
        assert "<a " not in html and "<img" not in html and "<strong>" not in html and "<em>" not in html
        assert (
            "<h1>" not in html and "<li>" not in html and "<blockquote>" not in html and "<code>" not in html
        )
        assert unescape(plain(a)) == a  # a plain-text channel gets the words back as typed
    assert plain("Ofsted visit") == "Ofsted visit"


async def test_a_cancellation_reason_reaches_the_officer_as_text_not_a_link(svc, world, db, clock):
    from tsm.notifications import Notifications
    from tsm.services.records import Records

    r = await _book(svc, world)
    await svc.cancel(
        world.contact("low_primary.lead"), r.meeting.id, "See [the new date](https://evil.example)"
    )
    conv = ConversationService(db, svc, ReferenceData(db), clock=clock)
    notes = Notifications(db, svc, conv, Records(db, clock=clock))
    async with db.reader() as s:
        ev = (await s.exec(select(DomainEvent).where(DomainEvent.kind == "cancelled"))).one()
    msg = await notes.compose(ev.id, "ev.cancelled", Recipient("officer", world.officers["ann"]))
    assert "\\[the new date\\]\\(https://evil.example\\)" in msg.text and "](" not in msg.text.replace(
        "\\](", ""
    )


# ---------------------------------------------------------------------- B5: attendee emails


@pytest.mark.parametrize(
    "bad",
    [
        "x@y.example\r\nBcc: all@la.example",
        "pat@100001.sch.example\nBcc: x@y.example",
        "junk",
        "a b@c.example",
        "pat@localhost",
        "Pat <pat@x.example>",
        "",
        "x" * 250 + "@a.example",
    ],
)
async def test_bad_attendee_emails_are_refused_with_a_sentence(svc, world, db, bad):
    r = await _book(svc, world)
    before = await _state(db, r.meeting.id)
    with pytest.raises(InvalidInput, match="email"):
        await svc.add_attendee(world.contact("low_primary.lead"), r.meeting.id, name="Pat", email=bad)
    assert await _state(db, r.meeting.id) == before


def test_emails_are_normalised():
    assert work_email("  Pat.Pastoral@School.Sch.UK ") == "pat.pastoral@school.sch.uk"


async def test_the_invitees_of_a_meeting_are_capped(svc, world, db):
    r = await _book(svc, world)
    lead = world.contact("low_primary.lead")
    room = 12 - len(r.meeting.attendees)  # the policy's default, booking.max_invitees
    for i in range(room):
        await svc.add_attendee(lead, r.meeting.id, name=f"Colleague {i}", email=f"c{i}@100001.sch.example")
    with pytest.raises(InvalidInput, match="most it can have"):
        await svc.add_attendee(lead, r.meeting.id, name="One more", email="more@100001.sch.example")
    assert len((await _state(db, r.meeting.id))[4]) == 12
    # Adding someone already invited is not a new invitee.
    v = await svc.add_attendee(lead, r.meeting.id, name="Colleague 0", email="c0@100001.sch.example")
    assert len(v.attendees) == 12


def test_an_email_shows_relayed_text_as_typed_never_as_a_link():
    from tsm import mailing

    typed = "See [the new date](https://evil.example) **now** _please_ <b>x</b>"
    sent = f"The TSM was cancelled. Reason: {plain(typed)}"  # what tsm.notifications writes
    assert (
        mailing.plain(sent) == f"The TSM was cancelled. Reason: {typed}"
    )  # the text part: the words as typed
    html = mailing.markup(sent)
    assert "<a " not in html and "<strong>" not in html and "<em>" not in html and "<b>" not in html
    assert "[the new date](https://evil.example)" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert '<a href="https://ok.example">' in mailing.markup(
        "[a link](https://ok.example)"
    )  # the product's own


async def test_a_contact_an_officer_adds_gets_the_same_email_and_name_checks(db, world):
    from tsm.services.directory import Directory

    directory = Directory(db, clock=FixedClock(NOW))
    ann = world.officer("ann")
    for name, email in (
        ("Pat", "pat@100001.sch.example\r\nBcc: all@la.example"),
        ("Pat", "junk"),
        ("A123456789012", "pat@100001.sch.example"),
    ):
        with pytest.raises(InvalidInput):
            await directory.add_contact(ann, 100001, name, email, "other")
    c = await directory.add_contact(ann, 100001, "Pat Pastoral", "Pat@100001.sch.example", "other")
    assert c.email == "pat@100001.sch.example"


def test_the_web_page_shows_relayed_text_as_typed():
    from tsm.web.render import _md

    shown = _md("**Reason**: " + plain("See [the new date](https://evil.example) _now_ <script>x</script>"))
    assert shown.startswith("<strong>Reason</strong>: ")  # the product's own markdown still renders
    assert "[the new date](https://evil.example) _now_ &lt;script&gt;x&lt;/script&gt;" in shown
    assert "<em>" not in shown and "\\" not in shown  # the escapes are not shown as backslashes
