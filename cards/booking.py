"""Cards of the conversations: booking, my meetings (move, cancel, add a colleague, senior leader can't attend),
an officer's week and schools, booking on a school's behalf, adding a contact, help.

Each function takes a small frozen view and returns an Adaptive Card 1.5 dict; every button is an
``Action.Execute`` with an ``Action.Submit`` fallback carrying the same verb. Cards carry ids and the choice
made, never anything the server believes without re-reading it (offers are kept server-side: ``offerId``).
Every card has a way on: a next step, a way back, or a way out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .notifications import _card as _base_card
from .notifications import _facts, _text, button_rows, short_school

# Every verb a card in this module can emit (the registry must have exactly one handler for each).
VERBS = {
    "book.start",
    "book.pick_mode",
    "book.pick_start",
    "book.dates",
    "book.pick_date",
    "book.pick_time",
    "book.attendees",
    "book.confirm",
    "book.stop",
    "meeting.list",
    "meeting.move_start",
    "meeting.move",
    "meeting.cancel_start",
    "meeting.cancel_confirm",
    "meeting.cancel",
    "meeting.undo_cancel",
    "meeting.add_colleague_start",
    "meeting.add_colleague",
    "meeting.leader_unavailable",
    "meeting.keep_time",
    "officer.week",
    "officer.schools",
    "officer.book_start",
    "officer.pick_school",
    "officer.invite",
    "officer.past",
    "meeting.mark_no_show_start",
    "meeting.mark_no_show",
    "meeting.mark_held",
    "contact.start",
    "contact.add",
    "offer.accept",
    "offer.pick_slot",
    "help.show",
    "access.request",
    "joint.start",
    "joint.pick_start",
    "joint.more_dates",
    "joint.pick_time",
    "joint.confirm",
}


@dataclass(frozen=True)
class Choice:
    title: str
    value: str


@dataclass(frozen=True)
class Button:
    title: str
    verb: str
    data: tuple[tuple[str, Any], ...] = ()
    inputs: bool = False  # send the card's inputs with it (and let the client check required ones)
    style: str = ""  # "positive" | "destructive" | ""


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return _base_card(body, actions)


def _act(b: Button) -> dict[str, Any]:
    """Action.Execute with an Action.Submit fallback carrying the same verb and data (older clients)."""
    data = {"verb": b.verb, **dict(b.data)}
    assoc = "auto" if b.inputs else "none"
    out: dict[str, Any] = {
        "type": "Action.Execute",
        "title": b.title[:60],
        "verb": b.verb,
        "data": data,
        "associatedInputs": assoc,
        "fallback": {"type": "Action.Submit", "title": b.title[:60], "data": data, "associatedInputs": assoc},
    }
    if b.style:
        out["style"] = b.style
    return out


def _actions(buttons: tuple[Button, ...] | list[Button]) -> list[dict[str, Any]]:
    return [_act(b) for b in buttons]


def _action_sets(buttons: list[Button]) -> list[dict[str, Any]]:
    """Buttons inside the body, in rows that fit a phone."""
    return [{"type": "ActionSet", "actions": row} for row in button_rows(_actions(buttons))]


def _heading(text: str) -> dict[str, Any]:
    return _text(text, weight="Bolder", size="Medium")


def _choices(
    input_id: str,
    label: str,
    choices: tuple[Choice, ...],
    *,
    value: str = "",
    required: bool = True,
    multi: bool = False,
    error: str = "",
    expanded: bool = False,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "style": "expanded" if expanded else "compact",
        "isMultiSelect": multi,
        "choices": [{"title": c.title, "value": c.value} for c in choices],
    }
    if expanded or multi:
        out["wrap"] = True  # a long choice wraps instead of being cut
    if value:
        out["value"] = value
    if required:
        out["isRequired"] = True
        out["errorMessage"] = error or f"Please choose {label.lower()}."
    return out


def _input_text(
    input_id: str,
    label: str,
    *,
    required: bool,
    max_length: int,
    placeholder: str = "",
    multiline: bool = False,
    style: str = "",
    value: str = "",
    regex: str = "",
    error: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "Input.Text",
        "id": input_id,
        "label": label,
        "maxLength": max_length,
        "isMultiline": multiline,
    }
    if value:
        out["value"] = value[:max_length]
    if regex:
        out["regex"] = regex
    if placeholder:
        out["placeholder"] = placeholder
    if style:
        out["style"] = style
    if required:
        out["isRequired"] = True
        out["errorMessage"] = error or f"Please fill in {label.lower()}."
    return out


# A reason (cancelling, a meeting not held) has at least REASON_MIN characters once trimmed: the client checks it
# with REASON_REGEX before sending, the server (tsm.chat) again with reason_ok; both say REASON_ERROR.
REASON_MIN = 3
REASON_REGEX = rf"^\s*\S[\s\S]{{{REASON_MIN - 2},}}\S\s*$"
REASON_ERROR = f"Please give a short reason of at least {REASON_MIN} characters."


def reason_ok(text: str) -> bool:
    return len(text.strip()) >= REASON_MIN


def _school_choices(choices: tuple[Choice, ...]) -> tuple[Choice, ...]:
    return tuple(Choice(short_school(c.title), c.value) for c in choices)


STOP = Button("Stop", "book.stop")
HELP = Button("Help", "help.show")
MY_MEETINGS = Button("My meetings", "meeting.list")


# ---------------------------------------------------------------------- booking, step by step


@dataclass(frozen=True)
class StartView:
    """Step 1: who the TSM is with, what the LA expects of this school, and on site or Teams."""

    heading: str
    school: str
    officer: str
    entitlement: str
    figures: str
    modes: tuple[Choice, ...]  # value = mode, title = label; the LA's default first
    school_id: int | None = None  # an officer booking on a school's behalf
    note: str = ""
    # The soonest free times for the preselected mode (issue 14, item 3: book -> a time -> confirm): value = ISO
    # start; the offer keeps them server-side. Without them the card asks only how to meet.
    offer_id: str = ""
    times: tuple[Choice, ...] = ()
    # A joint TSM for several schools of a trust (issue 13, item 7): ``school`` is the trust; the schools that can
    # join (value = school id; ``chosen``: the ids preselected, comma-separated), the others with why not; the modes
    # are the places (Teams, or one school's site: "on_site:<school id>"); its own verbs.
    schools: tuple[Choice, ...] = ()
    chosen: str = ""
    cannot_join: tuple[tuple[str, str], ...] = ()
    by_officer: bool = False  # the officer books (without a ``school_id``: a joint TSM)
    modes_label: str = "How would you like to meet?"
    pick_verb: str = "book.pick_start"
    more_verb: str = "book.pick_mode"


def book_start(v: StartView) -> dict[str, Any]:
    body = [
        _heading(v.heading),
        _text(
            f"**{v.school}**, with you as link officer."
            if v.school_id is not None or v.by_officer
            else f"**{v.school}**, with your link officer **{v.officer}**."
        ),
    ]
    if v.entitlement:
        body.append(_text(v.entitlement))
    if v.figures:
        body.append(_text(v.figures, isSubtle=True, size="Small"))
    if v.note:
        body.append(_text(v.note, weight="Bolder"))
    if v.schools:
        body.append(
            _choices(
                "schools",
                "Schools in this TSM",
                v.schools,
                value=v.chosen,
                multi=True,
                expanded=True,
                error="Please choose the schools.",
            )
        )
    if v.cannot_join:
        body.append(_text("Can't join this term:", weight="Bolder"))
        body.append(_facts(list(v.cannot_join)))
    extra: tuple[tuple[str, Any], ...] = () if v.school_id is None else (("schoolId", v.school_id),)
    if len(v.modes) > 1 or not v.times:
        body.append(
            _choices(
                "mode",
                v.modes_label,
                v.modes,
                value=v.modes[0].value if v.modes else "",
                error="Please choose how to meet.",
                expanded=True,
            )
        )
    else:  # one way to meet: said, not asked
        body.append(_text(f"How: {v.modes[0].title}."))
        extra = (*extra, ("mode", v.modes[0].value))
    if not v.times:
        return _card(
            body, _actions([Button("Next", v.more_verb, extra, inputs=True, style="positive"), STOP])
        )
    body.append(_choices("start", "Time", v.times, value=v.times[0].value, error="Please choose a time."))
    return _card(
        body,
        _actions(
            [
                Button(
                    "Choose this time",
                    v.pick_verb,
                    (*extra, ("offerId", v.offer_id)),
                    inputs=True,
                    style="positive",
                ),
                Button(
                    "More dates",
                    v.more_verb,
                    (*extra, ("offerId", v.offer_id)) if v.schools else extra,
                    inputs=True,
                ),
                STOP,
            ]
        ),
    )


@dataclass(frozen=True)
class DatesView:
    """Step 2: the days with free times (the choice goes back with the offer's id)."""

    offer_id: str
    heading: str
    intro: str
    dates: tuple[Choice, ...]  # value = ISO date
    note: str = ""
    back: Button | None = None


def pick_date(v: DatesView) -> dict[str, Any]:
    body = [_heading(v.heading), _text(v.intro)]
    if v.note:
        body.append(_text(v.note, weight="Bolder"))
    if not v.dates:
        body.append(
            _text(
                "There are no free times left in that term. Your link officer can help: "
                "say **help** to see what else you can do."
            )
        )
        return _card(body, _actions([b for b in (v.back, HELP) if b is not None]))
    body.append(_choices("date", "Date", v.dates, value=v.dates[0].value, error="Please choose a date."))
    buttons = [
        Button("Show times", "book.pick_date", (("offerId", v.offer_id),), inputs=True, style="positive")
    ]
    if v.back is not None:
        buttons.append(v.back)
    return _card(body, _actions([*buttons, STOP]))


@dataclass(frozen=True)
class TimesView:
    """Step 3: the free times on the chosen day."""

    offer_id: str
    heading: str
    day: str
    times: tuple[Choice, ...]  # value = ISO start with offset
    note: str = ""
    pick_verb: str = "book.pick_time"  # a joint TSM's: joint.pick_time


def pick_time(v: TimesView) -> dict[str, Any]:
    body = [_heading(v.heading), _text(f"Free times on **{v.day}**:")]
    if v.note:
        body.append(_text(v.note, weight="Bolder"))
    body.append(
        _choices(
            "start",
            "Time",
            v.times,
            value=v.times[0].value if v.times else "",
            error="Please choose a time.",
            expanded=len(v.times) <= 6,
        )
    )
    return _card(
        body,
        _actions(
            [
                Button(
                    "Choose this time",
                    v.pick_verb,
                    (("offerId", v.offer_id),),
                    inputs=True,
                    style="positive",
                ),
                Button("Other dates", "book.dates", (("offerId", v.offer_id),)),
                STOP,
            ]
        ),
    )


@dataclass(frozen=True)
class AttendeesView:
    """Step 4: who attends. A senior leader is required; colleagues are optional."""

    offer_id: str
    start: str  # ISO
    when: str
    leaders: tuple[Choice, ...]  # value = contact id
    leader: str  # preselected contact id
    colleagues: tuple[Choice, ...]
    date: str  # ISO date, for "back to the times"
    note: str = ""
    # The last step at once (issue 14, item 3): the booking's facts and "Book it", the people prefilled.
    facts: tuple[tuple[str, str], ...] = ()
    # A joint TSM: a senior leader for each school (``leaders`` unused), and its own "Book it" verb.
    leader_sets: tuple[LeaderSet, ...] = ()
    confirm_verb: str = "book.confirm"


@dataclass(frozen=True)
class LeaderSet:
    """One school's senior leader in a joint TSM: an input of its own (``leader_<school id>``)."""

    input_id: str
    label: str
    choices: tuple[Choice, ...]  # value = contact id
    value: str = ""  # preselected
    required: bool = True


def pick_attendees(v: AttendeesView) -> dict[str, Any]:
    if v.facts:
        body = [
            _heading("Book this TSM?"),
            _facts(list(v.facts)),
            _text(
                ("A senior leader of each school" if v.leader_sets else "A senior leader")
                + " is expected to attend. Nothing is booked until you press Book it."
            ),
        ]
    else:
        body = [
            _heading("Who will attend?"),
            _text(f"Your TSM on **{v.when}**. A senior leader is expected to attend."),
        ]
    if v.note:
        body.append(_text(v.note, isSubtle=True))
    for ls in v.leader_sets:
        body.append(
            _choices(
                ls.input_id,
                ls.label,
                ls.choices,
                value=ls.value,
                required=ls.required,
                error="Please choose the senior leader who will attend.",
            )
        )
    if not v.leader_sets:
        body.append(
            _choices(
                "leader",
                "Senior leader",
                v.leaders,
                value=v.leader,
                error="Please choose the senior leader who will attend.",
            )
        )
    if v.colleagues:
        body.append(
            _choices(
                "colleagues",
                "Colleagues (optional)",
                v.colleagues,
                required=False,
                multi=True,
                expanded=len(v.colleagues) <= 6,
            )
        )
    step = (
        Button(
            "Book it",
            v.confirm_verb,
            (("offerId", v.offer_id), ("start", v.start)),
            inputs=True,
            style="positive",
        )
        if v.facts
        else Button(
            "Next",
            "book.attendees",
            (("offerId", v.offer_id), ("start", v.start)),
            inputs=True,
            style="positive",
        )
    )
    return _card(
        body,
        _actions(
            [
                step,
                Button("Other times", "book.pick_date", (("offerId", v.offer_id), ("date", v.date))),
                STOP,
            ]
        ),
    )


@dataclass(frozen=True)
class ConfirmView:
    """The last look before booking or moving: nothing is written until the button is pressed."""

    offer_id: str
    start: str
    heading: str
    facts: tuple[tuple[str, str], ...]
    confirm: Button
    date: str
    note: str = ""


def confirm(v: ConfirmView) -> dict[str, Any]:
    body = [_heading(v.heading), _facts(list(v.facts))]
    if v.note:
        body.append(_text(v.note, isSubtle=True))
    return _card(
        body,
        _actions(
            [
                v.confirm,
                Button("Change the time", "book.pick_date", (("offerId", v.offer_id), ("date", v.date))),
                STOP,
            ]
        ),
    )


@dataclass(frozen=True)
class DoneView:
    """Booked, moved, cancelled, changed: what now stands, and where to go next."""

    heading: str
    facts: tuple[tuple[str, str], ...]
    join_url: str | None = None
    note: str = ""
    buttons: tuple[Button, ...] = (MY_MEETINGS,)


def done(v: DoneView) -> dict[str, Any]:
    body = [_heading(v.heading)]
    if v.facts:
        body.append(_facts(list(v.facts)))
    if v.note:
        body.append(_text(v.note))
    actions = []
    if v.join_url:
        actions.append({"type": "Action.OpenUrl", "title": "Join on Teams", "url": v.join_url})
    return _card(body, actions + _actions(v.buttons))


@dataclass(frozen=True)
class SlotsView:
    """A refusal with fresh times (just taken, other times this term, senior leader can't attend...)."""

    heading: str
    message: str
    offer_id: str | None
    slots: tuple[Choice, ...]  # value = ISO start
    pick_verb: str  # book.pick_time (on to attendees), meeting.move (move now), offer.pick_slot
    pick_title: str = "Choose this time"
    extra: tuple[Button, ...] = ()


def slots(v: SlotsView) -> dict[str, Any]:
    body = [_heading(v.heading), _text(v.message)]
    buttons: list[Button] = []
    if v.slots and v.offer_id:
        body.append(
            _choices(
                "start",
                "Other free times",
                v.slots,
                value=v.slots[0].value,
                expanded=len(v.slots) <= 6,
                error="Please choose a time.",
            )
        )
        buttons.append(
            Button(v.pick_title, v.pick_verb, (("offerId", v.offer_id),), inputs=True, style="positive")
        )
        buttons.append(Button("Other dates", "book.dates", (("offerId", v.offer_id),)))
    else:
        body.append(
            _text("No other free times are left in that term: your link officer will help you find one.")
        )
    if not buttons and not v.extra:
        buttons.append(HELP)
    return _card(body, _actions([*buttons, *v.extra]))


# ---------------------------------------------------------------------- my meetings


@dataclass(frozen=True)
class MeetingItem:
    meeting_id: int
    title: str  # "Tuesday 1 December 10:00–11:00"
    facts: tuple[tuple[str, str], ...]
    changeable: bool
    for_school: bool  # the viewer is the school (add colleague, senior leader can't attend)
    leader_unavailable: bool = False


@dataclass(frozen=True)
class MeetingsView:
    heading: str
    items: tuple[MeetingItem, ...]
    empty: str
    buttons: tuple[Button, ...] = ()


def meetings(v: MeetingsView) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_heading(v.heading)]
    if not v.items:
        body.append(_text(v.empty))
    for it in v.items[:12]:
        part: list[dict[str, Any]] = [
            _text(f"**{it.title}**", separator=True, spacing="Medium"),
            _facts(list(it.facts)),
        ]
        if it.leader_unavailable:
            part.append(_text("Senior leader can't attend: please pick another time.", color="Attention"))
        if it.changeable:
            mid = (("meetingId", it.meeting_id),)
            row = [Button("Move", "meeting.move_start", mid), Button("Cancel", "meeting.cancel_start", mid)]
            if it.for_school:
                row.append(Button("Add a colleague", "meeting.add_colleague_start", mid))
                if not it.leader_unavailable:
                    row.append(Button("Senior leader can't attend", "meeting.leader_unavailable", mid))
            part.extend(_action_sets(row))
        body.append({"type": "Container", "items": part})
    if len(v.items) > 12:
        body.append(_text(f"…and {len(v.items) - 12} more."))
    return _card(body, _actions([*v.buttons, HELP]))


@dataclass(frozen=True)
class CancelView:
    meeting_id: int
    facts: tuple[tuple[str, str], ...]
    reason: str = ""  # set on the confirmation step (and on the first step when it is shown again, as typed)


def cancel_reason(v: CancelView) -> dict[str, Any]:
    body = [
        _heading("Cancel this TSM?"),
        _facts(list(v.facts)),
        _text(
            f"Please give a short reason (at least {REASON_MIN} characters): it goes to the other side with "
            "the cancellation."
        ),
        _input_text(
            "reason",
            "Reason",
            required=True,
            max_length=500,
            multiline=True,
            placeholder="e.g. Ofsted visit that week",
            value=v.reason,
            regex=REASON_REGEX,
            error=REASON_ERROR,
        ),
    ]
    return _card(
        body,
        _actions(
            [
                Button("Continue", "meeting.cancel_confirm", (("meetingId", v.meeting_id),), inputs=True),
                Button("Keep the meeting", "meeting.list"),
            ]
        ),
    )


def cancel_confirm(v: CancelView) -> dict[str, Any]:
    body = [
        _heading("Cancel this TSM for good?"),
        _facts([*v.facts, ("Reason", v.reason)]),
        _text(
            "The invitation will be withdrawn and the other side told. You can book another time afterwards."
        ),
    ]
    return _card(
        body,
        _actions(
            [
                Button(
                    "Yes, cancel it",
                    "meeting.cancel",
                    (("meetingId", v.meeting_id), ("reason", v.reason)),
                    style="destructive",
                ),
                Button("No, keep it", "meeting.list"),
            ]
        ),
    )


@dataclass(frozen=True)
class AddColleagueView:
    meeting_id: int
    facts: tuple[tuple[str, str], ...]
    contacts: tuple[Choice, ...]  # the school's contacts not invited yet; value = contact id


def add_colleague(v: AddColleagueView) -> dict[str, Any]:
    body = [_heading("Add a colleague"), _facts(list(v.facts))]
    if v.contacts:
        body.append(_choices("contactId", "A colleague we know", v.contacts, required=False))
        body.append(_text("Or someone new:", isSubtle=True))
    body.append(_input_text("name", "Name", required=False, max_length=120))
    body.append(_input_text("email", "Work email", required=False, max_length=254, style="Email"))
    return _card(
        body,
        _actions(
            [
                Button(
                    "Invite them",
                    "meeting.add_colleague",
                    (("meetingId", v.meeting_id),),
                    inputs=True,
                    style="positive",
                ),
                MY_MEETINGS,
            ]
        ),
    )


@dataclass(frozen=True)
class LeaderAskView:
    """ "Our senior leader can't attend": which meeting (there may be this term's and next term's)."""

    officer: str
    items: tuple[Choice, ...]  # title = when, value = meeting id


def leader_ask(v: LeaderAskView) -> dict[str, Any]:
    body = [
        _heading("Senior leader can't attend?"),
        _text(
            f"A senior leader is expected at every TSM. Tell us which meeting, and we will tell {v.officer} "
            "and offer you other times in the same term."
        ),
    ]
    body.append(
        _choices(
            "meetingId",
            "Which meeting?",
            v.items,
            value=v.items[0].value if len(v.items) == 1 else "",
            error="Please choose the meeting.",
            expanded=True,
        )
    )
    return _card(
        body,
        _actions(
            [
                Button("Find another time", "meeting.leader_unavailable", inputs=True, style="positive"),
                MY_MEETINGS,
            ]
        ),
    )


# ---------------------------------------------------------------------- officers


@dataclass(frozen=True)
class WeekItem:
    when: str
    school: str
    where: str
    status: str = ""


@dataclass(frozen=True)
class WeekView:
    heading: str
    items: tuple[WeekItem, ...]
    notices: tuple[str, ...] = ()


def officer_week(v: WeekView) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_heading(v.heading)]
    if v.notices:
        body.append(_text("**For your attention**"))
        body.extend(_text(f"- {n}", color="Attention") for n in v.notices[:10])
    if not v.items:
        body.append(_text("No TSMs in the coming week."))
    for it in v.items[:40]:
        facts = [("When", it.when), ("School", it.school), ("Where", it.where)]
        if it.status:
            facts.append(("Note", it.status))
        body.append({"type": "Container", "separator": True, "items": [_facts(facts)]})
    return _card(
        body,
        _actions(
            [
                Button("My schools", "officer.schools"),
                Button("Book for a school", "officer.book_start"),
                PAST,
                HELP,
            ]
        ),
    )


PAST = Button("Past meetings", "officer.past")


@dataclass(frozen=True)
class PastItem:
    """One of the officer's meetings that has started: held (the default at its end), not held, or not yet marked."""

    meeting_id: int
    title: str  # "Tuesday 1 December 10:00–11:00"
    school: str
    where: str
    status: str  # held | no_show | booked/moved (started, not marked yet)


PAST_WORDS = {"held": "Held", "no_show": "Not held", "booked": "Not marked yet", "moved": "Not marked yet"}


@dataclass(frozen=True)
class PastView:
    heading: str
    items: tuple[PastItem, ...]
    days: int


def officer_past(v: PastView) -> dict[str, Any]:
    """The officer's meetings of the last ``days`` days: correct held <-> not held (with a reason)."""
    body: list[dict[str, Any]] = [_heading(v.heading)]
    if not v.items:
        body.append(_text(f"No TSMs in the last {v.days} days."))
    else:
        body.append(
            _text(
                "Meetings are recorded as held when they end. If one did not take place, say so here; "
                "you can change it back."
            )
        )
    for it in v.items[:20]:
        facts = [
            ("School", it.school),
            ("Where", it.where),
            ("Recorded", PAST_WORDS.get(it.status, it.status)),
        ]
        mid = (("meetingId", it.meeting_id),)
        row = (
            [Button("It was held", "meeting.mark_held", mid)]
            if it.status == "no_show"
            else [Button("It didn't take place", "meeting.mark_no_show_start", mid)]
        )
        if it.status in ("booked", "moved"):
            row.insert(0, Button("It was held", "meeting.mark_held", mid, style="positive"))
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [_text(f"**{it.title}**", spacing="Medium"), _facts(facts), *_action_sets(row)],
            }
        )
    if len(v.items) > 20:
        body.append(_text(f"…and {len(v.items) - 20} more."))
    return _card(
        body, _actions([Button("My week", "officer.week"), Button("My schools", "officer.schools"), HELP])
    )


@dataclass(frozen=True)
class NoShowView:
    meeting_id: int
    facts: tuple[tuple[str, str], ...]
    reason: str = ""  # as typed, when the card is shown again with what was wrong


def no_show_reason(v: NoShowView) -> dict[str, Any]:
    body = [
        _heading("Record this TSM as not held?"),
        _facts(list(v.facts)),
        _text(
            "Please say briefly why (for example, nobody from the school came). The school's TSM for the term "
            "is then open to book again."
        ),
        _input_text(
            "reason",
            "Why it did not take place",
            required=True,
            max_length=300,
            multiline=True,
            placeholder="e.g. Nobody from the school joined",
            value=v.reason,
            regex=REASON_REGEX,
            error=REASON_ERROR,
        ),
    ]
    return _card(
        body,
        _actions(
            [
                Button(
                    "Record as not held",
                    "meeting.mark_no_show",
                    (("meetingId", v.meeting_id),),
                    inputs=True,
                    style="destructive",
                ),
                Button("Keep it as held", "officer.past"),
            ]
        ),
    )


@dataclass(frozen=True)
class SchoolRowView:
    name: str
    status: str  # in words


@dataclass(frozen=True)
class SchoolsView:
    heading: str
    summary: str
    rows: tuple[SchoolRowView, ...]
    to_book: tuple[Choice, ...]  # schools with no TSM this term; value = school id
    # the trusts (codes) with two or more of the officer's schools still to book this term: "Joint TSM" (issue 13,
    # item 7); one trust goes straight to its joint TSM, several to the trust picker first
    joint_trusts: tuple[str, ...] = ()


def officer_schools(v: SchoolsView) -> dict[str, Any]:
    body: list[dict[str, Any]] = [_heading(v.heading), _text(v.summary)]
    body.append(_facts([(r.name, r.status) for r in v.rows[:60]]))
    buttons: list[Button] = []
    if v.to_book:
        body.append(
            _choices(
                "schoolId",
                "Book for",
                _school_choices(v.to_book),
                value=v.to_book[0].value,
                error="Please choose a school.",
            )
        )
        buttons.append(Button("Book for this school", "officer.pick_school", inputs=True, style="positive"))
    if v.joint_trusts:
        trust = (("trust", v.joint_trusts[0]),) if len(v.joint_trusts) == 1 else ()
        buttons.append(Button("Joint TSM", "joint.start", trust))
    buttons += [Button("My week", "officer.week"), Button("Add contact", "contact.start"), HELP]
    return _card(body, _actions(buttons))


@dataclass(frozen=True)
class PickSchoolView:
    heading: str
    schools: tuple[Choice, ...]  # value = school id
    verb: str = (
        "officer.pick_school"  # what "Next" does with the school: book for it, or invite it (officer.invite)
    )
    next_title: str = "Next"
    input_id: str = "schoolId"  # a joint TSM's trust: "trust", labelled "Trust"
    label: str = "School"


def pick_school(v: PickSchoolView) -> dict[str, Any]:
    body = [_heading(v.heading)]
    if not v.schools:
        body.append(
            _text("You have no schools linked to you yet. The LA attendance team links schools to officers.")
        )
        return _card(body, _actions([HELP]))
    few = len(v.schools) <= 6  # a few: each name in full, wrapped; more: a drop-down of names that fit it
    body.append(
        _choices(
            v.input_id,
            v.label,
            v.schools if few else _school_choices(v.schools),
            value=v.schools[0].value,
            error=f"Please choose a {v.label.lower()}.",
            expanded=few,
        )
    )
    return _card(
        body,
        _actions(
            [
                Button(v.next_title, v.verb, inputs=True, style="positive"),
                Button("My schools", "officer.schools"),
                STOP,
            ]
        ),
    )


@dataclass(frozen=True)
class ProposalView:
    """To a school's staff: their officer booked a time; accept it or pick another."""

    meeting_id: int
    officer: str
    facts: tuple[tuple[str, str], ...]
    offer_id: str | None
    slots: tuple[Choice, ...]
    join_url: str | None = None


def proposal(v: ProposalView) -> dict[str, Any]:
    body = [
        _heading(f"{v.officer} has booked your TSM"),
        _facts(list(v.facts)),
        _text("Does this time suit you? Accept it, or pick another free time in the same term."),
    ]
    buttons = [Button("Accept", "offer.accept", (("meetingId", v.meeting_id),), style="positive")]
    if v.slots and v.offer_id:
        body.append(_choices("start", "Another time", v.slots, error="Please choose a time to move to."))
        buttons.append(
            Button("Move to this time", "offer.pick_slot", (("offerId", v.offer_id),), inputs=True)
        )
        buttons.append(Button("Other dates", "book.dates", (("offerId", v.offer_id),)))
    actions = _actions(buttons)
    if v.join_url:
        actions.append({"type": "Action.OpenUrl", "title": "Join on Teams", "url": v.join_url})
    return _card(body, actions)


@dataclass(frozen=True)
class AddContactView:
    schools: tuple[Choice, ...]  # value = URN
    roles: tuple[Choice, ...]


def add_contact(v: AddContactView) -> dict[str, Any]:
    body = [
        _heading("Add a school contact"),
        _text("They can then use this bot for their school: book, move or cancel its TSM."),
    ]
    if not v.schools:
        body.append(_text("You have no schools linked to you yet."))
        return _card(body, _actions([HELP]))
    body += [
        _choices(
            "urn",
            "School",
            _school_choices(v.schools),
            value=v.schools[0].value,
            error="Please choose a school.",
        ),
        _input_text("name", "Name", required=True, max_length=120),
        _input_text("email", "Work email", required=True, max_length=254, style="Email"),
        _choices("role", "Role", v.roles, value=v.roles[0].value if v.roles else ""),
    ]
    return _card(
        body,
        _actions(
            [
                Button("Add contact", "contact.add", inputs=True, style="positive"),
                Button("My schools", "officer.schools"),
            ]
        ),
    )


# ---------------------------------------------------------------------- help


@dataclass(frozen=True)
class HelpView:
    heading: str
    intro: str
    commands: tuple[tuple[str, str], ...]
    buttons: tuple[Button, ...]


def help_card(v: HelpView) -> dict[str, Any]:
    body = [_heading(v.heading), _text(v.intro), _facts([(f"**{word}**", text) for word, text in v.commands])]
    return _card(body, _actions(v.buttons))


BUILDERS = (
    book_start,
    pick_date,
    pick_time,
    pick_attendees,
    confirm,
    done,
    slots,
    meetings,
    cancel_reason,
    cancel_confirm,
    add_colleague,
    leader_ask,
    officer_week,
    officer_schools,
    pick_school,
    proposal,
    add_contact,
    help_card,
    officer_past,
    no_show_reason,
)
