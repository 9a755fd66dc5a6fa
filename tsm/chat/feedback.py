"""What comes out of a TSM, in chat: the evaluation (school staff), the TSM record (school and officer),
open actions, and reports (officers and LA managers).

Commands: ``feedback`` / ``evaluate`` (school staff), ``record [meeting id]``, ``actions``,
``report [coverage|evaluations|actions] [term]`` (officers, admins).
Verbs: ``eval.submit``, ``record.edit``, ``record.save``, ``record.action_done``, ``report.show``, ``report.csv``.
Every handler re-checks the sender's right through the services (own school's meetings / own schools / all).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from cards import evaluation as eval_cards
from cards import record as record_cards
from cards import report as report_cards
from cards.notifications import with_errors

from ..domain.errors import InvalidInput
from ..domain.feedback import MAX_COMMENT, QUESTIONS, parse_flag, parse_rating
from ..domain.text import day_text
from ..services import reports as rep
from .router import MAX_ID, ChatContext, Reply, Router, field_int

SCHOOL = ("contact",)
OFFICERS = ("officer", "admin")
EVERYONE = ("contact", "officer", "admin")
KINDS = ("coverage", "evaluations", "actions")


def _meeting_arg(args: str) -> int | None:
    words = (args or "").replace("#", " ").split()
    if not words:
        return None
    if words[0].isascii() and words[0].isdigit() and int(words[0]) <= MAX_ID:
        return int(words[0])
    raise InvalidInput("Say just **record** for your latest TSM's record.")


# ---------------------------------------------------------------------- evaluation


async def feedback(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    svc = ctx.services.evaluations
    meeting_id = _meeting_arg(data.get("args", "")) or await svc.latest_meeting(ctx.actor)
    if meeting_id is None:
        return Reply(
            text="Your school has no past TSM to give feedback on yet. Say **my meetings** to see the "
            "coming one."
        )
    view = await svc.view_for(ctx.actor, meeting_id)
    return Reply(card=eval_cards.evaluation_card(view))


async def eval_submit(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    meeting_id = field_int(data, "meetingId", label="the meeting")
    token = data.get("editToken") if isinstance(data.get("editToken"), str) else None
    try:
        view = await ctx.services.evaluations.submit(ctx.actor, meeting_id, data, edit_token=token)
    except InvalidInput as exc:
        return await _evaluation_again(ctx, meeting_id, token, data, exc)
    # The card thanks them ("Thank you: your answer is saved."): one thank-you per submission, not a second in text.
    return Reply(card=eval_cards.evaluation_card(view))


async def _evaluation_again(
    ctx: ChatContext, meeting_id: int, token: str | None, data: dict[str, Any], exc: InvalidInput
) -> Reply:
    """A refused answer: the same evaluation card with what the person chose and wrote, each missing rating's
    message under it, and its button (never one red line)."""
    view = await ctx.services.evaluations.view_for(ctx.actor, meeting_id, edit_token=token)
    ratings: dict[str, int] = {}
    errors: dict[str, str] = {}
    for key, label in QUESTIONS:
        try:
            ratings[key] = parse_rating(data.get(key), label)
        except InvalidInput as bad:
            errors[key] = str(bad)
    if not errors:  # the ratings were fine: the comments were refused (a pupil's name, UPN...)
        errors["comments" if "comment" in str(exc).lower() else "_"] = str(exc)
    typed = data.get("comments")
    comments = typed if isinstance(typed, str) else ""
    entered = replace(
        view,
        ratings=ratings or view.ratings,
        comments=comments[:MAX_COMMENT],
        anonymous=parse_flag(data.get("anonymous")),
    )
    return Reply(text=str(exc), card=with_errors(eval_cards.evaluation_card(entered), errors), error=True)


# ---------------------------------------------------------------------- the TSM record


async def record(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    svc = ctx.services.records
    meeting_id = _meeting_arg(data.get("args", ""))
    if meeting_id is None:
        meeting_id = await svc.latest_meeting(ctx.actor)
    if meeting_id is None:
        return Reply(
            text="There is no TSM that has started yet to write a record for. The record opens at the "
            "meeting. Say **my meetings** to see the coming ones."
        )
    return Reply(card=record_cards.record_card(await svc.view(ctx.actor, meeting_id)))


async def record_edit(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    meeting_id = field_int(data, "meetingId", label="the meeting")
    view = await ctx.services.records.view(ctx.actor, meeting_id)
    return Reply(card=record_cards.record_form(view))


def _ack(data: dict[str, Any]) -> list[str]:
    if data.get("confirm") not in (True, "true"):
        return []
    raw = data.get("ack")
    if not isinstance(raw, list):
        return []
    return [a for a in raw[:50] if isinstance(a, str) and len(a) <= 300]


async def record_save(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    meeting_id = field_int(data, "meetingId", label="the meeting")
    outcome = await ctx.services.records.save(ctx.actor, meeting_id, data, acknowledged=_ack(data))
    if not outcome.saved:
        return Reply(
            text="Nothing is saved yet: some text may be about individual pupils. Please check it.",
            card=record_cards.record_form(outcome.view, draft=outcome.draft, findings=outcome.findings),
        )
    v = outcome.view
    # The other side is told through the record_saved event (tsm.notifications).
    return Reply(text="The TSM record is saved.", card=record_cards.record_card(v))


async def action_done(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    action_id = field_int(data, "actionId", label="the action")
    view = await ctx.services.records.set_action_done(ctx.actor, action_id, True)
    return Reply(text="Marked done.", card=record_cards.record_card(view))


async def open_actions(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    rows = await ctx.services.records.open_actions(ctx.actor)
    if not rows:
        return Reply(text="No open actions from your TSMs. Say **record** to see the latest TSM record.")
    year = ctx.clock().astimezone(ctx.tz).year
    # The TSM an action came from by its date, never by its id (issue 14, item 7c); dates as text.py writes them.
    lines = [
        f"- **{a.school}**: {a.text} ({a.owner}, due {day_text(a.due, year=a.due.year != year)}; from the TSM "
        f"on {day_text(a.meeting_start, ctx.tz, year=a.meeting_start.astimezone(ctx.tz).year != year)})"
        for a in rows
    ]
    body = [
        eval_cards.text(f"Open actions ({len(rows)})", weight="Bolder", size="Medium"),
        *[eval_cards.text(line, size="Small") for line in lines[:25]],
    ]
    buttons = [
        eval_cards.execute(f"Done: {a.text[:28]}", "record.action_done", {"actionId": a.action_id})
        for a in rows[:4]
    ]
    return Reply(card=eval_cards.card(body, buttons))


# ---------------------------------------------------------------------- reports


async def report(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    words = (data.get("args") or "").split()
    if words and words[0].lower() in KINDS:
        return await _show(ctx, words[0].lower(), " ".join(words[1:]) or None)
    terms = await ctx.services.reports.terms(ctx.actor)
    scope = "the whole LA" if ctx.actor.kind == "admin" else "your schools"
    view = report_cards.MenuView(scope, tuple(report_cards.TermChoice(t.id, t.label) for t in terms[:9]))
    return Reply(card=report_cards.report_menu(view))


def _kind(data: dict[str, Any]) -> str:
    kind = data.get("kind")
    if kind not in KINDS:
        raise InvalidInput("Which report? Coverage, evaluations or actions.")
    return str(kind)


def _term(data: dict[str, Any]) -> int | None:
    if data.get("termId") in (None, "", 0, "0"):
        return None
    return field_int(data, "termId", label="the term")


async def report_show(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    return await _show(ctx, _kind(data), _term(data))


async def _show(ctx: ChatContext, kind: str, term: int | str | None) -> Reply:
    svc = ctx.services.reports
    if kind == "coverage":
        return Reply(card=report_cards.coverage_card(await svc.coverage(ctx.actor, term)))
    if kind == "evaluations":
        r = await svc.evaluations(ctx.actor, term)
        chart = await asyncio.to_thread(rep.evaluation_chart_png, r, dpi=60)  # CPU work off the event loop
        return Reply(card=report_cards.evaluations_card(r, chart))
    return Reply(card=report_cards.actions_card(await svc.actions(ctx.actor, term, all_terms=term is None)))


async def report_csv(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    kind, term = _kind(data), _term(data)
    svc = ctx.services.reports
    if kind == "coverage":
        r = await svc.coverage(ctx.actor, term)
        name = f"tsm-coverage-{r.term.name}-{r.term.academic_year}"
        files = (
            (f"{name}.csv", "text/csv", rep.coverage_csv(r).encode()),
            (f"{name}-summary.csv", "text/csv", rep.coverage_summary_csv(r).encode()),
        )
    elif kind == "evaluations":
        r = await svc.evaluations(ctx.actor, term)
        name = f"tsm-evaluations-{r.term.name}-{r.term.academic_year}"
        files = (
            (f"{name}.csv", "text/csv", rep.evaluations_csv(r).encode()),
            (f"{name}-comments.csv", "text/csv", rep.evaluation_comments_csv(r).encode()),
            (f"{name}.png", "image/png", await asyncio.to_thread(rep.evaluation_chart_png, r)),
        )
    else:
        r = await svc.actions(ctx.actor, term, all_terms=term is None)
        name = f"tsm-actions-{r.term.name}-{r.term.academic_year}" if r.term else "tsm-actions-open"
        files = ((f"{name}.csv", "text/csv", rep.actions_csv(r).encode()),)
    return Reply(
        text=f"Here is the {kind} report as CSV" + (" with its chart." if kind == "evaluations" else "."),
        files=files,
    )


def register(router: Router) -> None:
    router.command("feedback", "evaluate", "evaluation", help="Give feedback on your last TSM", roles=SCHOOL)(
        feedback
    )
    router.command(
        "record",
        "tsm record",
        help="The TSM record: figures, agreed actions, lead practitioner",
        roles=EVERYONE,
    )(record)
    router.command(
        "actions", "my actions", "open actions", help="Open actions from your TSMs", roles=EVERYONE
    )(open_actions)
    router.command(
        "report", "reports", help="Coverage, evaluations and open actions, with CSV", roles=OFFICERS
    )(report)
    router.verb("eval.submit", roles=SCHOOL)(eval_submit)
    router.verb("record.edit", roles=EVERYONE)(record_edit)
    router.verb("record.save", roles=EVERYONE)(record_save)
    router.verb("record.action_done", roles=EVERYONE)(action_done)
    router.verb("report.show", roles=OFFICERS)(report_show)
    router.verb("report.csv", roles=OFFICERS)(report_csv)
