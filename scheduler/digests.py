"""What piles up for one person goes as one message per kind, not one by one (issue 14, item 4).

Messages pile up when someone could not be reached for a while (they installed the app late, blocked it and came
back) or when a worker was down: the re-armed rows (``Jobs.late_installs``), the claims taken over from a dead worker
(``Jobs.retry_expired``) or a batch of events arrive together. Each batch of claims is sorted here before delivery:

- **newest only**: of an officer's agendas, of their unbooked-schools digests, and of a school contact's invitations
  to book (the start-of-term nudge, the chaser), only the newest is sent; the older ones are finished ``skipped``
  (``superseded``), never sent late. Each is composed when sent, from the database as it is then, so the newest says
  everything the older ones did.
- **one digest**: what schools did that an officer is told of (a booking, an acceptance, a move, a cancellation, a
  request to book, a senior leader who can't attend) goes, when two or more are waiting for the same officer, as one
  "news from your schools" card, each school once with its newest news (``cards.notifications.school_news``).

Exactly-once is the ledger's, as for every message: each row is claimed by one worker; a digest renews the lease of
every row it stands for right before the send and records the outcome on each (``delivery.send_as_one``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from cards import notifications as cards
from tsm.adapters.db.engine import Database
from tsm.adapters.db.history import DomainEvent
from tsm.adapters.db.meetings import MeetingSchool
from tsm.messaging import Message, Recipient
from tsm.notifications import KIND_PREFIX

from .ledger import Claim, Due

# What an officer is told that a school (or someone for it) did: one line each in the digest.
NEWS = frozenset(
    {
        *(
            KIND_PREFIX + k
            for k in (
                "school_booked",
                "booked_for_officer",
                "accepted",
                "moved",
                "cancelled",
                "leader_unavailable",
                "book_requested",
            )
        ),
        "leader_unavailable_officer",
        "leader_rebook_overdue",
    }
)
# Kinds of which only the newest of a pile is sent (kind -> family).
NEWEST_ONLY = {
    "agenda": "agenda",
    "unbooked": "unbooked",
    "unbooked_weekly": "unbooked",  # the weekly digest's kind before it became daily at most (ledger rows kept)
    "term_start": "nudge",
    "chaser": "nudge",
}


def family(due: Due) -> str | None:
    """The pile an item belongs to for its recipient (None: it goes on its own)."""
    if due.recipient.kind == "officer" and due.kind in NEWS:
        return "news"
    f = NEWEST_ONLY.get(due.kind)
    if f == "nudge":
        return f"nudge:{due.subject_id}"  # per school: a contact's invitation and chaser for one school
    return f


@dataclass
class Piles:
    singles: list[Claim] = field(default_factory=list)  # sent one by one, as before
    superseded: list[Claim] = field(default_factory=list)  # an older item of a newest-only kind: not sent
    news: list[list[Claim]] = field(default_factory=list)  # 2+ news items for one officer, oldest first


def sort(claims: Sequence[Claim]) -> Piles:
    """The batch's claims by recipient and family. "Newest" is the ledger row's order of creation (its id): an
    agenda, a digest or a chaser made later is about a later day or a later stage of the term."""
    out = Piles()
    groups: dict[tuple[Recipient, str], list[Claim]] = {}
    for c in claims:
        f = family(c.due)
        if f is None:
            out.singles.append(c)
        else:
            groups.setdefault((c.due.recipient, f), []).append(c)
    for (_, f), group in groups.items():
        group.sort(key=lambda c: c.id)
        if len(group) == 1:
            out.singles.append(group[0])
        elif f == "news":
            out.news.append(group)
        else:
            out.superseded.extend(group[:-1])
            out.singles.append(group[-1])
    return out


async def schools_of(db: Database, dues: Sequence[Due]) -> dict[Due, frozenset[int]]:
    """The schools each news item is about (its event's meeting's schools, or the event's school; a meeting's
    schools): the key of "newest news per school". Items about no school are left out (each then stands alone)."""
    event_ids = sorted({d.subject_id for d in dues if d.subject_kind == "event"})
    meeting_of: dict[int, int] = {}
    school_of: dict[int, int] = {}
    async with db.reader() as s:
        if event_ids:
            for eid, mid, sid in await s.exec(
                select(DomainEvent.id, DomainEvent.meeting_id, DomainEvent.school_id).where(
                    col(DomainEvent.id).in_(event_ids)
                )
            ):
                if eid is None:
                    continue
                if mid is not None:
                    meeting_of[eid] = mid
                elif sid is not None:
                    school_of[eid] = sid
        meeting_ids = sorted(
            {*meeting_of.values(), *(d.subject_id for d in dues if d.subject_kind == "meeting")}
        )
        schools: dict[int, set[int]] = {}
        if meeting_ids:
            for mid, sid in await s.exec(
                select(MeetingSchool.meeting_id, MeetingSchool.school_id).where(
                    col(MeetingSchool.meeting_id).in_(meeting_ids)
                )
            ):
                schools.setdefault(mid, set()).add(sid)
    out: dict[Due, frozenset[int]] = {}
    for d in dues:
        if d.subject_kind == "meeting":
            ids = schools.get(d.subject_id, set())
        elif d.subject_id in meeting_of:
            ids = schools.get(meeting_of[d.subject_id], set())
        else:
            ids = {school_of[d.subject_id]} if d.subject_id in school_of else set()
        if ids:
            out[d] = frozenset(ids)
    return out


def newest_per_school(
    composed: Sequence[tuple[Claim, Message]], schools: dict[Due, frozenset[int]]
) -> tuple[list[tuple[Claim, Message]], list[Claim]]:
    """(kept, superseded): for each school the newest message (items oldest first), the rest superseded."""
    newest: dict[object, tuple[Claim, Message]] = {}
    superseded: list[Claim] = []
    for c, m in sorted(composed, key=lambda cm: cm[0].id):
        key: object = schools.get(c.due) or ("item", c.id)
        if key in newest:
            superseded.append(newest[key][0])
        newest[key] = (c, m)
    return sorted(newest.values(), key=lambda cm: cm[0].id), superseded


def news_message(messages: Sequence[Message]) -> Message:
    """One message for several: the one itself when alone, else the digest card."""
    if len(messages) == 1:
        return messages[0]
    view = cards.NewsView(tuple(m.text for m in messages))
    return Message(f"News from {len(messages)} of your schools", cards.school_news(view))
