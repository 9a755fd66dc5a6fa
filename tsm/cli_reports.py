"""``tsm report coverage|evaluations|actions`` and ``tsm report purge``: the LA's reports from the command line.

Acts as the operator (any LA: ``--la-code``, or ``--all-las`` for every one), or with ``--as EMAIL`` as that person:
an officer their own schools, an LA admin their own LA, a national admin any LA and ``--all-las`` (issue 15).
``--term`` takes current (default), previous, next, a term id, or e.g. "autumn 2026-27" (across LAs: each LA's own).
"""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import acting_as, run_async, settings_of, with_app
from .domain.errors import InvalidInput


def _write(path: str | None, content: str | bytes, what: str) -> None:
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8", newline="")
    click.echo(f"{what} written to {p}")


async def _scope(app, as_email: str | None, officer_email: str | None):
    actor = await acting_as(app, as_email)
    officer_id = await app.reports.officer_id_by_email(officer_email) if officer_email else None
    return actor, officer_id


def _common(fn):
    fn = click.option(
        "--term",
        default="current",
        show_default=True,
        help="current, previous, next, a term id, or e.g. 'autumn 2026-27'",
    )(fn)
    fn = click.option(
        "--officer", "officer_email", default=None, help="one officer (by email); default: the whole LA"
    )(fn)
    fn = click.option("--la-code", default=None, help="which LA, when the database holds several")(fn)
    fn = click.option(
        "--all-las", is_flag=True, help="every LA, one after the other and in total (national admins)"
    )(fn)
    fn = click.option("--as", "as_email", default=None, help="act as this officer (sees their own schools)")(
        fn
    )
    return fn


async def _across(app, as_email, kind, term, la_code, officer_email, csv_path, summary_csv=None, **options):
    """``--all-las``: the report of every LA (a national admin's, or the operator's), its lines and CSVs."""
    from .services import reports as rep

    if la_code or officer_email:
        raise InvalidInput("--all-las covers every LA: give no --la-code or --officer with it.")
    a = await app.reports.across_las(await acting_as(app, as_email), kind, term, **options)
    for line in rep.across_lines(a):
        click.echo(line)
    _write(csv_path, rep.across_csv(a), "CSV of every LA")
    if summary_csv:
        _write(summary_csv, rep.across_coverage_summary_csv(a), "Summary CSV")


@click.group("report")
def report() -> None:
    """LA reports: coverage, evaluations, outstanding actions (with CSV export)."""


@report.command("coverage")
@_common
@click.option("--csv", "csv_path", default=None, help="write one row per school to this CSV file")
@click.option(
    "--summary-csv", default=None, help="write one row per officer and one for the LA to this CSV file"
)
@click.pass_context
def coverage(ctx, term, officer_email, la_code, all_las, as_email, csv_path, summary_csv) -> None:
    """Every school in a term: held, booked, no-show, cancelled, offered or not booked; per officer and LA."""
    from .services import reports as rep

    async def go(app):
        if all_las:
            return await _across(
                app, as_email, "coverage", term, la_code, officer_email, csv_path, summary_csv
            )
        actor, officer_id = await _scope(app, as_email, officer_email)
        r = await app.reports.coverage(actor, term, officer_id=officer_id, la_code=la_code)
        for line in rep.coverage_lines(r):
            click.echo(line)
        _write(csv_path, rep.coverage_csv(r), "Schools CSV")
        _write(summary_csv, rep.coverage_summary_csv(r), "Summary CSV")

    run_async(with_app(settings_of(ctx), go))


@report.command("evaluations")
@_common
@click.option(
    "--csv", "csv_path", default=None, help="write one row per officer (and the LA) to this CSV file"
)
@click.option("--chart", "chart_path", default=None, help="write the chart (PNG) to this file")
@click.option(
    "--comments-csv", default=None, help="write the comments (author only when named) to this CSV file"
)
@click.pass_context
def evaluations(
    ctx, term, officer_email, la_code, all_las, as_email, csv_path, chart_path, comments_csv
) -> None:
    """Evaluation answers per officer and for the LA: mean of each question, number of answers."""
    from .domain.feedback import QUESTION_KEYS, SHORT_LABELS
    from .services import reports as rep

    async def go(app):
        if all_las:
            if chart_path or comments_csv:
                raise InvalidInput("--chart and --comments-csv are for one LA (--la-code), not --all-las.")
            return await _across(app, as_email, "evaluations", term, la_code, officer_email, csv_path)
        actor, officer_id = await _scope(app, as_email, officer_email)
        r = await app.reports.evaluations(actor, term, officer_id=officer_id, la_code=la_code)
        click.echo(f"Evaluations, {r.term.label} ({r.scope.label})")
        for x in r.summaries:
            means = ", ".join(
                f"{SHORT_LABELS[k].lower()} {'-' if x.means[k] is None else f'{x.means[k]:.2f}'}"
                for k in QUESTION_KEYS
            )
            click.echo(
                f"  {x.officer}: {x.answers} answer{'s' if x.answers != 1 else ''} from {x.meetings_held} "
                f"meeting{'s' if x.meetings_held != 1 else ''} held; {means}"
            )
        _write(csv_path, rep.evaluations_csv(r), "CSV")
        _write(comments_csv, rep.evaluation_comments_csv(r), "Comments CSV")
        if chart_path:
            _write(chart_path, rep.evaluation_chart_png(r), "Chart")

    run_async(with_app(settings_of(ctx), go))


@report.command("actions")
@_common
@click.option("--all-terms", is_flag=True, help="open actions of every term, not just --term")
@click.option("--csv", "csv_path", default=None, help="write the open actions to this CSV file")
@click.pass_context
def actions(ctx, term, officer_email, la_code, all_las, as_email, all_terms, csv_path) -> None:
    """Actions agreed at TSMs and not done yet, soonest due first (overdue ones flagged)."""
    from .services import reports as rep

    async def go(app):
        if all_las:
            return await _across(
                app, as_email, "actions", term, la_code, officer_email, csv_path, all_terms=all_terms
            )
        actor, officer_id = await _scope(app, as_email, officer_email)
        r = await app.reports.actions(
            actor, term, officer_id=officer_id, la_code=la_code, all_terms=all_terms
        )
        title = r.term.label if r.term else "all terms"
        overdue = sum(1 for x in r.rows if x.days_overdue)
        click.echo(f"Open actions, {title} ({r.scope.label}): {len(r.rows)}, {overdue} overdue")
        for x in r.rows:
            late = f" OVERDUE {x.days_overdue}d" if x.days_overdue else ""
            click.echo(f"  {x.due.isoformat()}{late}  {x.school}  [{x.owner}] {x.text}  ({x.officer})")
        _write(csv_path, rep.actions_csv(r), "CSV")

    run_async(with_app(settings_of(ctx), go))


@report.command("purge")
@click.pass_context
def purge(ctx) -> None:
    """Apply the retention periods now (TSM_FEEDBACK_RETENTION_DAYS, TSM_INVITATIONS_RETENTION_DAYS for the local
    calendar's .ics files; the worker also does it daily)."""
    from scheduler.feedback_jobs import FeedbackJobs
    from scheduler.ledger import Ledger
    from scheduler.service import purge_invitations

    async def go(app):
        jobs = FeedbackJobs.for_app(app, messenger=None, ledger=Ledger(app.db, "cli", clock=app.clock))
        r = await jobs.purge()
        click.echo(
            f"Retention {app.settings.feedback_retention_days} days: {r.evaluations} evaluations anonymised "
            f"(comments removed), {r.receipts} receipts, {r.records} records and {r.actions} actions deleted."
        )
        ics = purge_invitations(app, app.clock())
        click.echo(
            f"Invitations: {ics} .ics files older than {app.settings.invitations_retention_days} days deleted."
        )

    run_async(with_app(settings_of(ctx), go))
