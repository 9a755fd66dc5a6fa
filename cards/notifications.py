"""Cards the scheduler sends: reminders, the officer's agenda and list of unbooked schools, next-TSM offers.

Each function takes a small frozen view and returns an Adaptive Card 1.5 dict. Verbs emitted here are
listed in ``VERBS``; the bot's registry must have exactly one handler for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tsm.domain.text import day_text, plain, times_text, when_text

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
VERBS = {
    "offer.pick_slot",
    "officer.offer_slots",
    "officer.pick_school",
    "officer.schools",
    "officer.week",
    "meeting.move",
    "meeting.mark_no_show_start",
    "book.start",
    "contact.add",
}

CHECKLIST = (
    "The school's overall attendance this year",
    "How many pupils are persistently absent (10% or more) and severely absent (50% or more)",
    "Cohort figures if you wish (SEN, FSM, EAL, GRT): numbers only",
    "Pupil lists stay in school: no pupil-level data is handed over",
)


# Teams never wraps a button's title and draws a card's actions in one row: a row holds at most 3 buttons whose
# titles together fit a phone (320 px; measured by tests/cards/test_card_render.py with Teams' host config). A
# title alone may have ROW_CHARS characters; each further button in the row costs its padding, about 4 characters.
ROW_CHARS = 34
ROW_BUTTONS = 3


def button_rows(actions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The actions in rows that fit a phone, in order: at most ROW_BUTTONS a row, ROW_CHARS of titles."""
    rows: list[list[dict[str, Any]]] = []
    for a in actions:
        row = rows[-1] if rows else None
        if (
            row is not None
            and len(row) < ROW_BUTTONS
            and sum(len(x.get("title", "")) for x in row) + len(a.get("title", "")) + 4 * len(row)
            <= ROW_CHARS
        ):
            row.append(a)
        else:
            rows.append([a])
    return rows


# A drop-down (compact Input.ChoiceSet) never wraps: at 320 px it shows about this many characters.
DROPDOWN_CHARS = 34
_SCHOOL_WORDS = (
    ("Church of England", "CE"),
    ("Voluntary Aided", "VA"),
    ("Voluntary Controlled", "VC"),
    ("Roman Catholic", "RC"),
    ("Primary School", "Primary"),
    ("Junior School", "Junior"),
    ("Infant School", "Infant"),
    ("Secondary School", "Secondary"),
    ("Nursery School", "Nursery"),
    (" and ", " & "),
    ("Saint ", "St "),
)


def short_school(title: str, limit: int = DROPDOWN_CHARS) -> str:
    """A school's name as a drop-down can show it: the usual abbreviations (CE, VA, RC...), then without its URN,
    then cut at a word with "…" (the list above the drop-down gives every name in full)."""
    if len(title) <= limit:
        return title
    for long, short in _SCHOOL_WORDS:
        title = title.replace(long, short)
    if len(title) > limit and title.endswith(")") and " (" in title:
        title = title[: title.rindex(" (")]
    if len(title) > limit:
        title = title[: limit - 1].rsplit(" ", 1)[0] + "…"
    return title


def with_errors(card: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The card with each message (input id -> sentence) right under its input, in the attention colour; a message
    for no input on the card goes under the heading. A refused action answers with the same card, as the person left
    it (their entries are in its view), the reason beside the field, and every button."""
    if not errors:
        return card
    placed: set[str] = set()

    def visit(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item.get("items"), list):
                item = {**item, "items": visit(item["items"])}
            out.append(item)
            iid = item.get("id")
            if str(item.get("type", "")).startswith("Input.") and iid in errors:
                out.append(_text(errors[iid], color="Attention", spacing="Small"))
                placed.add(iid)
        return out

    body = visit(list(card.get("body", [])))
    rest = [_text(msg, color="Attention") for key, msg in errors.items() if key not in placed]
    return {**card, "body": body[:1] + rest + body[1:]}


def _card(body: list[dict[str, Any]], actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A card; its actions in rows that fit a phone (all but the last row as ActionSets at the end of the body)."""
    card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": body}
    if actions:
        rows = button_rows(actions)
        body.extend({"type": "ActionSet", "actions": row} for row in rows[:-1])
        card["actions"] = rows[-1]
    return card


def _text(text: str, **kw: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **kw}


def _facts(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs]}


def _execute(
    title: str, verb: str, data: dict[str, Any], *, inputs: bool = False, style: str = ""
) -> dict[str, Any]:
    """Action.Execute with an Action.Submit fallback carrying the same verb (older clients). ``inputs``: send the
    card's inputs with it (and let the client check the required ones)."""
    assoc = "auto" if inputs else "none"
    out = {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": {"verb": verb, **data},
        "associatedInputs": assoc,
        "fallback": {
            "type": "Action.Submit",
            "title": title,
            "data": {"verb": verb, **data},
            "associatedInputs": assoc,
        },
    }
    if style:
        out["style"] = style
    return out


def _pick(input_id: str, label: str, choices: list[tuple[str, str]], error: str) -> dict[str, Any]:
    """A required choice (title, value), the first preselected: times and schools are choices, never a row of
    buttons (Teams cuts a button's title)."""
    few = len(choices) <= 6  # a few: one tap each, wrapped; more: a drop-down
    out = {
        "type": "Input.ChoiceSet",
        "id": input_id,
        "label": label,
        "style": "expanded" if few else "compact",
        "isMultiSelect": False,
        "choices": [{"title": t, "value": v} for t, v in choices],
        "isRequired": True,
        "errorMessage": error,
    }
    if few:
        out["wrap"] = True
    if choices:
        out["value"] = choices[0][1]
    return out


def when(start: datetime, end: datetime, tz: str) -> str:
    return when_text(start, end, ZoneInfo(tz))


@dataclass(frozen=True)
class ReminderView:
    kind: str  # confirm | remind_7d | remind_1d
    school: str
    officer: str
    start: datetime
    end: datetime
    timezone: str
    mode: str
    location: str
    join_url: str | None
    moved: bool = False
    sent_at: datetime | None = None  # when the reminder goes out: a late one says the real lead time


def lead_days(start: datetime, sent_at: datetime, tz: str) -> int:
    """Calendar days from the send to the meeting, in the LA's time zone (tomorrow = 1, whatever the hour)."""
    z = ZoneInfo(tz)
    return (start.astimezone(z).date() - sent_at.astimezone(z).date()).days


def _lead(v: ReminderView) -> tuple[str, str]:
    """(heading, short text) of a reminder: "in a week" / "tomorrow" when on time, the real lead time when late."""
    if v.kind not in ("remind_7d", "remind_1d"):
        raise ValueError(f"not a reminder: {v.kind}")
    nominal = 7 if v.kind == "remind_7d" else 1
    days = nominal if v.sent_at is None else lead_days(v.start, v.sent_at, v.timezone)
    if days <= 0:
        return "Your TSM is today", "TSM today"
    if days == 1:
        return "Your TSM is tomorrow", "TSM tomorrow"
    if days == 7:
        return "Your TSM is in a week", "TSM in a week"
    return f"Your TSM is on {day_text(v.start, ZoneInfo(v.timezone))}, in {days} days", f"TSM in {days} days"


def reminder(v: ReminderView) -> dict[str, Any]:
    # No promise of a link: the local calendar makes none (with Outlook it is on the meeting by now).
    place = (
        ("On Microsoft Teams" + ("" if v.join_url else " (no joining link here: ask your link officer)"))
        if v.mode == "teams"
        else f"At school: {v.location}"
    )
    heading = (
        ("Your TSM has moved" if v.moved else "Your TSM is booked") if v.kind == "confirm" else _lead(v)[0]
    )
    body = [
        _text(heading, weight="Bolder", size="Medium"),
        _facts(
            [
                ("School", v.school),
                ("When", when(v.start, v.end, v.timezone)),
                ("Where", place),
                ("Link officer", v.officer),
            ]
        ),
    ]
    if v.kind == "remind_7d":
        body.append(_text("To prepare, please bring:", weight="Bolder"))
        body.extend(_text(f"- {item}") for item in CHECKLIST)
    if v.kind in ("remind_1d", "remind_7d"):
        body.append(
            _text(
                "A senior leader is expected to attend. If they can't, say "
                "**senior leader unavailable** and we will offer other times."
            )
        )
    actions = (
        [{"type": "Action.OpenUrl", "title": "Join on Teams", "url": v.join_url}] if v.join_url else None
    )
    return _card(body, actions)


@dataclass(frozen=True)
class BookInviteView:
    """An invitation to book this term's TSM: the start-of-term nudge, the chaser, an officer's "invite"."""

    heading: str
    text: str
    school: str
    officer: str


def book_invite(v: BookInviteView) -> dict[str, Any]:
    """The Book button (in an email: the sign-in link to the web page, which opens the same booking)."""
    return _card(
        [
            _text(v.heading, weight="Bolder", size="Medium"),
            _text(v.text),
            _facts([("School", v.school), ("Link officer", v.officer)]),
        ],
        [_execute("Book a TSM", "book.start", {})],
    )


def reminder_text(v: ReminderView) -> str:
    what = ("TSM moved" if v.moved else "TSM booked") if v.kind == "confirm" else _lead(v)[1]
    return f"{what}: {v.school}, {when(v.start, v.end, v.timezone)}"


@dataclass(frozen=True)
class AgendaItem:
    start: datetime
    end: datetime
    school: str
    mode: str
    place: str


@dataclass(frozen=True)
class AgendaView:
    day: str
    timezone: str
    items: tuple[AgendaItem, ...]


def agenda(v: AgendaView) -> dict[str, Any]:
    body = [_text(f"Your TSMs on {v.day}", weight="Bolder", size="Medium")]
    z = ZoneInfo(v.timezone)
    for it in v.items:
        body.append(
            _facts(
                [
                    ("Time", times_text(it.start, it.end, z)),
                    ("School", it.school),
                    ("Where", "Microsoft Teams" if it.mode == "teams" else it.place),
                ]
            )
        )
    return _card(body)


@dataclass(frozen=True)
class UnbookedSchool:
    school_id: int
    name: str
    why: str
    # What the school was last sent about it this term ("invited Monday 7 September", "reminded Monday 28 September"),
    # or "" when nothing was: the officer sees whom the bot has chased and whom they must call.
    status: str = ""


@dataclass(frozen=True)
class UnbookedView:
    term: str
    schools: tuple[UnbookedSchool, ...]
    note: str = ""  # under the heading: why today (e.g. "Schools that book themselves were reminded today.")


UNBOOKED_ROWS = 20  # schools listed on the card; the rest are in "my schools"


def unbooked(v: UnbookedView) -> dict[str, Any]:
    """The officer's digest of their schools with no TSM this term (one card, each school once): a short row per
    school, then the schools as one choice and what to do with the one chosen (offer it times, book for it)."""
    n = len(v.schools)
    body = [
        _text(
            f"{n} of your schools {'has' if n == 1 else 'have'} no TSM in the {v.term}",
            weight="Bolder",
            size="Medium",
        )
    ]
    if v.note:
        body.append(_text(v.note, isSubtle=True))
    for sc in v.schools[:UNBOOKED_ROWS]:
        body.append(_text(f"**{sc.name}**: {sc.why}" + (f" ({sc.status})" if sc.status else "")))
    if n > UNBOOKED_ROWS:
        body.append(_text(f"…and {n - UNBOOKED_ROWS} more: say **my schools** for the full list."))
    if not v.schools:
        return _card(body)
    body.append(
        _pick(
            "schoolId",
            "School",
            [(short_school(sc.name), str(sc.school_id)) for sc in v.schools[:UNBOOKED_ROWS]],
            "Please choose a school.",
        )
    )
    return _card(
        body,
        [
            _execute("Offer times", "officer.offer_slots", {}, inputs=True, style="positive"),
            _execute("Book", "officer.pick_school", {}, inputs=True),
            _execute("My schools", "officer.schools", {}),
        ],
    )


@dataclass(frozen=True)
class NewsView:
    """What schools did while the officer was not reading (answers, bookings, moves, cancellations), each school
    once with its newest news: one message instead of one each, when several are waiting at once."""

    lines: tuple[str, ...]


NEWS_ROWS = 15


def school_news(v: NewsView) -> dict[str, Any]:
    n = len(v.lines)
    body = [
        _text(
            f"News from {n} of your schools" if n > 1 else "News from your schools",
            weight="Bolder",
            size="Medium",
        )
    ]
    body.extend(_text(f"- {line}") for line in v.lines[:NEWS_ROWS])
    if n > NEWS_ROWS:
        body.append(_text(f"…and {n - NEWS_ROWS} more: say **my week** or **my schools** for the rest."))
    return _card(
        body, [_execute("My week", "officer.week", {}), _execute("My schools", "officer.schools", {})]
    )


@dataclass(frozen=True)
class OfferSlot:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class OfferView:
    heading: str
    school: str
    school_id: int
    officer: str
    term: str
    mode: str
    timezone: str
    slots: tuple[OfferSlot, ...]
    can_pick: bool  # Kent: the officer proposes and the school accepts; Norfolk: either side picks
    # To the officer at the meeting's end: the meeting just recorded as held, which they can correct.
    held_meeting_id: int | None = None
    # Next term's TSM when it is already booked (its time in words): said and shown, no times offered.
    booked: str = ""


def next_tsm_offer(v: OfferView) -> dict[str, Any]:
    body = [_text(v.heading, weight="Bolder", size="Medium")]
    correction = []
    if v.held_meeting_id is not None:
        body.append(
            _text(
                f"The TSM with {v.school} that has just ended is recorded as held. If it did not take "
                "place, say so below.",
                isSubtle=True,
            )
        )
        correction.append(
            _execute("It didn't take place", "meeting.mark_no_show_start", {"meetingId": v.held_meeting_id})
        )
    if v.booked:
        body.append(
            _text(
                f"The {v.term} TSM for {v.school} with {v.officer} is already booked: {v.booked}. "
                "Nothing more to book for now."
            )
        )
        return _card(body, [_execute("My meetings", "meeting.list", {}), *correction])
    body.append(
        _text(
            f"Next TSM for {v.school} with {v.officer}, {v.term}, "
            f"{'on Teams' if v.mode == 'teams' else 'at school'}. These times are free in the officer's "
            "calendar:"
        )
    )
    if not v.slots:
        body.append(_text("No free times are left in that term yet: your link officer will be in touch."))
        return _card(body, correction or None)
    if not v.can_pick:
        body.extend(_text(f"- {when(sl.start, sl.end, v.timezone)}") for sl in v.slots[:5])
        return _card(body, correction or None)
    body.append(
        _pick(
            "start",
            "Time",
            [(when(sl.start, sl.end, v.timezone), sl.start.isoformat()) for sl in v.slots[:8]],
            "Please choose a time.",
        )
    )
    book = _execute(
        "Book this time",
        "offer.pick_slot",
        {"schoolId": v.school_id, "mode": v.mode},
        inputs=True,
        style="positive",
    )
    return _card(body, [book, *correction])


@dataclass(frozen=True)
class RebookView:
    meeting_id: int
    school: str
    officer: str
    start: datetime
    end: datetime
    timezone: str
    slots: tuple[OfferSlot, ...]


def leader_rebook(v: RebookView) -> dict[str, Any]:
    """The school said (or Outlook shows) its senior leader can't attend: other times in the same term."""
    body = [
        _text("Your senior leader can't attend: let's find another time", weight="Bolder", size="Medium"),
        _text(
            f"Your TSM with {v.officer} on {when(v.start, v.end, v.timezone)} needs a senior leader. "
            "These times in the same term are free; pick one to move the meeting. "
            f"{v.officer} has been told."
        ),
    ]
    if not v.slots:
        body.append(_text("No other free times are left this term: your link officer will contact you."))
        return _card(body)
    body.append(
        _pick(
            "start",
            "New time",
            [(when(sl.start, sl.end, v.timezone), sl.start.isoformat()) for sl in v.slots[:8]],
            "Please choose a time.",
        )
    )
    return _card(
        body,
        [
            _execute(
                "Move to this time",
                "meeting.move",
                {"meetingId": v.meeting_id},
                inputs=True,
                style="positive",
            )
        ],
    )


@dataclass(frozen=True)
class AccessRequestView:
    """Someone the bot does not know asked for access (issue 14, item 6): what Teams vouched for, and the LA's
    schools to add them to (the school of their tenant first, when it is registered for one)."""

    name: str  # as Teams gave it (shown as plain text; sent as typed with Add as contact)
    email: str
    tenant: str
    schools: tuple[tuple[str, str], ...]  # (name, URN)


ACCESS_ROLES = [
    ("Attendance lead", "attendance_lead"),
    ("Senior leader", "senior_leader"),
    ("Other staff", "other"),
]


def access_request(v: AccessRequestView) -> dict[str, Any]:
    """To the LA's admins: add the person as a school contact in two presses (their school, Add as contact)."""
    body = [
        _text("Someone asks for access", weight="Bolder", size="Medium"),
        _facts(
            [
                ("Name", plain(v.name) or "(not given)"),
                ("Email", plain(v.email)),
                ("Microsoft 365 tenant", v.tenant or "(not given)"),
            ]
        ),
        _text(
            "If they are school staff, add them as a contact of their school: the bot knows them the next time "
            "they write. If not, there is nothing to do.",
            isSubtle=True,
        ),
    ]
    if not v.schools:
        return _card(body)
    body.append(
        _pick("urn", "Their school", [(short_school(n), u) for n, u in v.schools], "Please choose a school.")
    )
    body.append(_pick("role", "Their role", ACCESS_ROLES, "Please choose a role."))
    return _card(
        body,
        [
            _execute(
                "Add as contact",
                "contact.add",
                {"name": v.name, "email": v.email},
                inputs=True,
                style="positive",
            )
        ],
    )
