"""Teams' meetingEnd event, for the transport to call: find our meeting, then end it once.

The bot receives ``application/vnd.microsoft.meetingEnd`` (an ``event`` activity) only when the app is in the
meeting's chat, someone actually joined, and not always even then; the scheduler's timer ends every meeting
anyway (``Jobs.meeting_ends``). Both paths claim the same ledger gate, so together they make one next-TSM
offer and one evaluation request, never two.

The transport does not import this module: the composition root gives the bot a ``meeting_ended`` port made by
:func:`meeting_end_handler` (over the in-process scheduler's jobs when it runs one), which the bot calls as::

    outcome = await meeting_ended(join_url=activity.value.get("JoinUrl"),
                                  teams_meeting_id=(activity.channel_data or {}).get("meeting", {}).get("id"))

and may ignore the outcome (it is for logs and tests). Matching needs no stored Teams id: a Teams join URL
carries the meeting chat's thread id (``19:meeting_...@thread.v2``, URL-encoded) and the ``channelData.meeting.id``
of a meeting event is that same thread id, base64-encoded (``0#19:meeting_...@thread.v2#0``). So the
meeting is found by its join URL, or by the thread id from either the URL or the Teams meeting id.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from sqlalchemy import func, or_
from sqlmodel import col, select

from tsm.adapters.db.meetings import Meeting

from .jobs import ENDABLE, Jobs, SweepResult
from .service import build_jobs

if TYPE_CHECKING:
    from tsm.bootstrap import App
    from tsm.messaging import MessengerPort

log = logging.getLogger(__name__)

THREAD = re.compile(r"19:meeting_[A-Za-z0-9_\-=+/]+@thread\.v2", re.IGNORECASE)
LOOKBACK = timedelta(days=2)  # how long before the event a matching meeting may have started


@dataclass(frozen=True)
class MeetingEndOutcome:
    meeting_id: int | None
    status: str  # ended | already_handled | unknown_meeting | no_identifier
    result: SweepResult = field(default_factory=SweepResult)


def thread_id(join_url: str | None = None, teams_meeting_id: str | None = None) -> str | None:
    """The meeting chat's thread id from a join URL (URL-encoded, possibly twice) or a Teams meeting id
    (base64 of ``0#<thread>#0``, or the thread id itself)."""
    for text in _candidates(join_url, teams_meeting_id):
        found = THREAD.search(text)
        if found:
            return found.group(0)
    return None


def _candidates(join_url: str | None, teams_meeting_id: str | None):
    if join_url:
        yield unquote(unquote(join_url))
    if teams_meeting_id:
        yield teams_meeting_id
        raw = teams_meeting_id.strip()
        try:
            yield base64.b64decode(raw + "=" * (-len(raw) % 4), validate=False).decode("utf-8", "ignore")
        except (binascii.Error, ValueError):
            pass


async def find_meeting(
    jobs: Jobs, *, join_url: str | None = None, teams_meeting_id: str | None = None
) -> int | None:
    """Our meeting behind a Teams meeting: the one with this join URL (or whose join URL holds the same meeting
    chat), started by now and at most two days ago, not cancelled; the latest if several."""
    thread = thread_id(join_url, teams_meeting_id)
    if not join_url and not thread:
        return None
    now = jobs.clock()
    match = []
    if join_url:
        match.append(Meeting.join_url == join_url.strip())
    if thread:  # a cheap pre-filter (case-insensitive on the encoded id); confirmed exactly below
        match.append(func.lower(Meeting.join_url).contains(quote(thread, safe="").lower(), autoescape=True))
        match.append(func.lower(Meeting.join_url).contains(thread.lower(), autoescape=True))
    async with jobs.db.reader() as s:
        rows = list(
            await s.exec(
                select(Meeting.id, Meeting.join_url, Meeting.start)
                .where(
                    col(Meeting.join_url).is_not(None),
                    col(Meeting.status).in_(ENDABLE),
                    Meeting.start <= now,
                    Meeting.start > now - LOOKBACK,
                    or_(*match),
                )
                .order_by(col(Meeting.start).desc())
            )
        )
    for mid, url, _ in rows:
        if (join_url and url == join_url.strip()) or (thread and thread_id(url) == thread):
            return mid
    return None


async def teams_meeting_ended(
    app: App,
    messenger: MessengerPort,
    *,
    join_url: str | None = None,
    teams_meeting_id: str | None = None,
    jobs: Jobs | None = None,
) -> MeetingEndOutcome:
    """Handle Teams' meetingEnd for the meeting with this join URL or Teams meeting id: mark it held, offer
    next term's TSM to both sides and send the school the evaluation card, once (see the module docstring).

    ``jobs`` may be a running :class:`~scheduler.service.SchedulerService`'s ``jobs``; without it, a Jobs
    object is built for this call from ``app`` and ``messenger`` (cheap: no scheduler is started).
    """
    if not join_url and not teams_meeting_id:
        return MeetingEndOutcome(None, "no_identifier")
    if jobs is None:
        jobs = build_jobs(app, messenger)
    meeting_id = await find_meeting(jobs, join_url=join_url, teams_meeting_id=teams_meeting_id)
    if meeting_id is None:
        log.info("meetingEnd for a Teams meeting that is not a current TSM: ignored")
        return MeetingEndOutcome(None, "unknown_meeting")
    result = await jobs.on_meeting_end(meeting_id, source="teams")
    return MeetingEndOutcome(meeting_id, "ended" if result.claimed else "already_handled", result)


def meeting_end_handler(
    app: App, messenger: MessengerPort, jobs: Jobs
) -> Callable[..., Awaitable[MeetingEndOutcome]]:
    """The bot's ``meeting_ended`` port (``bot.handler.MeetingEnded``) over ``jobs``: the in-process scheduler's,
    or ones the composition root built for the bot when the scheduler runs elsewhere."""

    async def meeting_ended(
        *, join_url: str | None = None, teams_meeting_id: str | None = None
    ) -> MeetingEndOutcome:
        return await teams_meeting_ended(
            app, messenger, join_url=join_url, teams_meeting_id=teams_meeting_id, jobs=jobs
        )

    return meeting_ended
