"""A joint TSM for several schools of one trust (issue 13, item 7; Kent's FAQ): the officer (for the trust's schools on
their list) or, where the LA's profile allows it (``booking.trust_contacts_book_joint``), a contact of one of the trust's
schools books one TSM for several of them, in as few presses as one school's booking.

**joint tsm** -> the first card (``cards.book_start``): the trust's schools with their status this term (those that
cannot join listed with why), the place (Teams, or one of the schools' sites) and the officer's soonest free times ->
**Choose this time** -> the last card (``cards.pick_attendees``): the booking's facts and a senior leader for each
school -> **Book it**. "More dates" goes through the dates and times steps every flow shares. The schools and the place
are kept with the offer (``tsm.chat.flows.JOINT``), never read back from a card: a card naming another trust's school
or one that cannot join comes back with why, and the booking service checks every school's officer, trust, route and
term again in its own transaction.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from cards import booking as cards
from cards.notifications import with_errors

from ..domain.errors import BookingRefused, InvalidInput, NotAllowed
from ..domain.model import ContactRole, Mode
from ..domain.text import moment_text, when_text
from ..services.conversation import ExpiredOffer, Offer
from ..services.joint import JointChoice, JointTsms, Person
from .booking import SLOT_REFUSALS, refreshed, refusal_reply
from .common import (
    MODE_LABELS,
    conversation,
    dates_reply,
    ics_files,
    intro_for,
    invitation_line,
    load_offer,
    meeting_facts,
    read_start,
    teams_link_words,
    term_words,
)
from .flows import JOINT
from .router import MAX_ID, ChatContext, Reply, Router, field_int, field_str

FIRST_TIMES = (
    24  # as the one-school first card: the soonest free times; "More dates" for the rest of the term
)


def joint_tsms(ctx: ChatContext) -> JointTsms:
    return JointTsms(conversation(ctx))


# ---------------------------------------------------------------------- the first card


async def start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """**joint tsm** (or the trust picker's Next): the trust's schools, the place and the soonest free times."""
    joint = joint_tsms(ctx)
    if ctx.actor.is_officer:
        trust = field_str(data, "trust", label="the trust", max_len=16, required=False)
        if not trust:
            trusts = await joint.officer_trusts(ctx.actor)
            if not trusts:
                return _dead_end(
                    "None of your schools shares a trust with another of your schools, so there is no joint TSM to "
                    "book. Type **book for school** for one school's TSM."
                )
            if len(trusts) > 1:
                return Reply(
                    card=cards.pick_school(
                        cards.PickSchoolView(
                            "A joint TSM for which trust?",
                            tuple(
                                cards.Choice(f"{t.name} ({t.schools} of your schools)", t.code)
                                for t in trusts
                            ),
                            verb="joint.start",
                            input_id="trust",
                            label="Trust",
                        )
                    )
                )
            trust = trusts[0].code
        choice = await joint.choice(ctx.actor, trust)
    else:
        choice = await joint.choice(ctx.actor)
    joinable = [sc.id for sc in choice.joinable]
    own = next((sc for sc in choice.schools if sc.id == choice.own_school_id), None)
    if own is not None and not own.can_join:
        return _dead_end(f"{own.name} can't be in a joint TSM this term: {own.why_not}.", choice)
    if len(joinable) < 2:
        why = "; ".join(f"{sc.name}: {sc.why_not}" for sc in choice.schools if not sc.can_join)
        return _dead_end(
            f"A joint TSM needs at least two of {choice.trust_name}'s schools that can join it this term."
            + (f" Can't join: {why}." if why else ""),
            choice,
        )
    mode = choice.default_mode
    site = _default_site(choice, joinable) if mode == Mode.ON_SITE.value else None
    offer = await _offer(ctx, choice, joinable, mode, site)
    return Reply(card=_start_card(ctx, choice, offer))


def _default_site(choice: JointChoice, ids: list[int]) -> int:
    """A contact's own school's site, else the first chosen school's (by name)."""
    if choice.own_school_id is not None and choice.own_school_id in ids:
        return choice.own_school_id
    return next(sc.id for sc in choice.schools if sc.id in ids)


async def _offer(ctx: ChatContext, choice: JointChoice, ids: list[int], mode: str, site: int | None) -> Offer:
    fresh = await ctx.services.booking.free_slots(ctx.actor, ids, term=choice.term_id, mode=mode)
    return await conversation(ctx).save_offer(
        ctx.actor, JOINT.kind, fresh, school_name=choice.trust_name, site_school_id=site
    )


def _place_value(offer: Offer) -> str:
    return f"{Mode.ON_SITE.value}:{offer.site_school_id}" if offer.mode == Mode.ON_SITE.value else offer.mode


def _start_card(ctx: ChatContext, choice: JointChoice, offer: Offer, note: str = "") -> dict[str, Any]:
    places = []
    if Mode.TEAMS.value in choice.modes_allowed:
        places.append(cards.Choice(MODE_LABELS[Mode.TEAMS.value], Mode.TEAMS.value))
    if Mode.ON_SITE.value in choice.modes_allowed:
        places += [cards.Choice(f"At {sc.name}", f"{Mode.ON_SITE.value}:{sc.id}") for sc in choice.joinable]
    chosen = _place_value(offer)
    places.sort(key=lambda c: c.value != chosen)  # the offer's place first: the card preselects it
    tz = ZoneInfo(offer.timezone)
    times = tuple(cards.Choice(moment_text(s, tz), s.isoformat()) for s in sorted(offer.starts)[:FIRST_TIMES])
    officer = ctx.actor.is_officer
    minutes = int(offer.duration.total_seconds() // 60)
    return cards.book_start(
        cards.StartView(
            JOINT.heading,
            choice.trust_name,
            choice.officer_name,
            f"One {minutes}-minute TSM for several of the trust's schools. It is each school's TSM for the "
            f"{term_words(choice.term_label)}.",
            "" if officer else "Your own school is always one of them.",
            tuple(places),
            note=note
            or (
                ""
                if times
                else f"No free times are left in the {term_words(choice.term_label)}: try More dates."
            ),
            offer_id=offer.id,
            times=times,
            schools=tuple(cards.Choice(f"{sc.name}: {sc.status}", str(sc.id)) for sc in choice.joinable),
            chosen=",".join(str(i) for i in offer.school_ids),
            cannot_join=tuple((sc.name, sc.why_not) for sc in choice.schools if not sc.can_join),
            by_officer=officer,
            modes_label="Where?",
            pick_verb="joint.pick_start",
            more_verb="joint.more_dates",
        )
    )


def _dead_end(message: str, choice: JointChoice | None = None) -> Reply:
    facts = tuple((sc.name, sc.status) for sc in choice.schools) if choice is not None else ()
    return Reply(
        text=message,
        card=cards.done(
            cards.DoneView(
                "No joint TSM to book", facts, note=message, buttons=(cards.MY_MEETINGS, cards.HELP)
            )
        ),
        error=True,
    )


# ---------------------------------------------------------------------- reading the first card, checked again


def _read_ids(data: dict[str, Any]) -> list[int]:
    raw = data.get("schools", "")
    if isinstance(raw, list):
        raw = ",".join(str(x) for x in raw)
    if raw is None or not isinstance(raw, str) or len(raw) > 2000:
        raise InvalidInput("The schools chosen are not in the expected form.")
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        if not (part.isascii() and part.isdigit()) or len(part) > 10 or int(part) > MAX_ID:
            raise InvalidInput("The schools chosen are not in the expected form.")
        if int(part) not in ids:
            ids.append(int(part))
    return ids


def _check_schools(choice: JointChoice, ids: list[int]) -> None:
    """Every school named can join (one of the trust's, open, the same officer, no TSM this term, and for a contact
    one that books itself); the contact's own school among them; two at least."""
    names = {sc.id: sc.name for sc in choice.schools}
    refused = [f"{names.get(i, 'a school')}: {choice.why_not(i)}" for i in ids if choice.why_not(i)]
    if refused:
        raise NotAllowed(
            f"Only {choice.trust_name}'s schools that can join this term can be in it, so nothing was booked. "
            + "; ".join(refused)
            + "."
        )
    if choice.own_school_id is not None and choice.own_school_id not in ids:
        raise InvalidInput("Your own school is always in a joint TSM you book: please keep it chosen.")
    if len(ids) < 2:
        raise InvalidInput(
            "A joint TSM is for two schools or more: please choose another (for one school, type **book**)."
        )


def _read_place(data: dict[str, Any], choice: JointChoice, ids: list[int]) -> tuple[str, int | None]:
    """(mode, the school whose site it is at): Teams, or the site of one of the schools chosen."""
    raw = field_str(data, "mode", label="where to meet", max_len=24)
    mode, _, site = raw.partition(":")
    if mode not in choice.modes_allowed:
        allowed = ", ".join(MODE_LABELS[m].lower() for m in choice.modes_allowed)
        raise InvalidInput(f"TSMs here are {allowed} only. Please pick one of the places.")
    if mode != Mode.ON_SITE.value:
        return mode, None
    if not (site.isascii() and site.isdigit()) or int(site) not in ids:
        raise InvalidInput(
            "A joint TSM in person is held at the site of one of the schools chosen: please pick one."
        )
    return mode, int(site)


async def _read_first_card(
    ctx: ChatContext, data: dict[str, Any], offer: Offer
) -> tuple[JointChoice, list[int], str, int | None] | Reply:
    """The schools and place the card sent, checked against the trust's schools now; the card back when refused."""
    choice = await joint_tsms(ctx).choice(ctx.actor, school_id=offer.school_ids[0])
    try:
        ids = _read_ids(data)
        _check_schools(choice, ids)
    except (InvalidInput, NotAllowed) as exc:
        return _card_back(ctx, choice, offer, str(exc), "schools")
    try:
        mode, site = _read_place(data, choice, ids)
    except InvalidInput as exc:
        return _card_back(ctx, choice, offer, str(exc), "mode")
    return choice, ids, mode, site


def _card_back(ctx: ChatContext, choice: JointChoice, offer: Offer, message: str, field: str) -> Reply:
    card = _start_card(ctx, choice, offer)
    return Reply(text=message, card=with_errors(card, {field: message}), error=True)


async def _for(
    ctx: ChatContext, offer: Offer, choice: JointChoice, ids: list[int], mode: str, site: int | None
) -> Offer:
    """The offer for the schools and place chosen: the card's own when they are its, else fresh times for them."""
    if sorted(ids) == sorted(offer.school_ids) and mode == offer.mode and site == offer.site_school_id:
        return offer
    return await _offer(ctx, choice, ids, mode, site)


async def pick_start(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """**Choose this time** on the first card: on to the last card (a senior leader for each school, Book it). A place
    or schools other than the offer's have their own free times: the time goes ahead if it is free that way too."""
    offer = await load_offer(ctx, data, JOINT.kind, allow_expired=True)
    read = await _read_first_card(ctx, data, offer)
    if isinstance(read, Reply):
        return read
    choice, ids, mode, site = read
    fresh = await _for(ctx, offer, choice, ids, mode, site)
    try:
        start_at = read_start(data, fresh)
    except InvalidInput as exc:
        note = (
            f"{MODE_LABELS.get(mode, mode)}, the free times are not all the same: these are free."
            if fresh is not offer
            else ""
        )
        card = _start_card(ctx, choice, fresh, note=note)
        return Reply(text=str(exc), card=with_errors(card, {"start": str(exc)}), error=True)
    return await attendees_card(ctx, fresh, start_at)


async def more_dates(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """**More dates** on the first card: every date of the term with free times for the schools and place chosen."""
    offer = await load_offer(ctx, data, JOINT.kind, allow_expired=True)
    read = await _read_first_card(ctx, data, offer)
    if isinstance(read, Reply):
        return read
    choice, ids, mode, site = read
    fresh = await _offer(ctx, choice, ids, mode, site)
    return dates_reply(
        fresh,
        intro=intro_for(fresh, choice.officer_name, fresh.term_label),
        back=cards.Button("Back", "joint.start", (("trust", choice.trust_code),)),
    )


# ---------------------------------------------------------------------- the last card: who attends, Book it


def _leader_sets(people: dict[int, list[Person]], names: dict[int, str]) -> tuple[cards.LeaderSet, ...]:
    out = []
    for sid, staff in people.items():
        leaders = [p for p in staff if p.role == ContactRole.SENIOR_LEADER.value] or staff
        out.append(
            cards.LeaderSet(
                f"leader_{sid}",
                f"Senior leader: {names.get(sid, 'school')}",
                tuple(cards.Choice(f"{p.name} ({_role(p.role)})", str(p.id)) for p in leaders),
                str(leaders[0].id) if leaders else "",
            )
        )
    return tuple(out)


def _role(role: str) -> str:
    return {"senior_leader": "senior leader", "attendance_lead": "attendance lead"}.get(role, "colleague")


def _facts(
    ctx: ChatContext, offer: Offer, start_at: Any, names: dict[int, str]
) -> tuple[tuple[str, str], ...]:
    choice_site = names.get(offer.site_school_id or 0, "")
    where = (
        f"Microsoft Teams ({teams_link_words(ctx)})"
        if offer.mode == Mode.TEAMS.value
        else f"At {choice_site}"
        if choice_site
        else "At one of the schools"
    )
    return (
        ("Schools", ", ".join(names[i] for i in offer.school_ids)),
        ("When", when_text(start_at, start_at + offer.duration, ZoneInfo(offer.timezone))),
        ("Where", where),
        ("Link officer", offer.officer_name),
        ("Also invited", "each school's attendance leads"),
    )


async def pick_time(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """A time picked on the dates-then-times cards (More dates) or on fresh times after a refusal: the last card."""
    try:
        offer = await load_offer(ctx, data, JOINT.kind)
    except ExpiredOffer as exc:
        # the card was too old: the dates again, worked out afresh for the same choices
        if exc.offer is None:
            raise
        fresh = await refreshed(ctx, exc.offer)
        return dates_reply(fresh, intro=intro_for(fresh, fresh.officer_name, fresh.term_label), note=str(exc))
    return await attendees_card(ctx, offer, read_start(data, offer))


async def attendees_card(ctx: ChatContext, offer: Offer, start_at: Any, note: str = "") -> Reply:
    """The last card: the booking's facts, a senior leader for each school (prefilled), Book it."""
    joint = joint_tsms(ctx)
    choice = await joint.choice(ctx.actor, school_id=offer.school_ids[0])
    names = {sc.id: sc.name for sc in choice.schools}
    people = await joint.people(ctx.actor, list(offer.school_ids))
    day = start_at.astimezone(ZoneInfo(offer.timezone)).date().isoformat()
    return Reply(
        card=cards.pick_attendees(
            cards.AttendeesView(
                offer.id,
                start_at.isoformat(),
                when_text(start_at, start_at + offer.duration, ZoneInfo(offer.timezone)),
                (),
                "",
                (),
                day,
                note,
                _facts(ctx, offer, start_at, names),
                leader_sets=_leader_sets(people, names),
                confirm_verb=JOINT.confirm_verb,
            )
        )
    )


async def confirm(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """**Book it**: every school checked again (here, to give the first card back with why; and by the booking
    service in its own transaction), each school's senior leader one of its own staff, then booked."""
    offer = await load_offer(ctx, data, JOINT.kind, allow_expired=True)
    start_at = read_start(data, offer)
    joint = joint_tsms(ctx)
    choice = await joint.choice(ctx.actor, school_id=offer.school_ids[0])
    ids = list(offer.school_ids)
    try:
        _check_schools(choice, ids)
    except (InvalidInput, NotAllowed) as exc:
        return await _start_again(ctx, choice, str(exc))
    people = await joint.people(ctx.actor, ids)
    leaders: list[int] = []
    for sid in ids:
        key = f"leader_{sid}"
        if data.get(key) in (None, ""):
            continue  # the booking service says which school has no senior leader, when the LA requires one
        leader = field_int(data, key, label="the senior leader")
        if leader not in {p.id for p in people[sid]}:
            raise NotAllowed(
                "The senior leader chosen is not one of that school's staff, so nothing was booked."
            )
        leaders.append(leader)
    leads = [p.id for sid in ids for p in people[sid] if p.role == ContactRole.ATTENDANCE_LEAD.value]
    try:
        result = await ctx.services.booking.book(
            ctx.actor,
            ids,
            start_at,
            mode=offer.mode,
            meeting_type=offer.meeting_type,
            attendee_contact_ids=[*leaders, *[c for c in leads if c not in leaders]],
            senior_leader_ids=leaders,
            site_school_id=offer.site_school_id,
        )
    except BookingRefused as exc:
        if exc.code in SLOT_REFUSALS:
            return await refusal_reply(ctx, exc, offer)  # fresh times for the same schools and place
        return await _start_again(ctx, choice, exc.message)
    except (InvalidInput, NotAllowed) as exc:
        return await _start_again(ctx, choice, str(exc))
    v = result.meeting
    note = (
        "Each school's staff have been sent the time to accept, or to pick another."
        if ctx.actor.is_officer
        else f"{v.officer_name} and each school's staff have been told. A reminder comes a week before."
    )
    facts = (
        *meeting_facts(v, with_attendees=True),
        ("Invitation", invitation_line(ctx, result.invitation_ics is not None)),
    )
    return Reply(
        text=result.message,
        card=cards.done(
            cards.DoneView("Joint TSM booked", facts, v.join_url, note, (cards.MY_MEETINGS, cards.HELP))
        ),
        files=ics_files(result.invitation_ics),
    )


async def _start_again(ctx: ChatContext, choice: JointChoice, message: str) -> Reply:
    """The first card again, from the trust's schools as they are now, with why the booking was refused."""
    fresh = await joint_tsms(ctx).choice(ctx.actor, choice.trust_code)
    joinable = [sc.id for sc in fresh.joinable]
    if len(joinable) < 2:
        return _dead_end(message, fresh)
    mode = fresh.default_mode
    offer = await _offer(
        ctx, fresh, joinable, mode, _default_site(fresh, joinable) if mode == Mode.ON_SITE.value else None
    )
    card = _start_card(ctx, fresh, offer)
    return Reply(text=message, card=with_errors(card, {"schools": message}), error=True)


def register(router: Router) -> None:
    router.command(
        "joint tsm",
        "joint",
        help="One TSM for several schools of a trust (the officer; school staff where the LA allows it)",
    )(start)
    router.verb("joint.start")(start)
    router.verb("joint.pick_start")(pick_start)
    router.verb("joint.more_dates")(more_dates)
    router.verb("joint.pick_time")(pick_time)
    router.verb("joint.confirm")(confirm)
