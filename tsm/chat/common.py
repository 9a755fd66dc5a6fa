"""Helpers shared by the conversation features: services for the turn, words for meetings and slots,
and the date → time steps every flow (book, book for a school, move, pick another time) goes through.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cards import booking as cards

from ..domain.errors import InvalidInput
from ..domain.model import Mode
from ..domain.text import day_text, plain, time_text, when_text
from ..services.conversation import ConversationService, ExpiredOffer, Offer
from ..services.views import MeetingView
from .flows import flow_of
from .router import ChatContext, Reply, field_datetime, field_str

MODE_LABELS = {"on_site": "In person at school", "teams": "On Microsoft Teams"}


def conversation(ctx: ChatContext) -> ConversationService:
    """The conversation service of this App (built with it by ``tsm.bootstrap.build_app``)."""
    service: ConversationService = ctx.services.conversation
    return service


def now(ctx: ChatContext) -> datetime:
    return ctx.clock()


async def school_picker(ctx: ChatContext) -> Reply:
    """An officer's first step when booking: which of their schools (book, book for a school)."""
    schools = await ctx.services.directory.officer_schools(ctx.actor)
    choices = tuple(cards.Choice(f"{s.name} ({s.urn})", str(s.id)) for s in schools)
    return Reply(card=cards.pick_school(cards.PickSchoolView("Book a TSM for which school?", choices)))


# ---------------------------------------------------------------------- words


def when(v: MeetingView) -> str:
    return when_text(v.start, v.end, ZoneInfo(v.timezone))


def place(v: MeetingView) -> str:
    if v.mode == Mode.TEAMS.value:
        # No promise of a link: only Outlook (the Graph calendar) makes one, and then it is on the view already.
        return "Microsoft Teams" + ("" if v.join_url else " (no joining link yet)")
    return v.location or "At school"


def meeting_facts(v: MeetingView, *, with_attendees: bool = False) -> tuple[tuple[str, str], ...]:
    facts = [
        ("School", v.school_label),
        ("When", when(v)),
        ("Where", place(v)),
        ("Link officer", v.officer_name),
    ]
    if with_attendees and v.attendees:
        facts.append(
            (
                "Invited",
                ", ".join(plain(a.name) + (" (senior leader)" if a.required else "") for a in v.attendees),
            )
        )  # names typed by school staff: no markup
    return tuple(facts)


def outlook_invites(ctx: ChatContext) -> bool:
    """True with the Graph calendar: Outlook sends the invitations (and makes the Teams link); else the TSM service
    emails the local calendar's invitations itself (tsm.notifications)."""
    return getattr(ctx.services.settings, "calendar_backend", "local") == "graph"


def invitation_line(ctx: ChatContext, has_ics: bool) -> str:
    """What happens to the invitation, as it really does with the calendar configured."""
    if outlook_invites(ctx):
        return "Emailed from Outlook to everyone invited"
    return "Being emailed to everyone invited and the link officer" + (
        "; also attached here (.ics): open it to add the TSM to your calendar" if has_ics else ""
    )


def updated_invitation_note(ctx: ChatContext) -> str:
    return (
        "Outlook sends everyone invited an updated invitation."
        if outlook_invites(ctx)
        else "An updated invitation is being emailed to everyone invited."
    )


def teams_link_words(ctx: ChatContext) -> str:
    """Where a Teams TSM's joining link comes from: Outlook's invitation; the local calendar makes none."""
    return (
        "the link comes with Outlook's invitation"
        if outlook_invites(ctx)
        else "this service makes no joining link: your link officer shares one"
    )


def ics_files(ics: bytes | None, name: str = "tsm-invitation.ics") -> tuple[tuple[str, str, bytes], ...]:
    return ((name, "text/calendar", ics),) if ics else ()


def slot_title(start: datetime, duration: timedelta, tz: ZoneInfo) -> str:
    return when_text(start, start + duration, tz)


def offer_tz(offer: Offer) -> ZoneInfo:
    return ZoneInfo(offer.timezone)


def days_of(offer: Offer) -> dict[date, tuple[datetime, ...]]:
    """The offer's starts by local day, in order (worked out once per offer, not per use)."""
    return offer.days


def term_words(label: str) -> str:
    return label.replace("autumn", "Autumn").replace("spring", "Spring").replace("summer", "Summer")


# ---------------------------------------------------------------------- reading card data against an offer


def read_start(data: dict[str, Any], offer: Offer) -> datetime:
    if data.get("start") in (None, ""):  # no time chosen on the card (its own check says the same)
        raise InvalidInput("Please choose a time: nothing was changed.")
    start = field_datetime(data, "start", label="the time")
    if not offer.has(start):
        raise InvalidInput(
            "That time was not one of the times offered on this card, so nothing was changed. "
            "Please pick one of the times shown."
        )
    return start


def read_date(data: dict[str, Any], offer: Offer) -> date:
    raw = field_str(data, "date", label="a date", max_len=10)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("That date is not in the expected form (YYYY-MM-DD).") from None
    if day not in days_of(offer):
        raise InvalidInput(
            f"{day_text(day)} has no free time on offer here. Please pick one of the dates shown."
        )
    return day


async def load_offer(
    ctx: ChatContext, data: dict[str, Any], *kinds: str, allow_expired: bool = False
) -> Offer:
    """The card's offer, for this actor. ``allow_expired``: a decisive step (book it, move it) on a card left
    open a while goes ahead when its start is one the offer held; the booking service re-checks it is free."""
    try:
        offer = await conversation(ctx).offer(ctx.actor, data.get("offerId"))
    except ExpiredOffer as exc:
        if not allow_expired or exc.offer is None:
            raise
        offer = exc.offer
    if kinds and offer.kind not in kinds:
        raise InvalidInput("That button does not belong to this step. Type **help** to start again.")
    return offer


# ---------------------------------------------------------------------- the date and time steps


def heading_for(offer: Offer) -> str:
    return flow_of(offer.kind).heading


def dates_reply(offer: Offer, *, intro: str, note: str = "", back: cards.Button | None = None) -> Reply:
    choices = []
    for day, starts in days_of(offer).items():
        n = len(starts)
        # short enough for a drop-down on a phone: "Wednesday 30 December (13 times)"
        choices.append(cards.Choice(f"{day_text(day)} ({n} time{'s' if n != 1 else ''})", day.isoformat()))
    if len(choices) > 60:  # a term has about 60 school days; the card stays small
        choices = choices[:60]
    return Reply(
        card=cards.pick_date(cards.DatesView(offer.id, heading_for(offer), intro, tuple(choices), note, back))
    )


def times_reply(offer: Offer, day: date, *, note: str = "") -> Reply:
    tz = offer_tz(offer)
    starts = days_of(offer).get(day, ())
    choices = tuple(
        cards.Choice(f"{time_text(s, tz)}–{time_text(s + offer.duration, tz)}", s.isoformat()) for s in starts
    )
    return Reply(
        card=cards.pick_time(
            cards.TimesView(
                offer.id, heading_for(offer), day_text(day), choices, note, flow_of(offer.kind).times_verb
            )
        )
    )


def slot_choices(offer: Offer, limit: int = 6) -> tuple[cards.Choice, ...]:
    tz = offer_tz(offer)
    return tuple(
        cards.Choice(slot_title(s, offer.duration, tz), s.isoformat()) for s in sorted(offer.starts)[:limit]
    )


def intro_for(offer: Offer, who: str, term_label: str) -> str:
    mode = "on Teams" if offer.mode == Mode.TEAMS.value else "in person at school"
    minutes = int(offer.duration.total_seconds() // 60)
    return (
        f"{term_words(term_label)}: a {minutes}-minute TSM {mode} with {who}. "
        "These dates have free times; pick one."
    )
