"""Calendar invitations by email with the local calendar: every attendee (school contact or not) and the officer get
the meeting as an ``.ics`` (METHOD REQUEST, then CANCEL), with the meeting's own UID and a SEQUENCE that rises with
every change; each parsed by a real calendar parser (``icalendar``) and round-tripped; times right in Europe/London,
winter and summer time. With the Graph calendar, Outlook's own invitation serves: none is sent here."""

from __future__ import annotations

from datetime import UTC, datetime

from factories import LONDON, local, make_world
from icalendar import Calendar
from mailkit import NOW, ics_of, to_of
from sqlmodel import select

from dev.graph_emulator import GraphEmulator
from tsm.adapters.db.meetings import Meeting
from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.settings import Settings

LEAD, HEAD, ANN = "lead@100001.sch.example", "head@100001.sch.example", "ann@la.example"


def invitations(mw):
    """(recipient address, method, parsed VEVENT) of every invitation email written, in order."""
    out = []
    for m in mw.mail():
        if not any(p.get_content_type() == "text/calendar" for p in m.iter_attachments()):
            continue
        cal, method = ics_of(m)
        [event] = [c for c in cal.walk("VEVENT")]
        assert str(cal["METHOD"]) == method  # the MIME part says what the calendar says
        # a real round trip: what the parser read, written again and read again, is the same event
        again = [c for c in Calendar.from_ical(cal.to_ical()).walk("VEVENT")][0]
        assert (str(again["UID"]), int(again["SEQUENCE"]), again.decoded("DTSTART")) == (
            str(event["UID"]),
            int(event["SEQUENCE"]),
            event.decoded("DTSTART"),
        )
        out.append((to_of(m), method, event))
    return out


async def uid_of(app, meeting_id: int) -> str:
    async with app.db.reader() as s:
        return (await s.exec(select(Meeting.ical_uid).where(Meeting.id == meeting_id))).one()


async def test_book_move_add_a_colleague_cancel_each_invite_everyone_with_one_uid_and_a_rising_sequence(mw):
    w, app = mw.world, mw.app
    booked = await app.booking.book(
        w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10)
    )
    mid = booked.meeting.id
    uid = await uid_of(app, mid)
    await mw.jobs.events()
    first = invitations(mw)
    # everyone invited, the booker included (they need it in their calendar too), and the officer
    assert sorted(a.split("<")[-1].rstrip(">") for a, _, _ in first) == sorted([LEAD, HEAD, ANN])
    for _address, method, ev in first:
        assert method == "REQUEST" and str(ev["UID"]) == uid and int(ev["SEQUENCE"]) == 0
        assert ev.decoded("DTSTART") == datetime(2026, 2, 3, 10, tzinfo=UTC)  # 10:00 in London in winter
        assert ev.decoded("DTEND") == datetime(2026, 2, 3, 11, tzinfo=UTC)
        assert str(ev["ORGANIZER"]) == f"mailto:{ANN}"
        assert {str(a) for a in ev["ATTENDEE"]} == {f"mailto:{LEAD}", f"mailto:{HEAD}"}
    [lead_mail] = [m for m in mw.mail_to(LEAD, invitations=True)]
    assert str(lead_mail["Subject"]).startswith(
        "Invitation: Targeting Support Meeting: Low Primary School, Tuesday"
    )
    assert "You receive this because you are invited" in lead_mail.get_body(("plain",)).get_content()
    assert str(lead_mail["Reply-To"]) == ANN

    await app.booking.move(w.contact("low_primary.lead"), mid, local(2026, 2, 4, 13))
    await mw.jobs.events()
    moved = invitations(mw)[3:]
    assert len(moved) == 3 and {(m, int(ev["SEQUENCE"]), str(ev["UID"])) for _, m, ev in moved} == {
        ("REQUEST", 1, uid)
    }
    assert {ev.decoded("DTSTART") for _, _, ev in moved} == {datetime(2026, 2, 4, 13, tzinfo=UTC)}

    # a colleague who is not a school contact, added by their address: they get it too
    await app.booking.add_attendee(
        w.contact("low_primary.lead"), mid, name="Sam Helper", email="sam.helper@elsewhere.example"
    )
    await mw.jobs.events()
    added = invitations(mw)[6:]
    assert len(added) == 4 and {(m, int(ev["SEQUENCE"])) for _, m, ev in added} == {("REQUEST", 2)}
    assert any("sam.helper@elsewhere.example" in a for a, _, _ in added)
    [sam] = mw.mail_to("sam.helper@elsewhere.example", invitations=True)
    assert str(sam["Subject"]).startswith("Updated invitation: ")
    assert "mailto:sam.helper@elsewhere.example" in {str(a) for a in [e for _, _, e in added][0]["ATTENDEE"]}

    await app.booking.cancel(w.contact("low_primary.lead"), mid, "Ofsted inspection that week")
    await mw.jobs.events()
    cancelled = invitations(mw)[10:]
    assert len(cancelled) == 4
    assert {(m, int(ev["SEQUENCE"]), str(ev["UID"]), str(ev["STATUS"])) for _, m, ev in cancelled} == {
        ("CANCEL", 3, uid, "CANCELLED")
    }
    [sam_cancel] = mw.mail_to("sam.helper@elsewhere.example", invitations=True)[1:]
    assert str(sam_cancel["Subject"]).startswith("Cancelled: ")
    assert "Ofsted inspection that week" in sam_cancel.get_body(("plain",)).get_content()
    # each invitation once: another sweep sends nothing more
    assert (await mw.jobs.events()).claimed == 0 and len(invitations(mw)) == 14


async def test_a_summer_time_meeting_is_at_the_right_instant(mw):
    w, app = mw.world, mw.app
    await app.booking.book(w.contact("high_primary.lead"), w.schools["high_primary"], local(2026, 6, 10, 10))
    await mw.jobs.events()
    events = [ev for _, _, ev in invitations(mw)]
    assert len(events) == 3
    for ev in events:
        start = ev.decoded("DTSTART")
        assert start == datetime(2026, 6, 10, 9, tzinfo=UTC)  # 10:00 BST is 09:00 UTC
        assert start.astimezone(LONDON).hour == 10 and ev.decoded("DTEND").astimezone(LONDON).hour == 11


async def test_only_the_latest_change_sends_an_invitation(mw):
    w, app = mw.world, mw.app
    booked = await app.booking.book(
        w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10)
    )
    await app.booking.move(w.contact("low_primary.lead"), booked.meeting.id, local(2026, 2, 5, 14))
    await mw.jobs.events()  # both changes swept together: the move's invitation carries the booking's news
    sent = invitations(mw)
    assert len(sent) == 3 and {(m, int(ev["SEQUENCE"])) for _, m, ev in sent} == {("REQUEST", 1)}
    assert {ev.decoded("DTSTART") for _, _, ev in sent} == {datetime(2026, 2, 5, 14, tzinfo=UTC)}


async def test_with_the_graph_calendar_outlook_invites_and_no_second_invitation_is_sent(sqlite_url, tmp_path):
    emulator = GraphEmulator()
    await emulator.start()
    settings = Settings(
        _env_file=None,
        database_url=sqlite_url,
        calendar_backend="graph",
        mail_dir=tmp_path / "mail",
        graph_base_url=emulator.graph_url,
        graph_retry_delay=0.0,
        graph_join_url_read_delay=0.0,
    )
    app = build_app(settings, clock=FixedClock(NOW))
    try:
        assert app.notifications.invitations is False
        w = await make_world(app.db)
        await app.booking.book(w.contact("low_primary.lead"), w.schools["low_primary"], local(2026, 2, 3, 10))
        kinds = {o.kind for o in await app.notifications.outgoing(await app.notifications.pending())}
        assert "ev.invitation" not in kinds and "ev.confirm" in kinds
        [event] = emulator.events("ann@la.example")  # Outlook's own event, with the attendees it invites
        assert {a["emailAddress"]["address"] for a in event["attendees"]} == {LEAD, HEAD}
    finally:
        await app.close()
        await emulator.stop()
