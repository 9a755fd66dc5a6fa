"""Officers: my week, my schools (this term's status per school), book on a school's behalf, add a contact, past
meetings (a meeting is recorded as held when it ends: the officer can record it as not held, with a reason, and
back).

Booking for a school goes through the same date and time steps as a school's own booking (``booking.py``);
on confirmation the school's staff get a card to accept the time or pick another (``offer.*``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from cards import booking as cards
from cards.notifications import with_errors

from ..domain.errors import BookingRefused, InvalidInput
from ..domain.model import ContactRole
from ..domain.text import moment_text
from ..services.conversation import SchoolStatus
from ..services.views import MeetingView
from .booking import start_for_school
from .common import conversation, meeting_facts, now, place, school_picker, term_words, when
from .router import ChatContext, Reply, Router, field_int, field_str

OFFICERS = ("officer", "admin")
STATUS_WORDS = {
    "booked": "Booked",
    "held": "Held",
    "not_booked": "Not booked",
    "contacted_directly": "Not booked (contacted directly: you arrange it)",
}
EXPECTATION_WORDS = {
    "termly": "expected each term",
    "termly_encouraged": "encouraged each term",
    "yearly": "one a year is enough",
    "contacted_directly": "you contact them",
}


async def book_for_school(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    return await school_picker(ctx)


async def pick_school(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    school_id = field_int(data, "schoolId", label="the school")
    info = await conversation(ctx).school_info(
        ctx.actor, school_id
    )  # only the school's officer (or an admin)
    note = "" if info.entitlement.may_book else "This school is contacted directly: you arrange its TSMs."
    return await start_for_school(ctx, info, officer=True, note=note)


async def invite_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """Send a school its link to book: which school?"""
    schools = await ctx.services.directory.officer_schools(ctx.actor)
    choices = tuple(cards.Choice(f"{s.name} ({s.urn})", str(s.id)) for s in schools)
    return Reply(
        card=cards.pick_school(
            cards.PickSchoolView(
                "Send which school its link to book?",
                choices,
                verb="officer.invite",
                next_title="Send the invitation",
            )
        )
    )


INVITE_CHANNEL = {
    "teams": "in Teams, to those who have the TSM app (the others get it once they install it)",
    "email": "by email, with their link to book on the TSM page",
    "teams_then_email": "in Teams to those who have the TSM app, by email with their link to book to "
    "the others",
}


async def invite(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """An ``invited`` event: the school's attendance leads and senior leaders are told like every message."""
    school_id = field_int(data, "schoolId", label="the school")
    told = await ctx.services.directory.invite_school(ctx.actor, school_id)
    delivery = getattr(ctx.services.settings, "delivery", "teams_then_email")
    school = next(
        (s.name for s in await ctx.services.directory.officer_schools(ctx.actor) if s.id == school_id), ""
    )
    facts = ((("School", school),) if school else ()) + (("To", ", ".join(c.name for c in told)),)
    return Reply(
        text=f"Invitation to book on its way to {len(told)} {'person' if len(told) == 1 else 'people'}.",
        card=cards.done(
            cards.DoneView(
                "Invitation on its way",
                facts,
                note=f"It goes {INVITE_CHANNEL.get(delivery, INVITE_CHANNEL['teams'])}.",
                buttons=(cards.Button("My schools", "officer.schools"),),
            )
        ),
    )


async def offer_times(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """The weekly "unbooked" card's "Offer times" (issue 13, item 13): the school gets something it can answer. A
    school that books itself is sent its invitation (its Book button in Teams, its link to book by email); for one
    the LA contacts directly the officer picks a time, which reaches the school as a proposal to accept or move."""
    school_id = field_int(data, "schoolId", label="the school")
    info = await conversation(ctx).school_info(
        ctx.actor, school_id
    )  # only the school's officer (or an admin)
    if info.entitlement.may_book:
        return await invite(ctx, data)
    return await pick_school(ctx, data)


async def my_week(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    at = now(ctx)
    views = await ctx.services.booking.list_meetings(
        ctx.actor, officer_id=ctx.actor.id, since=at, until=at + timedelta(days=7)
    )
    conv = conversation(ctx)
    items = []
    for v in views:
        status = "Senior leader can't attend: rearrange" if await conv.leader_unavailable_marked(v.id) else ""
        mode = "On Teams" if v.mode == "teams" else "On site"
        items.append(cards.WeekItem(when(v), v.school_label, f"{mode}: {place(v)}", status))
    # Messages to them or their schools' staff that could not be delivered: never only in a log line.
    missed = await ctx.services.notifications.undelivered(
        since=at - timedelta(days=14), officer_id=ctx.actor.id, limit=5
    )
    lines = tuple(
        f"Not delivered: {u.kind} to {u.recipient}, who {u.why}. It goes when they install the app."
        if u.status == "undeliverable"
        else f"Not delivered: {u.kind} to {u.recipient} ({u.why})."
        for u in missed
    )
    heading = f"Your coming week: {len(views)} TSM{'s' if len(views) != 1 else ''}"
    return Reply(card=cards.officer_week(cards.WeekView(heading, tuple(items), lines)))


async def my_schools(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    label, statuses = await conversation(ctx).officer_statuses(ctx.actor)
    rows = []
    counts: dict[str, int] = {}
    for st in statuses:
        counts[st.status] = counts.get(st.status, 0) + 1
        words = STATUS_WORDS[st.status] + (" (joint)" if st.joint else "")
        if st.start is not None:
            words += f": {moment_text(st.start, ctx.tz)}, {'Teams' if st.mode == 'teams' else 'on site'}"
        elif st.status == "not_booked":
            words += f" ({EXPECTATION_WORDS.get(st.expectation, st.expectation)})"
        rows.append(cards.SchoolRowView(f"{st.name} ({st.urn})", words))
    summary = (
        f"{term_words(label)}: {counts.get('booked', 0)} booked, {counts.get('held', 0)} held, "
        f"{counts.get('not_booked', 0)} not booked, {counts.get('contacted_directly', 0)} to contact directly."
        if statuses
        else "You have no schools linked to you yet."
    )
    warnings = await conversation(ctx).capacity_warnings(ctx.actor)
    if warnings:
        summary += " " + "; ".join(warnings) + "."
    to_book = tuple(
        cards.Choice(st.name, str(st.school_id))
        for st in statuses
        if st.status in ("not_booked", "contacted_directly")
    )
    return Reply(
        card=cards.officer_schools(
            cards.SchoolsView("Your schools this term", summary, tuple(rows), to_book, joint_trusts(statuses))
        )
    )


def joint_trusts(statuses: list[SchoolStatus]) -> tuple[str, ...]:
    """The trusts for which "my schools" offers a joint TSM (issue 13, item 7): two or more of the officer's schools
    in it, at least two of them with no TSM this term (a joint TSM needs two that can join; the button would only
    lead to "needs at least two" otherwise). By trust code, in order."""
    free: dict[str, int] = {}
    for st in statuses:
        if st.trust_code and st.status in ("not_booked", "contacted_directly"):
            free[st.trust_code] = free.get(st.trust_code, 0) + 1
    return tuple(sorted(code for code, n in free.items() if n >= 2))


PAST_DAYS = 14  # how far back "past meetings" looks (the scheduler's meeting-end sweep looks as far)
STARTED = ("booked", "moved", "held", "no_show")


async def past_meetings(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """The officer's meetings of the last two weeks that have started, newest first, each with its correction."""
    at = now(ctx)
    views = await ctx.services.booking.list_meetings(
        ctx.actor,
        officer_id=ctx.actor.id if ctx.actor.kind == "officer" else None,
        since=at - timedelta(days=PAST_DAYS),
        until=at,
        include_inactive=True,
    )
    items = tuple(
        cards.PastItem(
            v.id,
            when(v),
            v.school_label,
            f"{'On Teams' if v.mode == 'teams' else 'On site'}: {place(v)}",
            v.status,
        )
        for v in sorted(views, key=lambda v: v.start, reverse=True)
        if v.status in STARTED and v.start <= at
    )
    heading = f"Your TSMs of the last {PAST_DAYS} days: {len(items)}"
    return Reply(card=cards.officer_past(cards.PastView(heading, items, PAST_DAYS)))


async def _started_meeting(ctx: ChatContext, data: dict[str, Any]) -> MeetingView:
    """The meeting named by the card, read again for this officer (another officer's is refused by the service)."""
    meeting_id = field_int(data, "meetingId", label="the meeting")
    v: MeetingView = await ctx.services.booking.get_meeting(ctx.actor, meeting_id)
    if v.status == "cancelled":
        raise BookingRefused("cancelled", "This meeting was cancelled, so there is nothing to record.")
    if v.start > now(ctx):
        raise BookingRefused(
            "not_started", "This meeting has not started yet: you can record whether it was held once it has."
        )
    return v


async def no_show_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    v = await _started_meeting(ctx, data)
    if v.status == "no_show":
        return Reply(
            card=cards.done(
                cards.DoneView(
                    "Already recorded as not held",
                    meeting_facts(v),
                    buttons=(
                        cards.Button("It was held", "meeting.mark_held", (("meetingId", v.id),)),
                        cards.PAST,
                    ),
                )
            )
        )
    return Reply(card=cards.no_show_reason(cards.NoShowView(v.id, meeting_facts(v))))


async def mark_no_show(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    meeting_id = field_int(data, "meetingId", label="the meeting")
    try:
        reason = field_str(data, "reason", label="why it did not take place", max_len=300)
        if not cards.reason_ok(reason):  # the card's own check (REASON_REGEX) says the same before sending
            raise InvalidInput(cards.REASON_ERROR)
    except InvalidInput as exc:  # the same card, with what was typed and why beside it
        v = await _started_meeting(ctx, data)
        entered = data.get("reason")
        typed = entered if isinstance(entered, str) else ""
        card = cards.no_show_reason(cards.NoShowView(v.id, meeting_facts(v), typed[:300]))
        return Reply(text=str(exc), card=with_errors(card, {"reason": str(exc)}), error=True)
    await _started_meeting(ctx, data)
    v = await ctx.services.booking.mark_no_show(ctx.actor, meeting_id, reason)
    return Reply(
        text=f"Recorded: the TSM with {v.school_label} did not take place.",
        card=cards.done(
            cards.DoneView(
                "Recorded as not held",
                (*meeting_facts(v), ("Why", reason)),
                note="The school's TSM for this term is open to book again. Changed your mind? Undo it below.",
                buttons=(
                    cards.Button("Undo: it was held", "meeting.mark_held", (("meetingId", v.id),)),
                    cards.Button(
                        "Book another time", "officer.pick_school", (("schoolId", v.school_ids[0]),)
                    ),
                    cards.PAST,
                ),
            )
        ),
    )


async def mark_held(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    await _started_meeting(ctx, data)
    v = await ctx.services.booking.mark_held(ctx.actor, field_int(data, "meetingId", label="the meeting"))
    return Reply(
        text=f"Recorded: the TSM with {v.school_label} was held.",
        card=cards.done(
            cards.DoneView(
                "Recorded as held",
                meeting_facts(v),
                buttons=(
                    cards.Button(
                        "It didn't take place", "meeting.mark_no_show_start", (("meetingId", v.id),)
                    ),
                    cards.PAST,
                ),
            )
        ),
    )


ROLE_CHOICES = (
    cards.Choice("Attendance lead", ContactRole.ATTENDANCE_LEAD.value),
    cards.Choice("Senior leader", ContactRole.SENIOR_LEADER.value),
    cards.Choice("Other", ContactRole.OTHER.value),
)


async def contact_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    schools = await ctx.services.directory.officer_schools(ctx.actor)
    choices = tuple(cards.Choice(f"{s.name} ({s.urn})", str(s.urn)) for s in schools)
    return Reply(card=cards.add_contact(cards.AddContactView(choices, ROLE_CHOICES)))


async def contact_add(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    urn = field_int(data, "urn", label="the school")
    name = field_str(data, "name", label="the person's name", max_len=120)
    email = field_str(data, "email", label="their work email", max_len=254)
    role = field_str(data, "role", label="their role", max_len=24, required=False) or ContactRole.OTHER.value
    c = await ctx.services.directory.add_contact(ctx.actor, urn, name, email, role)
    school = await ctx.services.directory.school_by_urn(ctx.actor, urn)
    role_words = {"attendance_lead": "attendance lead", "senior_leader": "senior leader"}.get(c.role, "other")
    return Reply(
        text=f"{c.name} added to {school.name}.",
        card=cards.done(
            cards.DoneView(
                "Contact added",
                (("School", school.name), ("Name", c.name), ("Email", c.email), ("Role", role_words)),
                note="When they message this bot in Teams, it will know them and their school.",
                buttons=(
                    cards.Button("Add another", "contact.start"),
                    cards.Button("My schools", "officer.schools"),
                ),
            )
        ),
    )


def register(router: Router) -> None:
    router.command(
        "book for school", "book for a school", help="Book a TSM on a school's behalf", roles=OFFICERS
    )(book_for_school)
    router.command("my week", help="Your TSMs in the coming week", roles=OFFICERS)(my_week)
    router.command(
        "invite school", "invite", help="Send a school its link to book (Teams, or email)", roles=OFFICERS
    )(invite_start)
    router.verb("officer.invite", roles=OFFICERS)(invite)
    router.command("my schools", help="Your schools and whether each has its TSM this term", roles=OFFICERS)(
        my_schools
    )
    router.command("add contact", help="Add a school contact", roles=OFFICERS)(contact_start)
    router.verb("officer.book_start", roles=OFFICERS)(book_for_school)
    router.verb("officer.pick_school", roles=OFFICERS)(pick_school)
    router.verb("officer.offer_slots", roles=OFFICERS)(offer_times)  # from the scheduler's "unbooked" card
    router.verb("officer.week", roles=OFFICERS)(my_week)
    router.verb("officer.schools", roles=OFFICERS)(my_schools)
    router.command(
        "past meetings",
        "recent meetings",
        help="Your TSMs of the last two weeks: record one as not held, or held again",
        roles=OFFICERS,
    )(past_meetings)
    router.verb("officer.past", roles=OFFICERS)(past_meetings)
    router.verb("meeting.mark_no_show_start", roles=OFFICERS)(no_show_start)  # also on the meeting-end card
    router.verb("meeting.mark_no_show", roles=OFFICERS)(mark_no_show)
    router.verb("meeting.mark_held", roles=OFFICERS)(mark_held)
    router.verb("contact.start", roles=OFFICERS)(contact_start)
    router.verb("contact.add", roles=OFFICERS)(contact_add)
