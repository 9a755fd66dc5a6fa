"""Report cards for officers and LA managers: a menu (report and term), coverage, evaluations (with the chart
as an image) and outstanding actions. Full lists go in the CSV attached by ``report.csv``.

Verbs: ``report.show`` (kind + term), ``report.csv`` (the same report as a CSV file).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from tsm.domain.feedback import COVERAGE_ORDER, LA_TOTAL, QUESTION_KEYS, SHORT_LABELS, Coverage
from tsm.domain.text import day_text, plain
from tsm.services.reports import ActionsReport, CoverageReport, EvaluationReport

from .evaluation import card, execute, facts, text

VERBS = {"report.show", "report.csv"}
KINDS = (("coverage", "Coverage"), ("evaluations", "Evaluations"), ("actions", "Outstanding actions"))
MAX_CARD_BYTES = 27 * 1024  # Teams refuses bot messages much above 28 KB
MAX_LISTED = 25
MAX_COMMENTS = 12
COMMENT_CHARS = 280


def _size(c: dict[str, Any]) -> int:
    return len(json.dumps(c, ensure_ascii=False).encode())


def _clip(value: str, n: int) -> str:
    return value if len(value) <= n else value[: n - 1].rstrip() + "…"


@dataclass(frozen=True)
class TermChoice:
    id: int
    label: str


@dataclass(frozen=True)
class MenuView:
    scope: str  # "your schools" or "the whole LA"
    terms: tuple[TermChoice, ...]


def report_menu(v: MenuView) -> dict[str, Any]:
    body = [
        text("Reports", weight="Bolder", size="Medium"),
        text(f"For {v.scope}. Pick a term and a report; each has a CSV with every row."),
    ]
    if not v.terms:
        body.append(text("No term has started yet, so there is nothing to report.", color="Attention"))
        return card(body, [execute("What else can I do?", "help.show", {})])
    body.append(
        {
            "type": "Input.ChoiceSet",
            "id": "termId",
            "label": "Term",
            "value": str(v.terms[0].id),
            "choices": [{"title": t.label, "value": str(t.id)} for t in v.terms],
        }
    )
    return card(body, [execute(label, "report.show", {"kind": kind}) for kind, label in KINDS])


def _nav(kind: str, term_id: int) -> list[dict[str, Any]]:
    return [
        execute("Download CSV", "report.csv", {"kind": kind, "termId": term_id}),
        *[execute(label, "report.show", {"kind": k, "termId": term_id}) for k, label in KINDS if k != kind],
    ]


def coverage_card(r: CoverageReport) -> dict[str, Any]:
    body = [
        text(f"Coverage: {r.term.label}", weight="Bolder", size="Medium"),
        text(f"For {r.scope.label}.", isSubtle=True),
    ]
    tallies = [t for t in r.tallies if not (r.scope.officer_id is not None and t.officer == LA_TOTAL)]
    body.append(
        facts(
            [
                (
                    f"{t.officer} ({t.schools})",
                    " · ".join(f"{c.label.split(',')[0].lower()} {t.counts[c]}" for c in COVERAGE_ORDER)
                    + f" · {t.held_pct:.0f}% held",
                )
                for t in tallies
            ]
        )
    )
    todo = [
        x
        for x in r.rows
        if x.status in (Coverage.NOT_BOOKED, Coverage.OFFERED, Coverage.CANCELLED, Coverage.NO_SHOW)
    ]
    if todo:
        body.append(text(f"Schools without a TSM this term ({len(todo)})", weight="Bolder", spacing="Medium"))
        for x in todo[:MAX_LISTED]:
            body.append(
                text(
                    f"- {x.school} ({x.urn}): {x.status.label.lower()}"
                    + ("" if r.scope.officer_id else f", {x.officer}"),
                    size="Small",
                )
            )
        if len(todo) > MAX_LISTED:
            body.append(text(f"…and {len(todo) - MAX_LISTED} more in the CSV.", isSubtle=True))
    return card(body, _nav("coverage", r.term.id))


def evaluations_card(r: EvaluationReport, chart_png: bytes | None = None) -> dict[str, Any]:
    """The summary, the chart (when the card stays small enough with it) and the first comments, shortened."""
    without = _evaluations_card(r, None)
    if chart_png:
        with_chart = _evaluations_card(r, chart_png)
        if _size(with_chart) <= MAX_CARD_BYTES:
            return with_chart
        without["body"].insert(
            2, text("The chart is in the CSV download (too big for a chat card).", isSubtle=True)
        )
    return without


def _evaluations_card(r: EvaluationReport, chart_png: bytes | None) -> dict[str, Any]:
    body = [
        text(f"Evaluations: {r.term.label}", weight="Bolder", size="Medium"),
        text(f"For {r.scope.label}.", isSubtle=True),
    ]
    if chart_png:
        body.append(
            {
                "type": "Image",
                "url": "data:image/png;base64," + base64.b64encode(chart_png).decode(),
                "altText": "Mean rating of each question per officer",
                "size": "Stretch",
            }
        )
    for sm in r.summaries:
        rows = [("Meetings held", str(sm.meetings_held)), ("Answers", str(sm.answers))]
        rows += [
            (SHORT_LABELS[k], "–" if sm.means[k] is None else f"{sm.means[k]:.2f} / 5") for k in QUESTION_KEYS
        ]
        body.append(text(sm.officer, weight="Bolder", spacing="Medium"))
        body.append(facts(rows))
    if r.comments:
        body.append(text(f"Comments ({len(r.comments)})", weight="Bolder", spacing="Medium"))
        for c in r.comments[:MAX_COMMENTS]:
            body.append(
                text(
                    f"“{plain(_clip(c.text, COMMENT_CHARS))}”  \n_{plain(c.author)}, {c.school}_",
                    size="Small",
                )
            )
        if len(r.comments) > MAX_COMMENTS:
            body.append(
                text(
                    f"…and {len(r.comments) - MAX_COMMENTS} more in the comments CSV (**Download CSV**).",
                    isSubtle=True,
                )
            )
    return card(body, _nav("evaluations", r.term.id))


def actions_card(r: ActionsReport) -> dict[str, Any]:
    title = f"Outstanding actions: {r.term.label}" if r.term else "Outstanding actions"
    body = [text(title, weight="Bolder", size="Medium"), text(f"For {r.scope.label}.", isSubtle=True)]
    if not r.rows:
        body.append(text("No open actions. 🎉"))
    overdue = sum(1 for x in r.rows if x.days_overdue)
    if r.rows:
        body.append(text(f"{len(r.rows)} open, {overdue} overdue."))
    for x in r.rows[:MAX_LISTED]:
        due = (
            f"**overdue {x.days_overdue} day{'s' if x.days_overdue != 1 else ''}**"
            if x.days_overdue
            else f"due {day_text(x.due, year=True)}"
        )
        owner = {"school": "School", "la": "LA", "other": x.owner_detail or "Other service"}.get(
            x.owner, x.owner
        )
        body.append(
            text(f"- {x.school}: {plain(_clip(x.text, 200))}  \n_{plain(owner)}, {due}_", size="Small")
        )
    if len(r.rows) > MAX_LISTED:
        body.append(text(f"…and {len(r.rows) - MAX_LISTED} more in the CSV.", isSubtle=True))
    return card(body, _nav("actions", r.term.id if r.term else 0))
