"""One or more fixed views for every card builder (cards/booking.py and cards/notifications.py).

The verb test requires every builder to appear here, so a new card cannot skip the checks or its snapshot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from cards import booking as b
from cards import notifications as n

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
OFFER = "0123456789abcdef0123456789abcdef"
TZ = "Europe/London"
FACTS = (
    ("School", "Ashcombe Primary School"),
    ("When", "Tuesday 1 December 10:00–11:00"),
    ("Where", "Microsoft Teams (no joining link yet)"),
    ("Link officer", "Alex Carter"),
)
DATES = tuple(
    b.Choice(
        f"{(date(2026, 12, 1) + timedelta(days=i)):%A %-d %B} (5 times)",
        (date(2026, 12, 1) + timedelta(days=i)).isoformat(),
    )
    for i in range(10)
)
TIMES = tuple(
    b.Choice(f"{(T0 + i * H / 2):%H:%M}–{(T0 + i * H / 2 + H):%H:%M}", (T0 + i * H / 2).isoformat())
    for i in range(6)
)
FIRST_TIMES = tuple(
    b.Choice(f"{(T0 + timedelta(days=i)):%A %-d %B} 10:00", (T0 + timedelta(days=i)).isoformat())
    for i in range(24)
)
SLOTS = tuple(
    b.Choice(f"Wednesday {2 + i} December 10:00–11:00", (T0 + timedelta(days=1 + i)).isoformat())
    for i in range(4)
)


def samples() -> dict[str, tuple]:
    """name -> (builder, view)."""
    return {
        "book_start": (
            b.book_start,
            b.StartView(
                "Book your TSM",
                "Ashcombe Primary School",
                "Alex Carter",
                "Your attendance was below the national average for your phase, so you are expected to book a TSM for "
                "each term.",
                "Your attendance: 93.0%. National average for primary schools: 94.5% (DfE, 2023/24).",
                (
                    b.Choice("On Microsoft Teams (recommended)", "teams"),
                    b.Choice("In person at school", "on_site"),
                ),
                offer_id=OFFER,
                times=FIRST_TIMES,
            ),
        ),
        "book_start_one_mode": (
            b.book_start,
            b.StartView(
                "Book your TSM",
                "Ashcombe Primary School",
                "Alex Carter",
                "Expected each term.",
                "",
                (b.Choice("In person at school", "on_site"),),
                offer_id=OFFER,
                times=FIRST_TIMES[:3],
                note="You already have the Autumn term 2026-27 TSM: Tuesday 1 December 10:00–11:00. These times are for "
                "the Spring term 2026-27.",
            ),
        ),
        "book_start_no_times": (
            b.book_start,
            b.StartView(
                "Book your TSM",
                "Ashcombe Primary School",
                "Alex Carter",
                "Expected each term.",
                "",
                (
                    b.Choice("On Microsoft Teams (recommended)", "teams"),
                    b.Choice("In person at school", "on_site"),
                ),
            ),
        ),
        "book_start_officer": (
            b.book_start,
            b.StartView(
                "Book a TSM for Upton Lodge School",
                "Upton Lodge School",
                "Priya Shah",
                "Contacted directly.",
                "",
                (
                    b.Choice("In person at school (recommended)", "on_site"),
                    b.Choice("On Microsoft Teams", "teams"),
                ),
                school_id=21,
                note="This school is contacted directly: you arrange its TSMs.",
            ),
        ),
        "book_start_joint": (
            b.book_start,
            b.StartView(
                "Book a joint TSM",
                "Wexbridge Schools Partnership",
                "Priya Shah",
                "One 60-minute TSM for several of the trust's schools. It is each school's TSM for the Autumn term "
                "2026-27.",
                "",
                (
                    b.Choice("On Microsoft Teams", "teams"),
                    b.Choice("At Larkspur Primary School", "on_site:13"),
                    b.Choice("At Queensway Academy", "on_site:17"),
                    b.Choice("At Zephyr Academy", "on_site:25"),
                ),
                offer_id=OFFER,
                times=FIRST_TIMES,
                schools=(
                    b.Choice("Larkspur Primary School: not booked (expected each term)", "13"),
                    b.Choice("Queensway Academy: not booked (one a year is enough)", "17"),
                    b.Choice("Zephyr Academy: not booked (expected each term)", "25"),
                ),
                chosen="13,17,25",
                cannot_join=(
                    ("Kestrel Primary Academy", "its link officer is Alex Carter"),
                    ("Saxon Free School", "already booked this term (Tuesday 1 December 10:00)"),
                    ("Amberley Free School", "closed (GIAS lists it as closed)"),
                ),
                by_officer=True,
                modes_label="Where?",
                pick_verb="joint.pick_start",
                more_verb="joint.more_dates",
            ),
        ),
        "pick_trust": (
            b.pick_school,
            b.PickSchoolView(
                "A joint TSM for which trust?",
                (
                    b.Choice("Demoshire Learning Trust (5 of your schools)", "9001"),
                    b.Choice("Wexbridge Schools Partnership (2 of your schools)", "9002"),
                ),
                verb="joint.start",
                input_id="trust",
                label="Trust",
            ),
        ),
        "pick_date": (
            b.pick_date,
            b.DatesView(
                OFFER,
                "Book your TSM",
                "Autumn term 2026-27: a 60-minute TSM on Teams with Alex Carter.",
                DATES,
                back=b.Button("Back", "book.start"),
            ),
        ),
        "pick_date_empty": (
            b.pick_date,
            b.DatesView(OFFER, "Move your TSM", "No dates.", (), back=b.MY_MEETINGS),
        ),
        "pick_time": (b.pick_time, b.TimesView(OFFER, "Book your TSM", "Tuesday 1 December", TIMES)),
        "pick_time_joint": (
            b.pick_time,
            b.TimesView(
                OFFER, "Book a joint TSM", "Tuesday 1 December", TIMES[:3], pick_verb="joint.pick_time"
            ),
        ),
        "pick_attendees": (
            b.pick_attendees,
            b.AttendeesView(
                OFFER,
                T0.isoformat(),
                "Tuesday 1 December 10:00–11:00",
                (b.Choice("Oliver Evans", "2"),),
                "2",
                (b.Choice("Pat Pastoral (colleague)", "7"),),
                "2026-12-01",
            ),
        ),
        "pick_attendees_book": (
            b.pick_attendees,
            b.AttendeesView(
                OFFER,
                T0.isoformat(),
                "Tuesday 1 December 10:00–11:00",
                (b.Choice("Oliver Evans", "2"),),
                "2",
                (b.Choice("Pat Pastoral (colleague)", "7"), b.Choice("Sam Teacher (attendance lead)", "8")),
                "2026-12-01",
                facts=FACTS,
            ),
        ),
        "pick_attendees_joint": (
            b.pick_attendees,
            b.AttendeesView(
                OFFER,
                T0.isoformat(),
                "Tuesday 1 December 10:00–11:00",
                (),
                "",
                (),
                "2026-12-01",
                facts=(
                    ("Schools", "Larkspur Primary School, Queensway Academy, Zephyr Academy"),
                    ("When", "Tuesday 1 December 10:00–11:00"),
                    ("Where", "At Queensway Academy"),
                    ("Link officer", "Priya Shah"),
                    ("Also invited", "each school's attendance leads"),
                ),
                leader_sets=(
                    b.LeaderSet(
                        "leader_13",
                        "Senior leader: Larkspur Primary School",
                        (b.Choice("Oliver Evans (senior leader)", "2"),),
                        "2",
                    ),
                    b.LeaderSet(
                        "leader_17",
                        "Senior leader: Queensway Academy",
                        (b.Choice("Will Nowak (attendance lead)", "5"), b.Choice("Ann Ode (colleague)", "6")),
                        "5",
                    ),
                    b.LeaderSet(
                        "leader_25",
                        "Senior leader: Zephyr Academy",
                        (b.Choice("Zara Bell (senior leader)", "9"),),
                        "9",
                    ),
                ),
                confirm_verb="joint.confirm",
            ),
        ),
        "confirm": (
            b.confirm,
            b.ConfirmView(
                OFFER,
                T0.isoformat(),
                "Book this TSM?",
                FACTS,
                b.Button(
                    "Book it",
                    "book.confirm",
                    (("offerId", OFFER), ("start", T0.isoformat()), ("leader", "2"), ("colleagues", "")),
                ),
                "2026-12-01",
                note="Nothing is booked until you press Book it.",
            ),
        ),
        "confirm_move": (
            b.confirm,
            b.ConfirmView(
                OFFER,
                T0.isoformat(),
                "Move the TSM to this time?",
                FACTS,
                b.Button("Move it", "meeting.move", (("offerId", OFFER), ("start", T0.isoformat()))),
                "2026-12-01",
            ),
        ),
        "done_booked": (
            b.done,
            b.DoneView(
                "Your TSM is booked",
                (
                    *FACTS,
                    (
                        "Invitation",
                        "Being emailed to everyone invited and the link officer; also attached here (.ics)",
                    ),
                ),
                note="A reminder comes a week before.",
            ),
        ),
        "done_cancelled": (
            b.done,
            b.DoneView(
                "TSM cancelled",
                FACTS[:2],
                note="The other side has been told and the invitation withdrawn. Changed your mind? Undo books "
                "the same time again while it is free.",
                buttons=(
                    b.Button("Undo", "meeting.undo_cancel", (("meetingId", 1),)),
                    b.Button("Book another time", "book.start"),
                    b.MY_MEETINGS,
                ),
            ),
        ),
        "done_officer_rebook": (
            b.done,
            b.DoneView(
                "TSM cancelled",
                FACTS[:2],
                buttons=(b.Button("Book another time", "officer.pick_school", (("schoolId", 3),)),),
            ),
        ),
        "done_accepted": (
            b.done,
            b.DoneView("Accepted: see you then", FACTS, "https://teams.example/join/1"),
        ),
        "slots_just_taken": (
            b.slots,
            b.SlotsView(
                "Just taken",
                "Sorry, that time has just been taken.",
                OFFER,
                SLOTS,
                "book.pick_time",
                extra=(b.STOP,),
            ),
        ),
        "slots_none": (b.slots, b.SlotsView("Let's find another time", "Told.", OFFER, (), "meeting.move")),
        "slots_leader": (  # after "senior leader can't attend": move, or keep the time (which clears the mark)
            b.slots,
            b.SlotsView(
                "Let's find another time",
                "Thank you: Alex Carter has been told that your senior leader can't attend the TSM on Tuesday "
                "1 December 10:00–11:00. A senior leader is expected, so please move it to another time in the "
                "Autumn term 2026-27:",
                OFFER,
                SLOTS,
                "meeting.move",
                "Move to this time",
                (b.Button("Keep the current time", "meeting.keep_time", (("meetingId", 1),)),),
            ),
        ),
        "slots_offer": (
            b.slots,
            b.SlotsView("That time is not on offer", "Not free.", OFFER, SLOTS, "offer.pick_slot"),
        ),
        "meetings": (
            b.meetings,
            b.MeetingsView(
                "Your upcoming TSMs",
                (
                    b.MeetingItem(1, "Tuesday 1 December 10:00–11:00", FACTS, True, True),
                    b.MeetingItem(
                        2, "Tuesday 12 January 10:00–11:00", FACTS, True, True, leader_unavailable=True
                    ),
                    b.MeetingItem(3, "Tuesday 2 February 10:00–11:00", FACTS, False, True),
                ),
                "none",
                (b.Button("Book a TSM", "book.start"),),
            ),
        ),
        "meetings_officer": (
            b.meetings,
            b.MeetingsView(
                "Your upcoming TSMs",
                (b.MeetingItem(1, "Tuesday 1 December 10:00–11:00", FACTS, True, False),),
                "none",
                (b.Button("Book for a school", "officer.book_start"), b.Button("My week", "officer.week")),
            ),
        ),
        "meetings_empty": (b.meetings, b.MeetingsView("No upcoming TSMs", (), "You have no TSM booked.")),
        "cancel_reason": (b.cancel_reason, b.CancelView(1, FACTS)),
        "cancel_confirm": (b.cancel_confirm, b.CancelView(1, FACTS, "Ofsted visit that week")),
        "add_colleague": (
            b.add_colleague,
            b.AddColleagueView(1, FACTS, (b.Choice("Pat Pastoral (colleague)", "7"),)),
        ),
        "leader_ask": (
            b.leader_ask,
            b.LeaderAskView("Alex Carter", (b.Choice("Tuesday 1 December 10:00–11:00", "1"),)),
        ),
        "officer_week": (
            b.officer_week,
            b.WeekView(
                "Your coming week: 2 TSMs",
                (
                    b.WeekItem(
                        "Tuesday 1 December 10:00–11:00",
                        "Ashcombe Primary School",
                        "On Teams: Microsoft Teams",
                    ),
                    b.WeekItem(
                        "Wednesday 2 December 10:00–11:30",
                        "Northgate High School",
                        "On site: 1 High Street, Demoton",
                        "Senior leader can't attend: rearrange",
                    ),
                ),
                ("Calendar write failed for a TSM",),
            ),
        ),
        "officer_schools": (
            b.officer_schools,
            b.SchoolsView(
                "Your schools this term",
                "Autumn term 2026-27: 1 booked, 0 held, 1 not booked, 1 to contact directly.",
                (
                    b.SchoolRowView(
                        "Ashcombe Primary School (990001)", "Booked: Tuesday 1 December 10:00, Teams"
                    ),
                    b.SchoolRowView(
                        "Denby Road Primary School (990004)", "Not booked (one a year is enough)"
                    ),
                    b.SchoolRowView(
                        "Willowbrook School (990023)", "Not booked (contacted directly: you arrange it)"
                    ),
                ),
                (b.Choice("Denby Road Primary School", "4"), b.Choice("Willowbrook School", "23")),
            ),
        ),
        # two of the officer's schools of one trust still to book this term: "Joint TSM" for that trust
        "officer_schools_joint": (
            b.officer_schools,
            b.SchoolsView(
                "Your schools this term",
                "Autumn term 2026-27: 0 booked, 0 held, 2 not booked, 0 to contact directly.",
                (
                    b.SchoolRowView("Larkspur Primary School (990013)", "Not booked (expected each term)"),
                    b.SchoolRowView("Queensway Academy (990017)", "Not booked (expected each term)"),
                ),
                (b.Choice("Larkspur Primary School", "13"), b.Choice("Queensway Academy", "17")),
                ("9002",),
            ),
        ),
        "officer_past": (
            b.officer_past,
            b.PastView(
                "Your TSMs of the last 14 days: 3",
                (
                    b.PastItem(
                        3,
                        "Monday 30 November 14:00–15:00",
                        "Ashcombe Primary School",
                        "On Teams: Microsoft Teams",
                        "booked",
                    ),
                    b.PastItem(
                        2,
                        "Thursday 26 November 10:00–11:00",
                        "Northgate High School",
                        "On site: 1 High Street",
                        "held",
                    ),
                    b.PastItem(
                        1,
                        "Tuesday 24 November 10:00–11:00",
                        "Denby Road Primary School",
                        "On site: School Lane",
                        "no_show",
                    ),
                ),
                14,
            ),
        ),
        "officer_past_empty": (b.officer_past, b.PastView("Your TSMs of the last 14 days: 0", (), 14)),
        "no_show_reason": (b.no_show_reason, b.NoShowView(1, FACTS)),
        "pick_school": (
            b.pick_school,
            b.PickSchoolView(
                "Book a TSM for which school?",
                (
                    b.Choice("Ashcombe Primary School (990001)", "1"),
                    b.Choice("Denby Road Primary School (990004)", "4"),
                ),
            ),
        ),
        "pick_school_none": (b.pick_school, b.PickSchoolView("Book a TSM for which school?", ())),
        "pick_school_invite": (
            b.pick_school,
            b.PickSchoolView(
                "Send which school its link to book?",
                (b.Choice("Ashcombe Primary School (990001)", "1"),),
                verb="officer.invite",
                next_title="Send the invitation",
            ),
        ),
        "proposal": (b.proposal, b.ProposalView(1, "Priya Shah", FACTS, OFFER, SLOTS)),
        "add_contact": (
            b.add_contact,
            b.AddContactView(
                (b.Choice("Ashcombe Primary School (990001)", "990001"),),
                (
                    b.Choice("Attendance lead", "attendance_lead"),
                    b.Choice("Senior leader", "senior_leader"),
                    b.Choice("Other", "other"),
                ),
            ),
        ),
        "help_school": (
            b.help_card,
            b.HelpView(
                "Hello Amy",
                "I book your school's TSM.",
                (("book", "Book this term's TSM"), ("help", "What I can do")),
                (b.Button("Book a TSM", "book.start"), b.Button("My meetings", "meeting.list")),
            ),
        ),
        "help_officer": (
            b.help_card,
            b.HelpView(
                "Hello Priya",
                "Your TSMs.",
                (("my week", "Your week"),),
                (
                    b.Button("My week", "officer.week"),
                    b.Button("My schools", "officer.schools"),
                    b.Button("Book for a school", "officer.book_start"),
                    b.Button("Add contact", "contact.start"),
                    b.Button("Help", "help.show"),
                ),
            ),
        ),
        # the scheduler's cards (cards/notifications.py)
        "n_reminder_7d": (
            n.reminder,
            n.ReminderView(
                "remind_7d",
                "Ashcombe Primary School",
                "Alex Carter",
                T0,
                T0 + H,
                TZ,
                "teams",
                "Microsoft Teams",
                "https://teams.example/join/1",
                sent_at=T0 - 5 * 24 * H,
            ),
        ),  # sent late: "in 5 days"
        "n_reminder_confirm": (
            n.reminder,
            n.ReminderView(
                "confirm",
                "Ashcombe Primary School",
                "Alex Carter",
                T0,
                T0 + H,
                TZ,
                "on_site",
                "1 High Street",
                None,
                moved=True,
            ),
        ),
        "n_book_invite": (
            n.book_invite,
            n.BookInviteView(
                "Book this term's TSM",
                "A new term has started: please book Ashcombe Primary School's TSM with Alex "
                "Carter. It takes a minute: pick a day and a time that suit you.",
                "Ashcombe Primary School",
                "Alex Carter",
            ),
        ),
        "n_agenda": (
            n.agenda,
            n.AgendaView(
                "Tuesday 1 December",
                TZ,
                (n.AgendaItem(T0, T0 + H, "Ashcombe Primary School", "teams", "Microsoft Teams"),),
            ),
        ),
        "n_unbooked": (
            n.unbooked,
            n.UnbookedView(
                "autumn term 2026-27",
                tuple(n.UnbookedSchool(i, f"School {i}", "Expected each term") for i in range(1, 8)),
            ),
        ),
        "n_unbooked_digest": (
            n.unbooked,
            n.UnbookedView(
                "autumn term 2026-27",
                (
                    n.UnbookedSchool(
                        1,
                        "St Mary's Church of England Voluntary Aided Primary School",
                        "Expected each term",
                        "reminded Monday 28 September",
                    ),
                    n.UnbookedSchool(
                        2, "Ashcombe Primary School", "Expected each term", "invited Monday 7 September"
                    ),
                    n.UnbookedSchool(3, "Upton Lodge School", "You arrange it (contacted directly)"),
                ),
                note="The schools that book themselves have been sent a reminder; those contacted directly are yours "
                "to arrange.",
            ),
        ),
        "n_school_news": (
            n.school_news,
            n.NewsView(
                (
                    "Ashcombe Primary School booked its TSM: Tuesday 1 December 10:00–11:00, on Microsoft Teams.",
                    "The TSM for Brookfield Infant School on Wednesday 2 December 10:00–11:00 was cancelled by "
                    "Chloe Davies. Reason: Ofsted visit",
                    "Mohammed Iqbal accepted the TSM for Queensway Academy: Thursday 3 December 14:00–15:30.",
                ),
            ),
        ),
        "n_next_tsm_offer": (
            n.next_tsm_offer,
            n.OfferView(
                "Book next term's TSM",
                "Ashcombe Primary School",
                1,
                "Alex Carter",
                "spring term 2026-27",
                "teams",
                TZ,
                (n.OfferSlot(T0, T0 + H), n.OfferSlot(T0 + 24 * H, T0 + 25 * H)),
                True,
            ),
        ),
        "n_next_tsm_offer_officer_proposes": (
            n.next_tsm_offer,
            n.OfferView(
                "Next term's TSM",
                "Ashcombe Primary School",
                1,
                "Alex Carter",
                "spring term 2026-27",
                "on_site",
                TZ,
                (n.OfferSlot(T0, T0 + H),),
                False,
            ),
        ),
        "n_next_tsm_offer_to_officer": (
            n.next_tsm_offer,
            n.OfferView(
                "Book next term's TSM now?",
                "Ashcombe Primary School",
                1,
                "Alex Carter",
                "spring term 2026-27",
                "teams",
                TZ,
                (n.OfferSlot(T0, T0 + H),),
                True,
                held_meeting_id=7,
            ),
        ),
        "n_next_tsm_offer_to_officer_no_slots": (
            n.next_tsm_offer,
            n.OfferView(
                "Book next term's TSM now?",
                "Ashcombe Primary School",
                1,
                "Alex Carter",
                "spring term 2026-27",
                "teams",
                TZ,
                (),
                True,
                held_meeting_id=7,
            ),
        ),
        "done_unknown_user": (
            b.done,
            b.DoneView(
                "I don't know you yet",
                (),
                note="Hello Pat. I can't find you among the school contacts or link officers I "
                "know... Or ask them from here: they get your name and email.",
                buttons=(b.Button("Ask the LA for access", "access.request"),),
            ),
        ),
        "n_access_request": (
            n.access_request,
            n.AccessRequestView(
                "Pat New",
                "pat.new@ashcombe.example",
                "8f1c2a9e-1b2c-4d5e-8f90-123456789abc",
                (("Ashcombe Primary School", "990001"), ("St Bede’s Catholic Primary School", "990007")),
            ),
        ),
        "n_next_tsm_offer_booked": (
            n.next_tsm_offer,
            n.OfferView(
                "Next term's TSM is booked",
                "Ashcombe Primary School",
                1,
                "Alex Carter",
                "spring term 2026-27",
                "teams",
                TZ,
                (),
                True,
                held_meeting_id=7,
                booked="Tuesday 12 January 10:00–11:00",
            ),
        ),
        "n_leader_rebook": (
            n.leader_rebook,
            n.RebookView(
                1,
                "Ashcombe Primary School",
                "Alex Carter",
                T0,
                T0 + H,
                TZ,
                (n.OfferSlot(T0 + 24 * H, T0 + 25 * H),),
            ),
        ),
    }


NOTIFICATION_BUILDERS = (
    n.reminder,
    n.agenda,
    n.unbooked,
    n.school_news,
    n.next_tsm_offer,
    n.leader_rebook,
    n.book_invite,
    n.access_request,
)


def big_samples() -> dict[str, tuple]:
    """The largest cards real data makes: a whole term of dates, an officer's 60 schools, 12 meetings."""
    many_dates = tuple(
        b.Choice(f"Wednesday {i} December (13 times)", f"2026-12-{i:02d}") for i in range(1, 61)
    )
    rows = tuple(
        b.SchoolRowView(
            f"St Very Long Name Church of England Voluntary Aided Primary School {i} (99{i:04d})",
            "Not booked (contacted directly: you arrange it)",
        )
        for i in range(60)
    )
    items = tuple(
        b.MeetingItem(
            i,
            "Wednesday 30 December 10:00–11:30",
            (*FACTS, ("Invited", ", ".join(f"Person Number {k} (senior leader)" for k in range(8)))),
            True,
            True,
        )
        for i in range(12)
    )
    return {
        "dates": (b.pick_date, b.DatesView(OFFER, "Book your TSM", "x" * 200, many_dates)),
        "schools": (
            b.officer_schools,
            b.SchoolsView(
                "Your schools",
                "x" * 200,
                rows,
                tuple(b.Choice(r.name, str(i)) for i, r in enumerate(rows)),
                ("9001", "9002"),  # several trusts: Joint TSM goes to the trust picker
            ),
        ),
        "meetings": (b.meetings, b.MeetingsView("Your upcoming TSMs", items, "")),
        "unbooked": (
            n.unbooked,
            n.UnbookedView(
                "autumn term 2026-27",
                tuple(
                    n.UnbookedSchool(
                        i,
                        f"St Very Long Name Church of England Voluntary Aided Primary School {i} (99{i:04d})",
                        "One a year, and none held yet this academic year",
                        "not reached: its staff have neither the app nor an email address",
                    )
                    for i in range(60)
                ),
                "The schools that book themselves have been sent a reminder; those contacted directly are yours "
                "to arrange.",
            ),
        ),
        "news": (
            n.school_news,
            n.NewsView(
                tuple(
                    f"The TSM for St Very Long Name Church of England Voluntary Aided Primary School {i} on "
                    "Wednesday 30 December 10:00–11:30 was cancelled by Person Number 1. Reason: " + "x" * 400
                    for i in range(40)
                )
            ),
        ),
        "times": (
            b.pick_time,
            b.TimesView(
                OFFER,
                "Book your TSM",
                "Tuesday 1 December",
                tuple(b.Choice("09:00–10:30", (T0 + i * H / 2).isoformat()) for i in range(20)),
            ),
        ),
    }
