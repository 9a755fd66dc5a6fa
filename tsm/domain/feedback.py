"""What comes out of a TSM, as plain rules: evaluation ratings, the TSM record's figures and actions,
small-number suppression, the pupil-data warning, and the report aggregations.

No database, no event loop: services call these, and tests call them directly.

Design decisions (documented here because the brief left them open):

- **Ratings** are whole numbers 1–5 on four questions (Kent's evaluation form): usefulness, working
  together, clarity of agreed actions, overall. All four are required; the comment is optional.
- **Suppression**: any count under 5 (0 included) is shown as ``"<5"`` wherever a count is displayed or
  exported (:func:`show_count`). Exact values are stored as the school entered them, only so the school
  can correct a typo; they never leave the service unsuppressed, and they are purged with the record.
- **Pupil data warning** (:func:`find_pupil_data`): a heuristic, deliberately cautious (a false alarm
  costs one click, a missed name costs a data breach). It flags
    * a UPN: one letter followed by 12 digits (``A123456789012``), or the temporary form with a
      letter at the end (``A12345678901B``); case-insensitive, on word boundaries;
    * a date of birth: ``DOB``/``D.O.B.``/``born``/``date of birth`` followed by a date;
    * a likely name: a run of two or more Capitalised words (``Jane Smith``, ``Amy-Rose O'Neill``),
      or a title followed by one (``Mrs Smith``), in which at least one word is not an allowed word.
      Allowed words are a fixed vocabulary of attendance and school terms, services, days, months and
      capitalised sentence starters, plus every word of the school's name(s) and of the staff names
      the caller passes (the school's contacts and the officers). Allowed words at either end of a run
      are trimmed first ("Contact Jane Smith" flags "Jane Smith"; "Early Help Panel" flags nothing).
  It cannot know every pupil's name and will sometimes flag a club or a place: the user confirms
  ("these are not pupils") or edits, and a confirmation covers only the exact phrases it was shown.
- **Coverage** of a school in a term is one of: ``held`` (a meeting in the term was held), ``booked``
  (an active meeting not yet held), ``no_show``, ``cancelled`` (meetings in the term, none active or
  held; the most recent decides between these two), ``offered`` (no meeting, but the school was sent an
  invitation to book that term), ``not_booked``. The first that applies wins, in that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import InvalidInput
from .text import clean_text

# ---------------------------------------------------------------------- evaluation ratings

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("usefulness", "How useful was the meeting for your school?"),
    ("working_together", "How well did the school and the LA work together?"),
    ("clarity", "How clear are the actions you agreed?"),
    ("overall", "Overall, how would you rate this TSM?"),
)
QUESTION_KEYS = tuple(k for k, _ in QUESTIONS)
SHORT_LABELS = {
    "usefulness": "Usefulness",
    "working_together": "Working together",
    "clarity": "Clarity of actions",
    "overall": "Overall",
}
SCALE = {1: "1 Poor", 2: "2 Fair", 3: "3 Good", 4: "4 Very good", 5: "5 Excellent"}
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Ratings:
    usefulness: int
    working_together: int
    clarity: int
    overall: int

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in QUESTION_KEYS}


def parse_rating(value: Any, label: str) -> int:
    """A rating 1–5 from untrusted input (an int or a digit string); a clear error otherwise."""
    if isinstance(value, bool):
        raise InvalidInput(f"Please rate “{label}” from 1 to 5.")
    if isinstance(value, str) and re.fullmatch(r"\s*[1-5]\s*", value):
        value = int(value)
    if isinstance(value, int) and 1 <= value <= 5:
        return value
    if value is None or value == "":
        raise InvalidInput(f"Please rate “{label}” (1 to 5).")
    raise InvalidInput(f"Please rate “{label}” from 1 to 5.")


def parse_ratings(raw: Mapping[str, Any]) -> Ratings:
    return Ratings(**{k: parse_rating(raw.get(k), label) for k, label in QUESTIONS})


def parse_flag(value: Any) -> bool:
    """A toggle from a card: Adaptive Cards send "true"/"false" strings."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on")


# ---------------------------------------------------------------------- suppression

SMALL = 5


def show_count(n: int | None) -> str:
    """How a count is shown or exported: blank when not given, "<5" under 5, else the number."""
    if n is None:
        return ""
    return "<5" if n < SMALL else str(n)


# ---------------------------------------------------------------------- the TSM record

COHORTS: tuple[tuple[str, str], ...] = (
    ("sen", "SEN"),
    ("fsm", "FSM"),
    ("eal", "EAL"),
    ("grt", "GRT"),
)
MAX_COUNT = 100_000
MAX_NOTES = 2000
MAX_ACTION = 500
MAX_ACTIONS = 8


class ActionOwner(StrEnum):
    SCHOOL = "school"
    LA = "la"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"school": "School", "la": "LA", "other": "Other service"}[self.value]


@dataclass(frozen=True)
class Figures:
    attendance_pct: float | None = None
    pa: int | None = None
    sa: int | None = None
    cohorts: tuple[tuple[str, int | None], ...] = ()  # (key, count) for sen, fsm, eal, grt

    def cohort(self, key: str) -> int | None:
        return dict(self.cohorts).get(key)


@dataclass(frozen=True)
class ActionDraft:
    text: str
    owner: ActionOwner
    due: date
    owner_detail: str = ""  # the other service's name, when owner is "other"


def parse_pct(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidInput("Overall attendance must be a percentage between 0 and 100.")
    try:
        pct = float(str(value).strip().rstrip("%"))
    except ValueError:
        raise InvalidInput("Overall attendance must be a percentage between 0 and 100, e.g. 93.4.") from None
    if not 0 <= pct <= 100:
        raise InvalidInput("Overall attendance must be a percentage between 0 and 100, e.g. 93.4.")
    return round(pct, 1)


def parse_count(value: Any, label: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{label} must be a whole number.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        value = int(value)
    if not isinstance(value, int) or value < 0 or value > MAX_COUNT:
        raise InvalidInput(f"{label} must be a whole number (0 or more).")
    return value


def parse_figures(raw: Mapping[str, Any]) -> Figures:
    pa = parse_count(raw.get("pa"), "The persistent absence (PA) count")
    sa = parse_count(raw.get("sa"), "The severe absence (SA) count")
    if pa is not None and sa is not None and sa > pa:
        raise InvalidInput(
            "The severe absence count cannot be more than the persistent absence count "
            "(severely absent pupils are persistently absent too)."
        )
    cohorts = tuple((k, parse_count(raw.get(k), f"The {label} count")) for k, label in COHORTS)
    return Figures(parse_pct(raw.get("attendance_pct")), pa, sa, cohorts)


def parse_due(value: Any, label: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"Please give a due date for {label}.")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise InvalidInput(f"The due date for {label} is not a date (YYYY-MM-DD).") from None


def parse_actions(
    raw: Mapping[str, Any], *, meeting_day: date, slots: int = MAX_ACTIONS
) -> list[ActionDraft]:
    """Actions from a card's numbered fields ``action{i}_text/_owner/_detail/_due``; empty rows are skipped."""
    out: list[ActionDraft] = []
    for i in range(1, slots + 1):
        text = clean_text(raw.get(f"action{i}_text"), label=f"action {i}", max_len=MAX_ACTION)
        if not text:
            continue
        owner_raw = raw.get(f"action{i}_owner") or ""
        try:
            owner = ActionOwner(str(owner_raw).strip().lower())
        except ValueError:
            raise InvalidInput(f"Please choose who owns action {i}: school, LA or another service.") from None
        detail = clean_text(raw.get(f"action{i}_detail"), label=f"the service for action {i}", max_len=120)
        if owner is ActionOwner.OTHER and not detail:
            raise InvalidInput(f"Action {i} is owned by another service: please say which one.")
        due = parse_due(raw.get(f"action{i}_due"), f"action {i}")
        if due < meeting_day:
            raise InvalidInput(f"Action {i} is due before the meeting itself: please check its date.")
        if due > meeting_day + timedelta(days=400):
            raise InvalidInput(f"Action {i} is due more than a year ahead: please check its date.")
        out.append(ActionDraft(text, owner, due, detail if owner is ActionOwner.OTHER else ""))
    return out


def action_reminder_due(
    *, due: date, today: date, done: bool, next_tsm: date | None, lead_days: int = 7
) -> bool:
    """An open action due before the school's next TSM (or with no next TSM booked) is reminded to its
    owner from ``lead_days`` before its due date on; after the next TSM it is that meeting's business."""
    if done:
        return False
    if next_tsm is not None and due >= next_tsm:
        return False
    return today >= due - timedelta(days=lead_days)


# ---------------------------------------------------------------------- pupil data in free text

_UPN = re.compile(r"\b[A-Za-z]\d{12}\b|\b[A-Za-z]\d{11}[A-Za-z]\b")
_DOB = re.compile(
    r"\b(?:d\.?o\.?b\.?|born|date of birth)\s*:?\s*(?:on\s+)?"
    r"(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\s+\d{4})",
    re.IGNORECASE,
)
_WORD = r"[A-Z][a-z]+(?:['’-][A-Za-z][a-z]+)*|[A-Z]['’][A-Z][a-z]+"
_TITLE_RUN = re.compile(
    rf"(?<![\w'’-])(?:{_WORD})(?:\s+(?:{_WORD}))+(?:(?=['’]s\b)|(?![\w'’]))"
)  # "Jo Bloggs's"
_TITLED = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Master)\.?\s+({_WORD})")

# Capitalised words that are not names in a TSM's context. Lower-cased; compared lower-cased.
ALLOWED_WORDS = frozenset(
    """
a an and the of for to in on at by with from into after before about as or but if then so not no all any
our their his her its this that these those we they he she it you i me my your us them there here when where
who what which how why while until each every some most more less many few other others new next last first
second third week weeks month months term terms half year years day days today tomorrow yesterday
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december autumn spring summer christmas easter
school schools academy academies trust college primary secondary infant infants junior juniors nursery
reception sixth form year years key stage ks1 ks2 ks3 ks4 class classes group groups pupil pupils student
students child children parent parents carer carers family families staff head headteacher teacher teachers
deputy assistant senior leader leaders leadership team slt governor governors governing board trustee
attendance absence absent persistent persistently severe severely lead officer officers link support
targeting meeting meetings tsm tsms plan plans action actions review reviews panel panels policy policies
register registers data report reports letter letters contract contracts notice notices penalty fixed
warning warnings referral referrals early help social care services service health nhs camhs sen send
senco sendco ehcp ehc fsm eal grt pp pupil premium inclusion pastoral welfare safeguarding dsl designated
education local authority la council county county's department dfe ofsted government kent norfolk
pias piat ews education welfare attendance team sast youth justice police virtual school the looked after
cla cin cp lac mash front door digital kelsi agreed agree agreement follow up update updates check send
share shared contact contacts call calls email emails visit visits home visits walk bus transport taxi
breakfast club clubs after-school homework sports mental wellbeing anxiety emotionally based avoidance ebsa
medical evidence illness holiday holidays term-time unauthorised authorised code codes session sessions
morning afternoon am pm monthly weekly daily termly annual strategy approach network networks training
whole trend trends cohort cohorts target targets rate rates figure figures percentage overall national
average mis sims arbor bromcom scomis excel teams microsoft outlook please note action point points yes
discuss discussed discussion consider considered continue continued monitor monitoring monitored
review reviewed set setting arrange arranged invite invited provide provided offer offered refer referred
escalate escalated write written phone phoned meet met attend attended attending next steps step
mr mrs ms miss mx dr sir
""".split()
)


@dataclass(frozen=True)
class Finding:
    kind: str  # upn | dob | name
    text: str

    @property
    def label(self) -> str:
        return {
            "upn": "looks like a UPN",
            "dob": "looks like a date of birth",
            "name": "looks like a person's name",
        }[self.kind]


def allowed_from_names(names: Iterable[str]) -> frozenset[str]:
    """Words of school and staff names, lower-cased, to extend the allowed words."""
    words: set[str] = set()
    for n in names:
        for w in re.split(r"[\s,()&/]+", n or ""):
            w = w.strip(".'’").lower()
            if w:
                words.add(w)
                words.update(p for p in re.split(r"[-'’]", w) if p)
    return frozenset(words)


def find_pupil_data(text: str, *, allowed: Iterable[str] = ()) -> list[Finding]:
    """Phrases in ``text`` that look like pupil identifiers (see the module docstring for the rule)."""
    if not text:
        return []
    ok = ALLOWED_WORDS | {w.lower() for w in allowed}
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()

    def add(kind: str, phrase: str) -> None:
        key = (kind, phrase)
        if key not in seen:
            seen.add(key)
            found.append(Finding(kind, phrase))

    for m in _UPN.finditer(text):
        add("upn", m.group(0))
    for m in _DOB.finditer(text):
        add("dob", m.group(0))
    for m in _TITLED.finditer(text):
        if not _allowed_word(m.group(1), ok):
            add("name", m.group(0))
    for m in _TITLE_RUN.finditer(text):
        words = m.group(0).split()
        # Trim allowed words at both ends ("Contact Jane Smith Today" -> "Jane Smith"); what is left is a
        # likely name when it still has two or more words and one of them is not an allowed word.
        i, j = 0, len(words)
        while i < j and _allowed_word(words[i], ok):
            i += 1
        while (
            j > i and _allowed_word(words[j - 1], ok)
        ):  # equivalent-mutant[compare]: j meets i only when every word is allowed: nothing is left either way
            j -= 1
        core = words[i:j]
        if len(core) >= 2:
            add("name", " ".join(core))
    return found


def _allowed_word(word: str, ok: frozenset[str] | set[str]) -> bool:
    w = word.lower().strip(".,;:!?")
    if w in ok:
        return True
    parts = [p for p in re.split(r"[-'’]", w) if p]
    return bool(parts) and all(p in ok for p in parts)


def unacknowledged(findings: Sequence[Finding], acknowledged: Iterable[str]) -> list[Finding]:
    """Findings the user has not confirmed as "not pupil data" (a confirmation covers exact phrases only)."""
    ack = {a.strip() for a in acknowledged if isinstance(a, str)}
    return [f for f in findings if f.text not in ack]


# ---------------------------------------------------------------------- coverage report


class Coverage(StrEnum):
    HELD = "held"
    # a school that may book one TSM a year, with none this term, whose TSM this academic year was held in an
    # earlier term: covered for the year (not "not booked", which would lump it with one that missed it)
    HELD_THIS_YEAR = "held_this_year"
    BOOKED = "booked"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    OFFERED = "offered"
    NOT_BOOKED = "not_booked"

    @property
    def label(self) -> str:
        return {
            "held": "Held",
            "held_this_year": "Held this year",
            "booked": "Booked",
            "no_show": "No-show",
            "cancelled": "Cancelled",
            "offered": "Offered, not booked",
            "not_booked": "Not booked",
        }[self.value]


COVERAGE_ORDER = tuple(Coverage)


@dataclass(frozen=True)
class TermMeeting:
    """One meeting of a school in the term (what coverage needs of it)."""

    status: str  # booked | moved | held | cancelled | no_show
    start: datetime
    updated_at: datetime


def coverage_of(
    meetings: Sequence[TermMeeting], *, offered: bool, held_this_year: TermMeeting | None = None
) -> tuple[Coverage, TermMeeting | None]:
    """A school's coverage in a term, and the meeting that decided it (None when there is none).
    ``held_this_year``: for a school that needs one TSM a year, its TSM held in an earlier term of the year."""
    held = [m for m in meetings if m.status == "held"]
    if held:
        return Coverage.HELD, max(held, key=lambda m: m.start)
    active = [m for m in meetings if m.status in ("booked", "moved")]
    if active:
        return Coverage.BOOKED, max(active, key=lambda m: m.start)
    if held_this_year is not None:
        return Coverage.HELD_THIS_YEAR, held_this_year
    gone = [m for m in meetings if m.status in ("cancelled", "no_show")]
    if gone:
        last = max(gone, key=lambda m: (m.updated_at, m.start))
        return (Coverage.NO_SHOW if last.status == "no_show" else Coverage.CANCELLED), last
    return (Coverage.OFFERED if offered else Coverage.NOT_BOOKED), None


@dataclass(frozen=True)
class CoverageRow:
    urn: int
    school: str
    officer: str
    status: Coverage
    meeting_start: datetime | None = None
    attendance_pct: float | None = None
    pa: int | None = None
    sa: int | None = None
    # the meeting that decided the status is a joint TSM (issue 13, item 7): the other schools in it, by name
    joint_with: tuple[str, ...] = ()

    @property
    def status_words(self) -> str:
        """The status as the report says it: "booked", or "booked (joint) with A, B" for a joint TSM."""
        words = self.status.label.lower()
        return f"{words} (joint) with {', '.join(self.joint_with)}" if self.joint_with else words


@dataclass
class CoverageTally:
    officer: str
    counts: dict[Coverage, int] = field(default_factory=lambda: {c: 0 for c in COVERAGE_ORDER})

    @property
    def schools(self) -> int:
        return sum(self.counts.values())

    @property
    def held_pct(self) -> float:
        return round(100.0 * self.counts[Coverage.HELD] / self.schools, 1) if self.schools else 0.0

    @property
    def covered_pct(self) -> float:
        """Held or booked: the schools that have (or will have had) this term's TSM, or this year's one when one a
        year is what the LA asks of them."""
        n = self.counts[Coverage.HELD] + self.counts[Coverage.BOOKED] + self.counts[Coverage.HELD_THIS_YEAR]
        return round(100.0 * n / self.schools, 1) if self.schools else 0.0


LA_TOTAL = "All officers (LA)"


def tally_coverage(rows: Sequence[CoverageRow]) -> list[CoverageTally]:
    """One tally per officer (sorted by name) then the LA's total, last."""
    per: dict[str, CoverageTally] = {}
    total = CoverageTally(LA_TOTAL)
    for r in rows:
        per.setdefault(r.officer, CoverageTally(r.officer)).counts[r.status] += 1
        total.counts[r.status] += 1
    return [per[k] for k in sorted(per)] + [total]


# ---------------------------------------------------------------------- evaluation summary


@dataclass(frozen=True)
class Answer:
    officer: str
    ratings: Ratings
    comment: str = ""
    author: str | None = None  # None when anonymous
    school: str = ""


@dataclass(frozen=True)
class EvaluationSummary:
    officer: str
    answers: int
    meetings_held: int
    means: dict[str, float | None]
    distribution: dict[str, dict[int, int]]


def summarise_evaluations(
    answers: Sequence[Answer], *, held_by_officer: Mapping[str, int]
) -> list[EvaluationSummary]:
    """Per officer (sorted), then the LA ("All officers (LA)") last: number of answers, mean of each
    question to 2 decimals (None without answers) and the count of each rating 1–5."""
    officers = sorted(set(held_by_officer) | {a.officer for a in answers})
    out = []
    for name in [*officers, LA_TOTAL]:
        mine = [a for a in answers if name == LA_TOTAL or a.officer == name]
        held = sum(held_by_officer.values()) if name == LA_TOTAL else held_by_officer.get(name, 0)
        means: dict[str, float | None] = {}
        dist: dict[str, dict[int, int]] = {}
        for k in QUESTION_KEYS:
            values = [getattr(a.ratings, k) for a in mine]
            means[k] = round(sum(values) / len(values), 2) if values else None
            dist[k] = {r: values.count(r) for r in range(1, 6)}
        out.append(EvaluationSummary(name, len(mine), held, means, dist))
    return out


# ---------------------------------------------------------------------- retention


def retention_cutoff(now: datetime, days: int) -> datetime:
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    return now - timedelta(days=days)
