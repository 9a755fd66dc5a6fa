"""School staff (and officers, where the same steps apply): book a TSM, my meetings, move, cancel, add a
colleague, "our senior leader can't attend", and answering a time the officer booked.

State lives in the card data and the server-side offer (``chat_offer``), never in memory: a restart or a
second instance continues a flow. Every handler re-reads what it needs through the services as the actor.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from cards import booking as cards
from cards.notifications import with_errors

from ..domain.dates import MONTHS, WEEKDAYS, academic_year_of, read_day
from ..domain.entitlement import officer_words
from ..domain.errors import BookingRefused, InvalidInput, NotAllowed
from ..domain.model import ContactRole, MeetingStatus, Mode
from ..domain.pupil_data import check_free_text
from ..domain.text import day_text, moment_text, when_text
from ..services.booking import CHANGEABLE, KnownSchools
from ..services.conversation import ExpiredOffer, Offer, SchoolInfo
from ..services.views import BookingResult, MeetingView, SlotOffer
from .common import (
    MODE_LABELS,
    conversation,
    dates_reply,
    days_of,
    ics_files,
    intro_for,
    invitation_line,
    load_offer,
    meeting_facts,
    now,
    outlook_invites,
    place,
    read_date,
    read_start,
    school_picker,
    slot_choices,
    teams_link_words,
    term_words,
    times_reply,
    updated_invitation_note,
    when,
)
from .flows import (
    BOOK,
    BOOKING_KINDS,
    MOVE,
    MOVING_KINDS,
    OFFICER_BOOK,
    PROPOSAL,
    Next,
    booking_flow,
    flow_of,
)
from .router import DEFAULT_TZ, MAX_ID, ChatContext, Reply, Router, field_datetime, field_int, field_str

SLOT_REFUSALS = {
    "slot_taken",
    "officer_busy",
    "day_full",
    "too_soon",
    "not_offered",
    "not_bookable_day",
    "officer_not_working",
    "travel_time",
}


# ---------------------------------------------------------------------- book: start and mode


def looks_like_a_date(text: str) -> bool:
    """Words that were meant as a date even when they cannot be read as one ("book 31/31", "book next blursday")."""
    t = text.lower()
    return (
        any(ch.isdigit() for ch in t)
        or bool(re.search(r"\b(next|this|on)\s+\w+|\w+day\b", t))
        or any(w in t for w in (*WEEKDAYS, *MONTHS, "tomorrow", "next week", "half term"))
    )


def _with_year(day: date, today: date) -> str:
    """A day in words, with its year when it is not in today's academic year (September to August)."""
    return day_text(day, year=academic_year_of(day) != academic_year_of(today))


def entitlement_words(info: SchoolInfo, *, officer_view: bool = False) -> tuple[str, str]:
    """(what the LA expects of this school, the figures behind it) in words: the national average of the same
    year and measure as the school's figure, saying which (``tsm.domain.entitlement.figures_words``)."""
    if (
        officer_view
    ):  # the school's own message speaks to the school ("Your attendance ..."): the officer's words
        return officer_words(info.entitlement, info.name), info.figures_for_officer
    return info.entitlement.message, info.figures


def contacted_directly_words(info: SchoolInfo, message: str) -> str:
    """The LA's words for a school it contacts directly, with who will contact it (its link officer)."""
    if not info.officer_name:
        return f"{message} Your LA's attendance team will tell you who."
    if info.officer_name in message:
        return message
    return f"{message} Your link officer is {info.officer_name} ({info.officer_email})."


async def contacted_directly_reply(ctx: ChatContext, info: SchoolInfo, message: str) -> Reply:
    """A school the LA contacts directly tried to book: tell it so, naming its officer; the request is recorded
    (an event), so the officer is told (tsm.notifications)."""
    text = contacted_directly_words(info, message)
    asked = info.officer_id is not None and ctx.actor.kind == "contact"
    card = cards.done(
        cards.DoneView(
            "You don't need to book",
            (),
            note=text + (" We have let them know you asked." if asked else ""),
            buttons=(cards.MY_MEETINGS, cards.HELP),
        )
    )
    if asked:
        await conversation(ctx).request_booking(ctx.actor, info.id)
    return Reply(card=card)


FIRST_TIMES = 24  # the soonest free times on the first card; "More dates" goes through every date of the term


async def start_for_school(ctx: ChatContext, info: SchoolInfo, *, officer: bool, note: str = "") -> Reply:
    """The first card (issue 14, item 3): what the LA expects, how to meet (the LA's default chosen) and the soonest
    free times for it, so a school books in three presses: book, choose this time, book it. A term already booked
    is said first, with the next term's times."""
    if info.officer_id is None:
        return _dead_end_reply(
            f"{info.name} has no link officer yet, so there is no calendar to book in. Please "
            f"contact the {info.la_name} attendance team.",
            has_meeting=False,
        )
    soonest = await _soonest(ctx, info, info.default_mode, officer=officer)
    if isinstance(soonest, Reply):
        return soonest
    offer, why = soonest
    return Reply(card=_start_card(info, offer, officer=officer, note=" ".join(n for n in (note, why) if n)))


def _start_card(info: SchoolInfo, offer: Offer, *, officer: bool, note: str = "") -> dict[str, Any]:
    modes = [offer.mode, *[m for m in [info.default_mode, *info.modes_allowed] if m != offer.mode]]
    modes = list(dict.fromkeys(modes))
    choices = tuple(
        cards.Choice(
            MODE_LABELS.get(m, m) + (" (recommended)" if m == info.default_mode and len(modes) > 1 else ""), m
        )
        for m in modes
    )
    message, figures = entitlement_words(info, officer_view=officer)
    heading = f"Book a TSM for {info.name}" if officer else "Book your TSM"
    tz = ZoneInfo(offer.timezone)
    times = tuple(cards.Choice(moment_text(s, tz), s.isoformat()) for s in sorted(offer.starts)[:FIRST_TIMES])
    return cards.book_start(
        cards.StartView(
            heading,
            info.name,
            info.officer_name,
            message,
            figures,
            choices,
            info.id if officer else None,
            note,
            offer.id,
            times,
        )
    )


async def _soonest(
    ctx: ChatContext, info: SchoolInfo, mode: str, *, officer: bool
) -> tuple[Offer, str] | Reply:
    """This term's free times for ``mode``, or next term's when this term is booked or full (and why, in words)."""
    booking = ctx.services.booking
    booked = info.booked_term_ids  # read with the school: its meetings are read only when one is booked
    # The first card shows the soonest FIRST_TIMES: the slot finder stops there ("More dates" and a press on a time
    # work the term out afresh), and the offer kept for the card holds just those.
    offer = await booking.free_slots(
        ctx.actor, [info.id], term="current", mode=mode, limit=FIRST_TIMES, known=info.known
    )
    why = ""
    if offer.term_id in booked or not offer.slots:
        m = None
        if offer.term_id in booked:  # for the words that say when
            mine = await booking.list_meetings(ctx.actor, school_id=info.id, current_terms=True)
            m = next((x for x in mine if x.term_id == offer.term_id), None)
        why = (
            f"{'The school' if officer else 'You'} already {'has' if officer else 'have'} the "
            f"{term_words(offer.term_label)} TSM: {when(m)}."
            if m
            else f"No free times are left in the {term_words(offer.term_label)}."
        )
        try:
            nxt = await booking.free_slots(
                ctx.actor, [info.id], term="next", mode=mode, limit=FIRST_TIMES, known=info.known
            )
        except BookingRefused as exc:
            return _dead_end_reply(why + " " + exc.message, has_meeting=m is not None)
        if nxt.term_id in booked:
            return _dead_end_reply(
                f"{info.name} is already booked for the {term_words(offer.term_label)} and the "
                f"{term_words(nxt.term_label)}. Only one TSM per term: you can move or cancel one.",
                has_meeting=True,
            )
        offer, why = nxt, why + f" These times are for the {term_words(nxt.term_label)}."
    saved = await conversation(ctx).save_offer(
        ctx.actor, booking_flow(officer=officer).kind, offer, school_name=info.name
    )
    return saved, why


async def pick_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """ "Choose this time" on the first card: the mode and time chosen there. Another mode than the offer's has its
    own free times (travel, length): the time goes ahead if it is free that way too, else the card comes back with
    that mode's times. On to the last card: the people prefilled and Book it (an officer: Book it)."""
    offer = await load_offer(ctx, data, *BOOKING_KINDS, allow_expired=True)
    officer = flow_of(offer.kind) is OFFICER_BOOK
    info = await conversation(ctx).school_info(
        ctx.actor, offer.school_ids[0]
    )  # authorises: own school or officer's
    if not officer and not info.entitlement.may_book:
        return await contacted_directly_reply(ctx, info, info.entitlement.refusal)
    mode = field_str(data, "mode", label="how to meet", max_len=16)
    if mode not in info.modes_allowed:
        raise InvalidInput(
            f"{info.la_name} offers TSMs {', '.join(MODE_LABELS[m].lower() for m in info.modes_allowed)}"
            " only. Please pick one of them."
        )
    note = ""
    if mode != offer.mode:
        fresh = await ctx.services.booking.free_slots(ctx.actor, [info.id], term=offer.term_id, mode=mode)
        offer = await conversation(ctx).save_offer(ctx.actor, offer.kind, fresh, school_name=info.name)
        note = f"{MODE_LABELS.get(mode, mode)}, the free times are not all the same: these are free."
    try:
        start = read_start(data, offer)
    except InvalidInput as exc:
        card = _start_card(info, offer, officer=officer, note=note)
        return Reply(text=str(exc), card=with_errors(card, {"start": str(exc)}), error=True)
    # Re-checked on press, unless another mode's times were worked out just now.
    gone = None if note else await taken_since(ctx, offer, start, known=info.known)
    if gone is not None:
        return Reply(
            text=JUST_TAKEN, card=_start_card(info, gone, officer=officer, note=JUST_TAKEN), error=True
        )
    day = start.astimezone(ZoneInfo(offer.timezone)).date().isoformat()
    if not officer:
        return await _attendees_card(ctx, offer, start, day, book=True, info=info)
    flow = flow_of(offer.kind)
    return Reply(
        card=cards.confirm(
            cards.ConfirmView(
                offer.id,
                start.isoformat(),
                "Book this TSM for the school?",
                _slot_facts(ctx, offer, start, info),
                cards.Button(
                    "Book it",
                    flow.confirm_verb,
                    (("offerId", offer.id), ("start", start.isoformat())),
                    style="positive",
                ),
                day,
                note="The school's senior leader and attendance lead are invited; the school is then asked to "
                "accept the time or pick another.",
            )
        )
    )


async def book(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    if ctx.actor.is_officer:
        return await school_picker(ctx)
    # Anyone else the router lets in is a contact, and a contact is always of a school (Directory.identify builds it
    # with its school's id): no "not school staff" refusal here, which no turn could reach.
    assert ctx.actor.school_id is not None
    info = await conversation(ctx).school_info(ctx.actor, ctx.actor.school_id)
    if not info.entitlement.may_book:
        return await contacted_directly_reply(ctx, info, info.entitlement.refusal)
    args = str(data.get("args", "") or "").strip()
    today = now(ctx).astimezone(ZoneInfo(DEFAULT_TZ)).date()
    day = read_day(args, today, await conversation(ctx).term_calendar(ctx.actor, info.id)) if args else None
    if day is None and args and looks_like_a_date(args):
        raise InvalidInput(
            "I couldn't read that date. Try **book 3 December**, **book next Tuesday**, "
            "**book tomorrow**, or just **book**."
        )
    if day is not None and day < today:  # "book 3 December" on 6 December: say so, offer the nearest dates
        passed = f"{_with_year(day, today)} has passed: here are the nearest dates with free times."
        reply = await open_dates(ctx, info, info.default_mode, officer=False, lead=passed)
        return Reply(text=passed, card=reply.card, error=True)
    if day is not None:  # "book 3 December": straight to that day's times, or why not
        try:
            term_id = await conversation(ctx).term_id_for(
                ctx.actor, info.id, datetime.combine(day, time(12), tzinfo=ZoneInfo(DEFAULT_TZ))
            )
        except BookingRefused as exc:
            reply = await start_for_school(ctx, info, officer=False)
            return Reply(text=exc.message, card=reply.card, error=True)
        return await open_dates(ctx, info, info.default_mode, officer=False, term_id=term_id, day=day)
    return await start_for_school(ctx, info, officer=False)


async def pick_mode(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    mode = field_str(data, "mode", label="how to meet", max_len=16)
    if ctx.actor.is_officer:
        school_id = field_int(data, "schoolId", label="the school")
        officer = True
    else:
        school_id = ctx.actor.school_id  # card data never says which school a contact acts for
        officer = False
    info = await conversation(ctx).school_info(ctx.actor, school_id)
    if mode not in info.modes_allowed:
        raise InvalidInput(
            f"{info.la_name} offers TSMs {', '.join(MODE_LABELS[m].lower() for m in info.modes_allowed)}"
            " only. Please pick one of the buttons."
        )
    if not officer and not info.entitlement.may_book:
        return await contacted_directly_reply(ctx, info, info.entitlement.refusal)
    return await open_dates(ctx, info, mode, officer=officer)


async def open_dates(
    ctx: ChatContext,
    info: SchoolInfo,
    mode: str,
    *,
    officer: bool,
    term_id: int | None = None,
    day: date | None = None,
    lead: str = "",
) -> Reply:
    """Dates with free times in the current term, or the next one if this term is booked or has no time left.
    With ``term_id`` and ``day`` (a typed date): that term, and that day's times if it has any."""
    booking = ctx.services.booking
    actor = ctx.actor
    active = {m.term_id: m for m in await booking.list_meetings(actor, school_id=info.id, current_terms=True)}
    offer = await booking.free_slots(
        actor, [info.id], term=term_id if term_id is not None else "current", mode=mode
    )
    note = lead
    if term_id is not None and term_id in active:
        return _dead_end_reply(
            f"You already have the {term_words(offer.term_label)} TSM: {when(active[term_id])}. "
            "Only one TSM per term: you can move or cancel it instead.",
            has_meeting=True,
        )
    if term_id is None and (offer.term_id in active or not offer.slots):
        m = active.get(offer.term_id)
        why = (
            f"{'The school' if officer else 'You'} already {'has' if officer else 'have'} the "
            f"{term_words(offer.term_label)} TSM: {when(m)}."
            if m
            else f"No free times are left in the {term_words(offer.term_label)}."
        )
        try:
            nxt = await booking.free_slots(actor, [info.id], term="next", mode=mode)
        except BookingRefused as exc:
            return _dead_end_reply(why + " " + exc.message, has_meeting=m is not None)
        if nxt.term_id in active:
            return _dead_end_reply(
                f"{info.name} is already booked for the {term_words(offer.term_label)} and the "
                f"{term_words(nxt.term_label)}. Only one TSM per term: you can move or cancel one.",
                has_meeting=True,
            )
        offer, note = (
            nxt,
            " ".join(x for x in (lead, why, f"These dates are for the {term_words(nxt.term_label)}.") if x),
        )
    saved = await conversation(ctx).save_offer(
        actor, booking_flow(officer=officer).kind, offer, school_name=info.name
    )
    who = info.name if officer else info.officer_name
    if day is not None:
        if day in days_of(saved):
            return times_reply(saved, day)
        today = now(ctx).astimezone(ZoneInfo(DEFAULT_TZ)).date()
        note = (
            await booking.why_no_times_on(actor, info.id, day)
            or f"{_with_year(day, today)} has no free time left{' with ' + who if who else ''}: please pick another date."
        )
    back = (
        cards.Button("Back", "officer.pick_school", (("schoolId", info.id),))
        if officer
        else cards.Button("Back", "book.start")
    )
    return dates_reply(saved, intro=intro_for(saved, who, offer.term_label), note=note, back=back)


def _dead_end_reply(message: str, *, has_meeting: bool) -> Reply:
    buttons = (cards.MY_MEETINGS, cards.HELP) if has_meeting else (cards.HELP,)
    return Reply(
        card=cards.done(cards.DoneView("Nothing to book just now", (), note=message, buttons=buttons))
    )


# ---------------------------------------------------------------------- dates and times (every flow)


async def refreshed(ctx: ChatContext, old: Offer, fresh: SlotOffer | None = None) -> Offer:
    """A fresh offer with the same school, term, mode and meeting as an expired or spent one (``fresh``: its free
    times, already worked out)."""
    if fresh is None:
        fresh = await _free_now(ctx, old)
    flow = flow_of(old.kind)
    return await conversation(ctx).save_offer(
        None if flow.for_school_staff else ctx.actor,
        flow.kind,
        fresh,
        meeting_id=old.meeting_id,
        ttl=flow.ttl,
        school_name=old.school_name,
        site_school_id=old.site_school_id,
    )


async def _free_now(
    ctx: ChatContext, old: Offer, *, day: date | None = None, known: KnownSchools | None = None
) -> SlotOffer:
    """The offer's free times now: its term's, or ``day``'s only."""
    fresh: SlotOffer = await ctx.services.booking.free_slots(
        ctx.actor,
        list(old.school_ids),
        term=old.term_id,
        mode=old.mode,
        meeting_type=old.meeting_type,
        exclude_meeting_id=old.meeting_id,
        known=known,
        day=day,
    )
    return fresh


JUST_TAKEN = "That time has just been taken; here are the times still free."


async def taken_since(
    ctx: ChatContext, offer: Offer, start: datetime, *, known: KnownSchools | None = None
) -> Offer | None:
    """Re-checked on press (issue 14, item 7i): a card keeps the times it was drawn with, and someone else may have
    booked one since. None: ``start`` is still free; else the fresh offer, for the card refreshed. The check reads
    and searches ``start``'s day only (its free times are the term's on that day); the whole term only when it has
    been taken. ``known``: the school and officer this turn read (``SchoolInfo.known``)."""
    day = start.astimezone(ZoneInfo(offer.timezone)).date()
    that_day = await _free_now(ctx, offer, day=day, known=known)
    if any(slot.start == start for slot in that_day.slots):
        return None
    return await refreshed(ctx, offer, await _free_now(ctx, offer, known=known))


async def _offer_or_fresh(ctx: ChatContext, data: dict[str, Any]) -> tuple[Offer, str]:
    """The card's offer, or (when it has expired) a fresh one for the same choices and why: never empty then."""
    try:
        return await load_offer(ctx, data), ""
    except ExpiredOffer as exc:
        if exc.offer is None:
            raise
        return await refreshed(ctx, exc.offer), str(exc)


def _intro(offer: Offer) -> str:
    who = (
        offer.school_name
        if flow_of(offer.kind) is OFFICER_BOOK
        else (offer.officer_name or "your link officer")
    )
    return intro_for(offer, who, offer.term_label)


async def show_dates(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    offer, note = await _offer_or_fresh(ctx, data)
    return dates_reply(offer, intro=_intro(offer), note=note)


async def pick_date(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    offer, expired = await _offer_or_fresh(ctx, data)
    if expired:  # the card was too old: the dates again, worked out afresh
        return dates_reply(offer, intro=_intro(offer), note=expired)
    day = read_date(data, offer)
    return times_reply(offer, day)


async def pick_time(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    offer, expired = await _offer_or_fresh(ctx, data)
    if expired:  # the card was too old: the dates again, worked out afresh
        return dates_reply(offer, intro=_intro(offer), note=expired)
    start = read_start(data, offer)
    gone = await taken_since(ctx, offer, start)
    if gone is not None:  # the day's times again if it has any left, else the dates still free
        local_day = start.astimezone(ZoneInfo(offer.timezone)).date()
        if local_day in days_of(gone):
            reply = times_reply(gone, local_day, note=JUST_TAKEN)
        else:
            reply = dates_reply(
                gone,
                intro=_intro(gone),
                note="That time has just been taken, and no other time "
                "that day is free; here are the dates still free.",
            )
        return Reply(text=JUST_TAKEN, card=reply.card, error=True)
    day = start.astimezone(ZoneInfo(offer.timezone)).date().isoformat()
    flow = flow_of(offer.kind)
    if flow.next is Next.ATTENDEES:
        return await _attendees_card(ctx, offer, start, day)
    if flow.joint:  # a joint TSM's times are picked with joint.pick_time (tsm/chat/joint.py)
        raise InvalidInput("That button does not belong to this step. Type **help** to start again.")
    if flow.next is Next.CONFIRM_BOOKING:
        info = await conversation(ctx).school_info(ctx.actor, offer.school_ids[0])
        facts = _slot_facts(ctx, offer, start, info)
        note = (
            "The school's senior leader and attendance lead are invited; the school is then asked to "
            "accept the time or pick another."
        )
        return _confirm_reply(
            offer.id, start, "Book this TSM for the school?", facts, "Book it", flow, day, note
        )
    # move / proposal: moving an existing meeting
    view = await ctx.services.booking.get_meeting(ctx.actor, offer.meeting_id)
    tz = ZoneInfo(offer.timezone)
    facts = (
        ("School", view.school_label),
        ("Now", when(view)),
        ("New time", when_text(start, start + offer.duration, tz)),
        ("Where", place(view)),
        ("Link officer", view.officer_name),
    )
    return _confirm_reply(
        offer.id,
        start,
        "Move the TSM to this time?",
        facts,
        "Move it",
        flow,
        day,
        updated_invitation_note(ctx),
    )


def _slot_facts(
    ctx: ChatContext, offer: Offer, start: datetime, info: SchoolInfo
) -> tuple[tuple[str, str], ...]:
    where = (
        f"Microsoft Teams ({teams_link_words(ctx)})"
        if offer.mode == Mode.TEAMS.value
        else (info.address or "At school")
    )
    return (
        ("School", info.name),
        ("When", when_text(start, start + offer.duration, ZoneInfo(offer.timezone))),
        ("Where", where),
        ("Link officer", info.officer_name),
    )


async def _attendees_card(
    ctx: ChatContext,
    offer: Offer,
    start: datetime,
    day: str,
    note: str = "",
    *,
    book: bool = False,
    info: SchoolInfo | None = None,
) -> Reply:
    """Who attends (the senior leader preselected). ``book``: the last card at once, with the booking's facts and
    Book it (``info``: the school as this turn read it, else read)."""
    contacts = await ctx.services.directory.contacts_of(ctx.actor, offer.school_ids[0])
    leaders = [c for c in contacts if c.role == ContactRole.SENIOR_LEADER.value]
    if not leaders:
        leaders = list(contacts)
        note = note or "No one is recorded as your senior leader: pick who will attend as the senior leader."
    leader_default = next((c for c in leaders if c.id == ctx.actor.id), leaders[0]) if leaders else None
    colleagues = [
        c for c in contacts if c.id != ctx.actor.id and not (len(leaders) == 1 and c.id == leaders[0].id)
    ]
    return Reply(
        card=cards.pick_attendees(
            cards.AttendeesView(
                offer.id,
                start.isoformat(),
                when_text(start, start + offer.duration, ZoneInfo(offer.timezone)),
                tuple(cards.Choice(f"{c.name} ({c.email})", str(c.id)) for c in leaders),
                str(leader_default.id) if leader_default else "",
                tuple(cards.Choice(f"{c.name} ({_role(c.role)})", str(c.id)) for c in colleagues),
                day,
                note,
                await _booking_facts(ctx, offer, start, info) if book else (),
            )
        )
    )


async def _booking_facts(
    ctx: ChatContext, offer: Offer, start: datetime, info: SchoolInfo | None = None
) -> tuple[tuple[str, str], ...]:
    if info is None or info.id != offer.school_ids[0]:
        info = await conversation(ctx).school_info(ctx.actor, offer.school_ids[0])
    return _slot_facts(ctx, offer, start, info)


def _role(role: str) -> str:
    return {"senior_leader": "senior leader", "attendance_lead": "attendance lead"}.get(role, "colleague")


def _read_people(data: dict[str, Any], contact_ids: set[int] | None) -> tuple[int, list[int]]:
    """The senior leader and colleagues a card sent, in form; ``contact_ids`` None leaves checking that they are the
    school's contacts to the booking service (it reads them in its own transaction anyway)."""
    leader = field_int(data, "leader", label="the senior leader")
    if contact_ids is not None and leader not in contact_ids:
        raise NotAllowed("The senior leader chosen is not a contact of your school, so nothing was booked.")
    raw = data.get("colleagues", "")
    if raw is None:
        raw = ""
    if isinstance(raw, list):
        raw = ",".join(str(x) for x in raw)
    if not isinstance(raw, str) or len(raw) > 2000:
        raise InvalidInput("The colleagues chosen are not in the expected form.")
    colleagues: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or len(part) > 10 or int(part) > MAX_ID:
            raise InvalidInput("The colleagues chosen are not in the expected form.")
        cid = int(part)
        if contact_ids is not None and cid not in contact_ids:
            raise NotAllowed(
                "Some of the people chosen are not contacts of your school, so nothing was booked."
            )
        if cid != leader and cid not in colleagues:
            colleagues.append(cid)
    return leader, colleagues


async def attendees(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    offer = await load_offer(ctx, data, BOOK.kind, allow_expired=True)
    start = read_start(data, offer)
    contacts = {c.id: c for c in await ctx.services.directory.contacts_of(ctx.actor, offer.school_ids[0])}
    leader, colleagues = _read_people(data, set(contacts))
    info = await conversation(ctx).school_info(ctx.actor, offer.school_ids[0])
    people = [f"{contacts[leader].name} (senior leader)", *[contacts[c].name for c in colleagues]]
    if ctx.actor.id not in (leader, *colleagues) and ctx.actor.id in contacts:
        people.append(f"{contacts[ctx.actor.id].name} (you)")
    facts = (*_slot_facts(ctx, offer, start, info), ("Invited", ", ".join(people)))
    day = start.astimezone(ZoneInfo(offer.timezone)).date().isoformat()
    data_out = (
        ("offerId", offer.id),
        ("start", start.isoformat()),
        ("leader", str(leader)),
        ("colleagues", ",".join(str(c) for c in colleagues)),
    )
    return Reply(
        card=cards.confirm(
            cards.ConfirmView(
                offer.id,
                start.isoformat(),
                "Book this TSM?",
                facts,
                cards.Button("Book it", "book.confirm", data_out, style="positive"),
                day,
                note="Nothing is booked until you press Book it.",
            )
        )
    )


async def confirm_book(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    offer = await load_offer(ctx, data, *BOOKING_KINDS, allow_expired=True)
    start = read_start(data, offer)
    people: list[int] | None = None
    if flow_of(offer.kind).next is Next.ATTENDEES:
        leader, colleagues = _read_people(data, None)  # the booking checks they are the school's contacts
        people = [leader, *colleagues]
    try:
        result = await ctx.services.booking.book(
            ctx.actor,
            list(offer.school_ids),
            start,
            mode=offer.mode,
            meeting_type=offer.meeting_type,
            attendee_contact_ids=people,
        )
    except BookingRefused as exc:
        return await refusal_reply(ctx, exc, offer)
    return await booked_reply(ctx, result)


async def booked_reply(
    ctx: ChatContext, result: BookingResult, *, heading: str = "Your TSM is booked"
) -> Reply:
    v = result.meeting
    officer_booked = ctx.actor.is_officer
    facts = (
        *meeting_facts(v, with_attendees=True),
        ("Invitation", invitation_line(ctx, result.invitation_ics is not None)),
    )
    if officer_booked:
        heading = f"Booked for {v.school_label}"
        # The school is asked to accept the time or pick another free one in the same term (tsm.notifications).
        note = "The school has been sent the time to accept, or to pick another."
    else:
        note = f"{v.officer_name} has been told. A reminder comes a week before, with what to prepare."
    card = cards.done(cards.DoneView(heading, facts, v.join_url, note, (cards.MY_MEETINGS, cards.HELP)))
    return Reply(text=result.message, card=card, files=ics_files(result.invitation_ics))


async def refusal_reply(ctx: ChatContext, exc: BookingRefused, offer: Offer | None) -> Reply:
    """A refusal in words, with the next step: fresh times, my meetings, or whom to contact."""
    if exc.code == "contacted_directly":
        info = await conversation(ctx).school_info(
            ctx.actor, exc.context.get("school_id") or ctx.actor.school_id
        )
        return await contacted_directly_reply(ctx, info, exc.message)
    if exc.code == "already_booked" or exc.code in ("not_active", "started"):
        return Reply(
            text=exc.message,
            card=cards.done(
                cards.DoneView(
                    "Already booked" if exc.code == "already_booked" else "That can't be changed",
                    (),
                    note=exc.message,
                    buttons=(cards.MY_MEETINGS, cards.HELP),
                )
            ),
            error=True,
        )
    if offer is not None and flow_of(offer.kind).books and exc.code in SLOT_REFUSALS:
        # A double press (or a colleague at the same moment) may have booked this school's TSM: say so,
        # rather than "just taken" about the school's own new meeting.
        mine = [
            m
            for m in await ctx.services.booking.list_meetings(
                ctx.actor, school_id=offer.school_ids[0], current_terms=True
            )
            if m.term_id == offer.term_id
        ]
        if mine:
            message = (
                f"{mine[0].school_label} is already booked for the {term_words(offer.term_label)}: "
                f"{when(mine[0])}. Only one TSM per term."
            )
            return Reply(
                text=message,
                card=cards.done(
                    cards.DoneView(
                        "Already booked",
                        meeting_facts(mine[0]),
                        note=message,
                        buttons=(cards.MY_MEETINGS, cards.HELP),
                    )
                ),
                error=True,
            )
    if offer is not None and (exc.code in SLOT_REFUSALS or exc.code == "move_other_term"):
        fresh = await refreshed(ctx, offer)
        flow = flow_of(offer.kind)
        heading = "Just taken" if exc.code == "slot_taken" else "That time can't be booked"
        return Reply(
            card=cards.slots(
                cards.SlotsView(
                    heading,
                    exc.message,
                    fresh.id,
                    slot_choices(fresh),
                    flow.pick_verb,
                    flow.pick_title,
                    (cards.STOP,),
                )
            ),
            error=True,
        )
    return Reply(
        text=exc.message,
        card=cards.done(
            cards.DoneView(
                "That can't be done", (), note=exc.message, buttons=(cards.MY_MEETINGS, cards.HELP)
            )
        ),
        error=True,
    )


async def stop(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    from .help import help_reply

    reply = await help_reply(ctx, heading="OK, nothing was changed")
    return reply


# ---------------------------------------------------------------------- my meetings


async def _upcoming(ctx: ChatContext) -> list[MeetingView]:
    meetings: list[MeetingView] = await ctx.services.booking.list_meetings(ctx.actor, since=now(ctx))
    return meetings


def _schools_fact(v: MeetingView, own_school_id: int | None) -> tuple[str, str]:
    """Whose TSM it is: the school; a joint TSM with the trust's other schools (to the officer: every one)."""
    if len(v.school_names) < 2:
        return ("School", v.school_label)
    others = [n for i, n in zip(v.school_ids, v.school_names, strict=True) if i != own_school_id]
    return (
        ("School", f"Joint TSM with {', '.join(others)}")
        if own_school_id in v.school_ids
        else (
            "Schools",
            f"Joint TSM: {', '.join(v.school_names)}",
        )
    )


def _changeable(v: MeetingView, at: datetime) -> bool:
    return v.status in CHANGEABLE and v.start > at


async def my_meetings(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    at = now(ctx)
    views = await _upcoming(ctx)
    conv = conversation(ctx)
    items = []
    for v in views:
        marked = await conv.leader_unavailable_marked(v.id)
        items.append(
            cards.MeetingItem(
                v.id,
                when(v),
                (_schools_fact(v, ctx.actor.school_id),)
                + (
                    ("Where", place(v)),
                    ("Link officer", v.officer_name),
                    ("Term", term_words(v.term_label)),
                    ("Status", "held" if v.status == "held" else "booked"),
                ),
                _changeable(v, at),
                for_school=ctx.actor.kind == "contact",
                leader_unavailable=marked,
            )
        )
    buttons: tuple[cards.Button, ...] = (cards.Button("Book a TSM", "book.start"),)
    empty = "You have no TSM booked from today on."
    if ctx.actor.is_officer:
        buttons = (
            cards.Button("Book for a school", "officer.book_start"),
            cards.Button("My week", "officer.week"),
        )
    else:  # a contact, always of a school (Directory.identify)
        assert ctx.actor.school_id is not None
        info = await conv.school_info(ctx.actor, ctx.actor.school_id)
        if info.entitlement.may_book:
            empty += " Book this term's now?"
        else:  # the LA contacts this school directly: never offer a booking it cannot make (issue 14, item 7g)
            buttons, empty = (), f"{empty} {contacted_directly_words(info, info.entitlement.refusal)}"
    heading = "Your upcoming TSMs" if views else "No upcoming TSMs"
    return Reply(card=cards.meetings(cards.MeetingsView(heading, tuple(items), empty, buttons)))


async def _one_meeting(ctx: ChatContext, data: dict[str, Any], what: str) -> MeetingView | Reply:
    """The meeting a button names (re-read and authorised), or for a typed command the only changeable one."""
    if "meetingId" in data:
        mid = field_int(data, "meetingId", label="the meeting")
        meeting: MeetingView = await ctx.services.booking.get_meeting(ctx.actor, mid)
        return meeting
    at = now(ctx)
    changeable = [v for v in await _upcoming(ctx) if _changeable(v, at)]
    if len(changeable) == 1:
        return changeable[0]
    if not changeable:
        return Reply(
            card=cards.done(
                cards.DoneView(
                    f"No TSM to {what}",
                    (),
                    note="You have no upcoming TSM that can be changed.",
                    buttons=(cards.Button("Book a TSM", "book.start"), cards.HELP),
                )
            )
        )
    reply = await my_meetings(ctx, {})
    return Reply(text=f"Which one? Use the buttons under the meeting you want to {what}.", card=reply.card)


async def move_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    v = await _one_meeting(ctx, data, "move")
    if isinstance(v, Reply):
        return v
    if not _changeable(v, now(ctx)):
        raise BookingRefused(
            "not_active", f"This meeting is {v.status} or has started, so it cannot be moved."
        )
    fresh = await ctx.services.booking.free_slots(
        ctx.actor,
        list(v.school_ids),
        term=v.term_id,
        mode=v.mode,
        meeting_type=v.meeting_type,
        exclude_meeting_id=v.id,
    )
    saved = await conversation(ctx).save_offer(
        ctx.actor, MOVE.kind, fresh, meeting_id=v.id, school_name=v.school_label
    )
    intro = (
        f"Now: {when(v)}. A TSM moves within its own term ({term_words(v.term_label)}); these dates have free "
        "times."
    )
    return dates_reply(saved, intro=intro, back=cards.MY_MEETINGS)


async def move(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """Move a meeting: from our own offer (offerId + start), or from the scheduler's rebooking card
    (meetingId + start), where the start must be among the meeting's free times this term right now."""
    offer: Offer | None = None
    if "offerId" in data:
        offer = await load_offer(ctx, data, *MOVING_KINDS, allow_expired=True)
        try:
            start = read_start(data, offer)
        except InvalidInput as exc:  # no time chosen (or not one of the card's): the same card, and why
            return await _pick_again(ctx, offer, exc)
        meeting_id = offer.meeting_id
        assert meeting_id is not None
    else:
        meeting_id = field_int(data, "meetingId", label="the meeting")
        start = field_datetime(data, "start", label="the time")
        v = await ctx.services.booking.get_meeting(ctx.actor, meeting_id)  # authorises the actor
        if not _changeable(v, now(ctx)):
            raise BookingRefused(
                "not_active", f"This meeting is {v.status} or has started, so it cannot be moved."
            )
        fresh = await ctx.services.booking.free_slots(
            ctx.actor,
            list(v.school_ids),
            term=v.term_id,
            mode=v.mode,
            meeting_type=v.meeting_type,
            exclude_meeting_id=v.id,
        )
        saved = await conversation(ctx).save_offer(
            ctx.actor, MOVE.kind, fresh, meeting_id=v.id, school_name=v.school_label
        )
        if not saved.has(start):
            return Reply(
                card=cards.slots(
                    cards.SlotsView(
                        "That time is not on offer",
                        "That time is not one of this meeting's free times in its term (it may "
                        "have been taken), so nothing was changed. These are free:",
                        saved.id,
                        slot_choices(saved),
                        "meeting.move",
                        "Move to this time",
                        (cards.MY_MEETINGS,),
                    )
                ),
                error=True,
            )
        offer = saved
    before = await ctx.services.booking.get_meeting(ctx.actor, meeting_id)
    try:
        result = await ctx.services.booking.move(ctx.actor, meeting_id, start)
    except BookingRefused as exc:
        return await refusal_reply(ctx, exc, offer)
    v = result.meeting
    facts = (
        *meeting_facts(v, with_attendees=True),
        ("Was", when(before)),
        ("Invitation", invitation_line(ctx, result.invitation_ics is not None)),
    )
    return Reply(
        text=result.message,
        card=cards.done(
            cards.DoneView("Your TSM has moved", facts, v.join_url, buttons=(cards.MY_MEETINGS, cards.HELP))
        ),
        files=ics_files(result.invitation_ics),
    )


async def _pick_again(ctx: ChatContext, offer: Offer, exc: InvalidInput) -> Reply:
    """The card a time was to be picked on, again, with the reason beside the times and every button: the
    officer's proposal (Accept stays), or the other free times of a meeting being moved."""
    assert offer.meeting_id is not None
    v = await ctx.services.booking.get_meeting(ctx.actor, offer.meeting_id)
    if offer.kind == PROPOSAL.kind:
        card = cards.proposal(
            cards.ProposalView(
                v.id, v.officer_name, meeting_facts(v), offer.id, slot_choices(offer, 6), v.join_url
            )
        )
    else:
        card = cards.slots(
            cards.SlotsView(
                "Pick another time",
                f"Now: {when(v)}.",
                offer.id,
                slot_choices(offer),
                "meeting.move",
                "Move to this time",
                (keep_time_button(v.id),),
            )
        )
    return Reply(text=str(exc), card=with_errors(card, {"start": str(exc)}), error=True)


async def cancel_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    v = await _one_meeting(ctx, data, "cancel")
    if isinstance(v, Reply):
        return v
    if not _changeable(v, now(ctx)):
        raise BookingRefused(
            "not_active", f"This meeting is {v.status} or has started, so it cannot be cancelled."
        )
    return Reply(card=cards.cancel_reason(cards.CancelView(v.id, meeting_facts(v))))


def _reason(data: dict[str, Any]) -> str:
    reason = field_str(data, "reason", label="a reason", max_len=500)
    if not cards.reason_ok(reason):  # the card's own check (REASON_REGEX) says the same before sending
        raise InvalidInput(cards.REASON_ERROR + " It goes to the other side with the cancellation.")
    # A UPN or a date of birth is refused before the confirmation card shows it; names when it is saved (the
    # booking service knows the school's and officer's names, which are allowed).
    return check_free_text(reason, label="your reason", names=False)


def as_typed(data: dict[str, Any], key: str, max_len: int) -> str:
    """What the person typed in a field, to give it back on the card shown again (an input's value, never markup)."""
    value = data.get(key)
    return value[:max_len] if isinstance(value, str) else ""


async def _reason_again(ctx: ChatContext, data: dict[str, Any], mid: int, exc: InvalidInput) -> Reply:
    """The reason card again, with what was typed and why it was refused beside it (not one red line)."""
    v = await ctx.services.booking.get_meeting(ctx.actor, mid)
    card = cards.cancel_reason(cards.CancelView(v.id, meeting_facts(v), as_typed(data, "reason", 500)))
    return Reply(text=str(exc), card=with_errors(card, {"reason": str(exc)}), error=True)


async def cancel_confirm(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    mid = field_int(data, "meetingId", label="the meeting")
    v = await ctx.services.booking.get_meeting(ctx.actor, mid)
    if not _changeable(v, now(ctx)):
        raise BookingRefused(
            "not_active", f"This meeting is {v.status} or has started, so it cannot be cancelled."
        )
    try:
        reason = _reason(data)
    except InvalidInput as exc:
        return await _reason_again(ctx, data, mid, exc)
    return Reply(card=cards.cancel_confirm(cards.CancelView(v.id, meeting_facts(v), reason)))


async def cancel(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    mid = field_int(data, "meetingId", label="the meeting")
    try:
        reason = _reason(data)
    except InvalidInput as exc:
        return await _reason_again(ctx, data, mid, exc)
    try:
        result = await ctx.services.booking.cancel(ctx.actor, mid, reason)
    except BookingRefused as exc:
        return await refusal_reply(ctx, exc, None)
    except (
        InvalidInput
    ) as exc:  # words that may name a pupil (tsm/domain/pupil_data.py): the reason card, to edit
        v = await ctx.services.booking.get_meeting(ctx.actor, mid)
        return Reply(
            text=str(exc), error=True, card=cards.cancel_reason(cards.CancelView(v.id, meeting_facts(v)))
        )
    v = result.meeting
    again = (
        cards.Button("Book another time", "officer.pick_school", (("schoolId", v.school_ids[0]),))
        if ctx.actor.is_officer
        else cards.Button("Book another time", "book.start")
    )
    # Undo while the time is still free (issue 14, item 7f): pressing it books the same time again through the
    # booking service's checks. Not for a joint TSM (each school's leader and the site were chosen together).
    undo = (
        (cards.Button("Undo", "meeting.undo_cancel", (("meetingId", v.id),)),)
        if len(v.school_ids) == 1
        else ()
    )
    buttons: tuple[cards.Button, ...] = (*undo, again, cards.MY_MEETINGS)
    note = "The other side has been told and the invitation withdrawn." + (
        " Changed your mind? Undo books the same time again while it is free." if undo else ""
    )
    if not ctx.actor.is_officer and ctx.actor.school_id is not None:
        info = await conversation(ctx).school_info(ctx.actor, ctx.actor.school_id)
        if (
            not info.entitlement.may_book
        ):  # the LA contacts this school: no booking offered it cannot make (7g)
            buttons = (cards.MY_MEETINGS, cards.HELP)
            note = f"{info.officer_name or 'Your LA'} has been told and will contact you about another time."
    return Reply(
        text=result.message,
        card=cards.done(
            cards.DoneView(
                "TSM cancelled",
                (("School", v.school_label), ("Was", when(v)), ("Reason", reason)),
                note=note,
                buttons=buttons,
            )
        ),
        files=ics_files(result.invitation_ics, "tsm-cancellation.ics"),
    )


async def undo_cancel(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """ "Undo" on the cancellation: the same time booked again, as a new booking through the booking service's
    normal checks (free, one TSM a term, the school's right to book), with the same people; or why not, clearly."""
    mid = field_int(data, "meetingId", label="the meeting")
    old = await ctx.services.booking.get_meeting(ctx.actor, mid)  # authorises: own school's, or officer's
    if old.status != MeetingStatus.CANCELLED.value or len(old.school_ids) != 1:
        return _undo_refused(ctx, old, "This TSM is not cancelled, so there is nothing to undo.")
    if old.start <= now(ctx):
        return _undo_refused(ctx, old, f"{when(old)} has passed, so it cannot be booked again.")
    people: list[int] | None = None
    if not ctx.actor.is_officer:  # the same people, the senior leader first (None: the booking's default)
        by_email = {
            c.email.lower(): c.id
            for c in await ctx.services.directory.contacts_of(ctx.actor, old.school_ids[0])
        }
        ordered = sorted(old.attendees, key=lambda a: not a.required)
        people = [by_email[a.email.lower()] for a in ordered if a.email.lower() in by_email] or None
    try:
        result = await ctx.services.booking.book(
            ctx.actor,
            list(old.school_ids),
            old.start,
            mode=old.mode,
            meeting_type=old.meeting_type,
            attendee_contact_ids=people,
        )
    except BookingRefused as exc:
        if exc.code in SLOT_REFUSALS:
            return _undo_refused(
                ctx,
                old,
                f"{when(old)} is no longer free ({exc.message.rstrip('.')}), so the cancellation stands.",
            )
        return await refusal_reply(ctx, exc, None)
    return await booked_reply(ctx, result, heading="Cancellation undone: your TSM is booked")


def _undo_refused(ctx: ChatContext, old: MeetingView, message: str) -> Reply:
    again = (
        cards.Button("Book another time", "officer.pick_school", (("schoolId", old.school_ids[0]),))
        if ctx.actor.is_officer
        else cards.Button("Book another time", "book.start")
    )
    return Reply(
        text=message,
        card=cards.done(
            cards.DoneView(
                "That time is gone" if "no longer free" in message else "Nothing to undo",
                (("School", old.school_label), ("Was", when(old))),
                note=message,
                buttons=(again, cards.MY_MEETINGS),
            )
        ),
        error=True,
    )


async def add_colleague_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    v = await _one_meeting(ctx, data, "add a colleague to")
    if isinstance(v, Reply):
        return v
    if not _changeable(v, now(ctx)):
        raise BookingRefused(
            "not_active", f"This meeting is {v.status} or has started: no one can be added now."
        )
    invited = {a.email.lower() for a in v.attendees}
    contacts = []
    for sid in v.school_ids:
        contacts += [
            c
            for c in await ctx.services.directory.contacts_of(ctx.actor, sid)
            if c.email.lower() not in invited
        ]
    choices = tuple(cards.Choice(f"{c.name} ({_role(c.role)})", str(c.id)) for c in contacts)
    return Reply(
        card=cards.add_colleague(cards.AddColleagueView(v.id, meeting_facts(v, with_attendees=True), choices))
    )


async def add_colleague(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    mid = field_int(data, "meetingId", label="the meeting")
    booking = ctx.services.booking
    raw_contact = data.get("contactId")
    if raw_contact not in (None, ""):
        cid = field_int(data, "contactId", label="the colleague")
        v = await booking.add_attendee(ctx.actor, mid, contact_id=cid)
    else:
        name = field_str(data, "name", label="your colleague's name", max_len=120)
        email = field_str(data, "email", label="your colleague's work email", max_len=254)
        if len(name) < 2:
            raise InvalidInput("Please give your colleague's name.")
        v = await booking.add_attendee(ctx.actor, mid, name=name, email=email, role="other")
    added = v.attendees[-1].name if v.attendees else ""
    return Reply(
        text=f"{added} has been invited.",
        card=cards.done(
            cards.DoneView(
                "Colleague invited",
                meeting_facts(v, with_attendees=True),
                note=(
                    "Outlook sends them the invitation, like everyone invited."
                    if outlook_invites(ctx)
                    else f"An updated invitation is being emailed to everyone invited, {added} included."
                ),
                buttons=(
                    cards.Button("Add another", "meeting.add_colleague_start", (("meetingId", v.id),)),
                    cards.MY_MEETINGS,
                ),
            )
        ),
    )


# ---------------------------------------------------------------------- our senior leader can't attend


async def leader_ask(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    at = now(ctx)
    changeable = [v for v in await _upcoming(ctx) if _changeable(v, at)]
    if not changeable:
        return Reply(
            card=cards.done(
                cards.DoneView(
                    "No TSM booked",
                    (),
                    note="You have no upcoming TSM to rearrange.",
                    buttons=(cards.Button("Book a TSM", "book.start"), cards.HELP),
                )
            )
        )
    return Reply(
        card=cards.leader_ask(
            cards.LeaderAskView(
                changeable[0].officer_name, tuple(cards.Choice(when(v), str(v.id)) for v in changeable)
            )
        )
    )


async def leader_unavailable(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    mid = field_int(data, "meetingId", label="the meeting")
    conv = conversation(ctx)
    v = await conv.mark_leader_unavailable(ctx.actor, mid)
    fresh = await ctx.services.booking.free_slots(
        ctx.actor,
        list(v.school_ids),
        term=v.term_id,
        mode=v.mode,
        meeting_type=v.meeting_type,
        exclude_meeting_id=v.id,
    )
    saved = await conv.save_offer(ctx.actor, MOVE.kind, fresh, meeting_id=v.id, school_name=v.school_label)
    message = (
        f"Thank you: {v.officer_name} has been told that your senior leader can't attend the TSM on {when(v)}. "
        f"A senior leader is expected, so please move it to another time in the {term_words(v.term_label)}:"
    )
    return Reply(
        card=cards.slots(
            cards.SlotsView(
                "Let's find another time",
                message,
                saved.id,
                slot_choices(saved),
                "meeting.move",
                "Move to this time",
                (keep_time_button(v.id),),
            )
        )
    )


def keep_time_button(meeting_id: int) -> cards.Button:
    return cards.Button("Keep the current time", "meeting.keep_time", (("meetingId", meeting_id),))


async def keep_time(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """ "Keep the current time" (issue 14, item 7e): the meeting stays, and a "senior leader can't attend" mark is
    cleared with its event in the same transaction, so the officer is told (tsm.notifications) and the meeting is no
    longer flagged for rearranging."""
    mid = field_int(data, "meetingId", label="the meeting")
    v, cleared = await conversation(ctx).keep_time(ctx.actor, mid)
    told = (
        f" {v.officer_name} has been told you are keeping it." if cleared and not ctx.actor.is_officer else ""
    )
    return Reply(
        card=cards.done(
            cards.DoneView(
                "Your TSM stays at this time",
                meeting_facts(v, with_attendees=True),
                v.join_url,
                note=f"Nothing was moved: your TSM is still on {when(v)}.{told}",
                buttons=(cards.MY_MEETINGS, cards.HELP),
            )
        )
    )


# ---------------------------------------------------------------------- a time the officer booked, or the scheduler offered


async def offer_accept(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    mid = field_int(data, "meetingId", label="the meeting")
    v = await conversation(ctx).accept(ctx.actor, mid)
    return Reply(
        card=cards.done(
            cards.DoneView(
                "Accepted: see you then",
                meeting_facts(v, with_attendees=True),
                v.join_url,
                note=f"{v.officer_name} has been told.",
                buttons=(cards.MY_MEETINGS, cards.HELP),
            )
        )
    )


async def offer_pick_slot(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """Another time for a meeting the officer booked (offerId + start), or a next-term time offered by the
    scheduler's card (schoolId + start + mode), which must be free for that school right now."""
    if "offerId" in data:
        return await move(ctx, data)
    school_id = field_int(data, "schoolId", label="the school")
    start = field_datetime(data, "start", label="the time")
    mode = field_str(data, "mode", label="how to meet", max_len=16)
    if mode not in {m.value for m in Mode}:
        raise InvalidInput("That card's meeting mode is not one I know.")
    conv = conversation(ctx)
    info = await conv.school_info(ctx.actor, school_id)  # authorises: own school, or the officer's school
    if ctx.actor.kind == "contact" and not info.entitlement.may_book:
        return await contacted_directly_reply(ctx, info, info.entitlement.refusal)
    try:
        term_id = await conv.term_id_for(ctx.actor, school_id, start)
    except BookingRefused as exc:
        return await refusal_reply(ctx, exc, None)
    fresh = await ctx.services.booking.free_slots(ctx.actor, [school_id], term=term_id, mode=mode)
    flow = booking_flow(officer=ctx.actor.is_officer)
    saved = await conv.save_offer(ctx.actor, flow.kind, fresh, school_name=info.name)
    if not saved.has(start):
        return Reply(
            card=cards.slots(
                cards.SlotsView(
                    "That time is not on offer",
                    "That time is no longer free (or was never offered), so nothing was "
                    "booked. These are free:",
                    saved.id,
                    slot_choices(saved),
                    flow.pick_verb,
                    flow.pick_title,
                    (cards.STOP,),
                )
            ),
            error=True,
        )
    if flow.next is Next.ATTENDEES:  # the school still chooses who attends, then confirms
        return await _attendees_card(
            ctx, saved, start, start.astimezone(ZoneInfo(saved.timezone)).date().isoformat()
        )
    try:
        result = await ctx.services.booking.book(ctx.actor, [school_id], start, mode=mode)
    except BookingRefused as exc:
        return await refusal_reply(ctx, exc, saved)
    return await booked_reply(ctx, result)


def register(router: Router) -> None:
    school = ("contact",)
    # Each audience's help lists only its own actions: an officer's "book" is "book for school" (listed there), and
    # adding a colleague is the school's.
    router.command("book", help={"contact": "Book this term's TSM"})(book)
    router.command(
        "my meetings",
        "meetings",
        help={
            "contact": "Your upcoming TSMs: move, cancel, add a colleague",
            "officer": "Your upcoming TSMs: move or cancel one",
            "admin": "Your upcoming TSMs: move or cancel one",
        },
    )(my_meetings)
    router.command("move", help="Move a booked TSM to another time in its term")(move_start)
    router.command("cancel", help="Cancel a booked TSM (with a reason)")(cancel_start)
    router.command("add colleague", help="Invite a colleague to your TSM", roles=school)(add_colleague_start)
    router.command(
        "senior leader unavailable",
        "senior leader can't attend",
        "leader unavailable",
        help="Your senior leader can't make the booked TSM",
        roles=school,
    )(leader_ask)

    router.verb("book.start")(book)
    router.verb("book.pick_mode")(pick_mode)
    router.verb("book.pick_start")(pick_start)
    router.verb("book.dates")(show_dates)
    router.verb("book.pick_date")(pick_date)
    router.verb("book.pick_time")(pick_time)
    router.verb("book.attendees", roles=school)(attendees)
    router.verb("book.confirm")(confirm_book)
    router.verb("book.stop")(stop)
    router.verb("meeting.list")(my_meetings)
    router.verb("meeting.move_start")(move_start)
    router.verb("meeting.move")(move)
    router.verb("meeting.cancel_start")(cancel_start)
    router.verb("meeting.cancel_confirm")(cancel_confirm)
    router.verb("meeting.cancel")(cancel)
    router.verb("meeting.undo_cancel")(undo_cancel)
    router.verb("meeting.add_colleague_start")(add_colleague_start)
    router.verb("meeting.add_colleague")(add_colleague)
    router.verb("meeting.leader_unavailable", roles=school)(leader_unavailable)
    router.verb("meeting.keep_time")(keep_time)
    router.verb("offer.accept", roles=school)(offer_accept)
    router.verb("offer.pick_slot")(offer_pick_slot)


def _confirm_reply(
    offer_id: int, start: datetime, heading: str, facts: Any, title: str, flow: Any, day: Any, note: str
) -> Reply:
    """The last card before a booking or a move: the facts, and one positive button carrying the offer and time."""
    at = start.isoformat()
    button = cards.Button(title, flow.confirm_verb, (("offerId", offer_id), ("start", at)), style="positive")
    return Reply(card=cards.confirm(cards.ConfirmView(offer_id, at, heading, facts, button, day, note=note)))
