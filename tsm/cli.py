"""The one command-line entry point: ``tsm`` (or ``python -m tsm``).

Every command builds the application from ``Settings`` (environment / ``.env``) through the composition
root (``compose(settings, role="cli")``; ``tsm run`` and ``tsm worker`` with their own roles), runs one async
operation and closes it. LA administrators use it for set-up and imports; it acts
as an LA admin unless ``--as EMAIL`` names a school contact or officer.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from .cli_common import LONDON
from .cli_common import acting_as as _actor
from .cli_common import run_async as _run
from .cli_common import settings_of as _settings
from .cli_common import with_app as _with_app
from .clock import local_today
from .domain.errors import TsmError
from .settings import Settings


async def _school_id(app, urn: int) -> int:
    from sqlmodel import select

    from .adapters.db.directory import School

    async with app.db.reader() as s:
        school = (await s.exec(select(School).where(School.urn == urn))).first()
    if school is None:
        raise TsmError(f"No school with URN {urn}. Import schools first (tsm import gias ...).")
    return school.id


async def _la_id(app, la_code: str) -> int:
    from sqlmodel import select

    from .adapters.db.directory import LA

    async with app.db.reader() as s:
        la = (await s.exec(select(LA).where(LA.code == la_code))).first()
    if la is None:
        raise TsmError(
            f"No LA with code {la_code}. Import its schools first (tsm import gias --la-code {la_code} ...)."
        )
    return la.id


def _parse_local(text: str) -> datetime:
    """'2026-12-01 10:00' or '2026-12-01T10:00' in the LA's time (Europe/London), or ISO with an offset."""
    try:
        dt = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError as exc:
        raise click.BadParameter(f"'{text}' is not a date and time like 2026-12-01 10:00") from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=LONDON)


def _report(report, what: str) -> None:
    click.echo(report.summary(what))
    if report.errors:
        sys.exit(1)


@click.group()
@click.option(
    "--database-url", envvar="TSM_DATABASE_URL", default=None, help="sqlite:///path or postgresql://..."
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """TSM bot: booking Targeting Support Meetings between schools and their LA link officer."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    ctx.ensure_object(dict)["settings"] = settings


# ---------------------------------------------------------------- database


@cli.group()
def db() -> None:
    """Create or migrate the database."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create the database or bring it to the latest schema (SQLite or PostgreSQL)."""
    from .adapters.db.migrate import current, upgrade

    url = _settings(ctx).database_url
    upgrade(url)
    click.echo(f"Database at schema revision {current(url)}.")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    from .adapters.db.migrate import current

    click.echo(current(_settings(ctx).database_url) or "empty (run: tsm db upgrade)")


# ---------------------------------------------------------------- imports


@cli.group("import")
def import_() -> None:
    """Import schools (GIAS), attendance, officers, contacts, link officers and term dates from files."""


@import_.command("gias")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--la-code", required=True, help="GIAS LA code, e.g. 926 (Norfolk) or 886 (Kent)")
@click.option("--policy", default=None, help="policy profile for a new LA (default: the settings' policy)")
@click.pass_context
def import_gias_cmd(ctx: click.Context, path: str, la_code: str, policy: str | None) -> None:
    """Schools of one LA from a GIAS 'edubasealldata' CSV. Head teacher columns are never read."""
    from .domain.policy import load_policy
    from .importers.gias import gias_row_count, import_gias

    pol = load_policy(policy or _settings(ctx).policy)
    total = gias_row_count(path)

    async def go(app):
        with click.progressbar(length=total, label="Importing schools", file=sys.stderr) as bar:
            return await import_gias(
                app.db,
                path,
                la_code=la_code,
                policy=pol,
                progress=bar.update,
                actor="cli",
                booking=app.booking,
            )

    _report(_run(_with_app(_settings(ctx), go)), "schools")


@import_.command("attendance")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def import_attendance_cmd(ctx: click.Context, path: str) -> None:
    """Latest attendance % per school: CSV urn,attendance_pct,period."""
    from .importers.gias import import_attendance

    _report(
        _run(_with_app(_settings(ctx), lambda app: import_attendance(app.db, path, actor="cli"))), "schools"
    )


@import_.command("officers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--la-code", required=True)
@click.pass_context
def import_officers_cmd(ctx: click.Context, path: str, la_code: str) -> None:
    """Officers: CSV name,email,mailbox,area,working_hours,max_meetings_per_day,is_admin."""
    from .importers.people import import_officers

    _report(
        _run(
            _with_app(_settings(ctx), lambda app: import_officers(app.db, path, la_code=la_code, actor="cli"))
        ),
        "officers",
    )


@import_.command("contacts")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def import_contacts_cmd(ctx: click.Context, path: str) -> None:
    """School contacts: CSV urn,name,email,role (attendance_lead, senior_leader, other)."""
    from .importers.people import import_contacts

    _report(
        _run(_with_app(_settings(ctx), lambda app: import_contacts(app.db, path, actor="cli"))), "contacts"
    )


@import_.command("link-officers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def import_link_officers_cmd(ctx: click.Context, path: str) -> None:
    """Assign link officers: CSV urn,officer_email."""
    from .importers.people import import_link_officers

    _report(
        _run(_with_app(_settings(ctx), lambda app: import_link_officers(app.db, path, actor="cli"))),
        "schools",
    )


@import_.command("trust-officers")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--la-code",
    default=None,
    help="the LA whose allocations the file holds (its officers only; needed to clear one with several LAs)",
)
@click.pass_context
def import_trust_officers_cmd(ctx: click.Context, path: str, la_code: str | None) -> None:
    """Trusts with an allocated officer in one LA: CSV trust_code,officer_email (each row: the officer's own LA)."""
    from .importers.people import import_trust_officers

    _report(
        _run(
            _with_app(
                _settings(ctx),
                lambda app: import_trust_officers(app.db, path, la_code=la_code, actor="cli"),
            )
        ),
        "trusts",
    )


@import_.command("terms")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--la-code", required=True)
@click.pass_context
def import_terms_cmd(ctx: click.Context, path: str, la_code: str) -> None:
    """Term dates, half terms and closures from CSV or iCalendar (Kent's six terms map onto three)."""
    from .importers.terms import import_terms_file

    async def go(app):
        return await import_terms_file(app.db, await _la_id(app, la_code), path)

    _report(_run(_with_app(_settings(ctx), go)), "terms")


@cli.command()
@click.option("--urn", type=int, required=True)
@click.option("--officer", "officer_email", required=True, help="the link officer's email")
@click.pass_context
def assign(ctx: click.Context, urn: int, officer_email: str) -> None:
    """Assign a school's link officer."""
    from io import StringIO

    from .importers.people import import_link_officers

    csv = StringIO(f"urn,officer_email\n{urn},{officer_email}\n")
    _report(
        _run(_with_app(_settings(ctx), lambda app: import_link_officers(app.db, csv, actor="cli"))), "schools"
    )


@cli.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Load the made-up LA 'Demoshire': ~30 schools of all kinds, 3 officers, two years of example terms."""
    from .adapters.db.migrate import upgrade
    from .demo import load_demo

    settings = _settings(ctx)
    upgrade(settings.database_url)
    summary = _run(_with_app(settings, lambda app: load_demo(app.db, today=local_today(app.clock))))
    click.echo(summary.summary())


# ---------------------------------------------------------------- slots and meetings


def _fmt_slot(slot) -> str:
    return f"{slot.start.astimezone(LONDON):%a %d %b %Y %H:%M}–{slot.end.astimezone(LONDON):%H:%M}"


@cli.command()
@click.option("--urn", type=int, required=True)
@click.option("--term", default="current", help="current, next, or a term id")
@click.option("--mode", type=click.Choice(["teams", "on_site"]), default=None)
@click.option("--limit", type=int, default=20)
@click.option("--as", "as_email", default=None, help="act as this officer or school contact")
@click.pass_context
def slots(
    ctx: click.Context, urn: int, term: str, mode: str | None, limit: int, as_email: str | None
) -> None:
    """List free TSM slots for a school."""

    async def go(app):
        actor = await _actor(app, as_email)
        offer = await app.booking.free_slots(
            actor,
            await _school_id(app, urn),
            term=int(term) if term.isdigit() else term,
            mode=mode,
            limit=limit,
        )
        click.echo(
            f"{offer.term_label}: {offer.meeting_type}, {offer.duration_minutes} min, {offer.mode}, "
            f"with {offer.officer_name}"
        )
        for sl in offer.slots:
            click.echo(f"  {_fmt_slot(sl)}")
        if not offer.slots:
            click.echo("  no free slots")

    _run(_with_app(_settings(ctx), go))


@cli.command()
@click.option("--urn", type=int, required=True, multiple=True, help="repeat for a trust's joint TSM")
@click.option("--at", "at", required=True, help="start, e.g. '2026-12-01 10:00' (UK time)")
@click.option("--mode", type=click.Choice(["teams", "on_site"]), default=None)
@click.option("--type", "meeting_type", default=None)
@click.option("--as", "as_email", default=None)
@click.option(
    "--site",
    "site_urn",
    type=int,
    default=None,
    help="a joint TSM on site: the URN of the school whose site it is held at (default the first --urn)",
)
@click.option(
    "--waive-senior-leader",
    "waiver",
    default=None,
    metavar="REASON",
    help="book with no senior leader invited, for this reason (recorded with the booking)",
)
@click.pass_context
def book(
    ctx: click.Context,
    urn: tuple[int, ...],
    at: str,
    mode: str | None,
    meeting_type: str | None,
    as_email: str | None,
    site_urn: int | None,
    waiver: str | None,
) -> None:
    """Book a TSM."""
    start = _parse_local(at)

    async def go(app):
        actor = await _actor(app, as_email)
        ids = [await _school_id(app, u) for u in urn]
        site = await _school_id(app, site_urn) if site_urn is not None else None
        result = await app.booking.book(
            actor,
            ids,
            start,
            mode=mode,
            meeting_type=meeting_type,
            waive_senior_leader=waiver,
            site_school_id=site,
        )
        click.echo(f"{result.message} Meeting id {result.meeting.id}.")

    _run(_with_app(_settings(ctx), go))


@cli.command()
@click.argument("meeting_id", type=int)
@click.option("--to", "to", required=True, help="new start, e.g. '2026-12-02 14:00'")
@click.option("--as", "as_email", default=None)
@click.pass_context
def move(ctx: click.Context, meeting_id: int, to: str, as_email: str | None) -> None:
    """Move a TSM within its term."""
    start = _parse_local(to)

    async def go(app):
        result = await app.booking.move(await _actor(app, as_email), meeting_id, start)
        click.echo(result.message)

    _run(_with_app(_settings(ctx), go))


@cli.command()
@click.argument("meeting_id", type=int)
@click.option("--reason", required=True)
@click.option("--as", "as_email", default=None)
@click.pass_context
def cancel(ctx: click.Context, meeting_id: int, reason: str, as_email: str | None) -> None:
    """Cancel a TSM, with a reason."""

    async def go(app):
        result = await app.booking.cancel(await _actor(app, as_email), meeting_id, reason)
        click.echo(result.message)

    _run(_with_app(_settings(ctx), go))


@cli.command()
@click.option("--urn", type=int, required=True, help="the school's URN")
@click.option("--as", "as_email", default=None, help="the school's link officer (default: an LA admin)")
@click.pass_context
def invite(ctx: click.Context, urn: int, as_email: str | None) -> None:
    """Send a school's attendance leads and senior leaders their link to book: in Teams to those who have the
    app, by email (with a sign-in link to the web page) to the others, as TSM_DELIVERY says. Recorded as an event:
    the running bot (or tsm worker) sends it, once."""

    async def go(app):
        actor = await _actor(app, as_email)
        told = await app.directory.invite_school(actor, await _school_id(app, urn))
        channel = {
            "teams": "in Teams (to those who have the app)",
            "email": "by email",
            "teams_then_email": "in Teams to those who have the app, by email to the others",
        }[app.settings.delivery]
        click.echo(
            f"Invitation to book on its way to {', '.join(f'{c.name} <{c.email}>' for c in told)}: "
            f"{channel}. The bot's scheduler (tsm run, or tsm worker) sends it."
        )

    _run(_with_app(_settings(ctx), go))


@cli.command()
@click.option("--urn", type=int, default=None)
@click.option("--officer", "officer_email", default=None)
@click.option("--all", "include_inactive", is_flag=True, help="include cancelled and no-show meetings")
@click.option("--as", "as_email", default=None)
@click.pass_context
def meetings(
    ctx: click.Context,
    urn: int | None,
    officer_email: str | None,
    include_inactive: bool,
    as_email: str | None,
) -> None:
    """List meetings (coming and past) by school, by officer, or all."""

    async def go(app):
        actor = await _actor(app, as_email)
        school_id = await _school_id(app, urn) if urn else None
        # A filter, not someone acting: an officer who has left (inactive) still has meetings to list.
        officer_id = await app.reports.officer_id_by_email(officer_email) if officer_email else None
        rows = await app.booking.list_meetings(
            actor, school_id=school_id, officer_id=officer_id, include_inactive=include_inactive
        )
        for m in rows:
            click.echo(
                f"{m.id:>5}  {m.start.astimezone(LONDON):%a %d %b %Y %H:%M}  {m.status:<9}  {m.mode:<7}  "
                f"{m.school_label}  ({m.officer_name})"
            )
        if not rows:
            click.echo("no meetings")

    _run(_with_app(_settings(ctx), go))


@cli.command()
@click.option(
    "--days", type=click.IntRange(1, 365), default=14, show_default=True, help="how far back to look"
)
@click.option(
    "--officer", "officer_email", default=None, help="only messages to this officer and their schools' staff"
)
@click.pass_context
def undelivered(ctx: click.Context, days: int, officer_email: str | None) -> None:
    """Messages the bot could not deliver (the person has not installed the app, blocked it, or Teams kept
    failing): who, what and why. They are sent late when the person installs the app, while still useful."""
    from datetime import timedelta

    async def go(app):
        officer_id = (await _actor(app, officer_email)).id if officer_email else None
        rows = await app.notifications.undelivered(
            since=app.clock() - timedelta(days=days), officer_id=officer_id
        )
        for u in rows:
            click.echo(f"{u.at.astimezone(LONDON):%a %d %b %Y %H:%M}  {u.kind:<24}  {u.recipient}: {u.why}")
        click.echo(
            f"{len(rows)} message{'s' if len(rows) != 1 else ''} not delivered in the last {days} days"
        )

    _run(_with_app(_settings(ctx), go))


@cli.command()
def policies() -> None:
    """List the bundled LA policy profiles."""
    from .domain.policy import bundled_policies, load_policy

    for name in bundled_policies():
        p = load_policy(name)
        click.echo(
            f"{name:<10} {p.la_name}: modes {', '.join(m.value for m in p.modes_allowed)} "
            f"(default {p.default_mode.value}); entitlement rules: {', '.join(r.name for r in p.entitlement_rules)}"
        )


# ---------------------------------------------------------------- Teams package and running


@cli.command()
@click.option("--bot-id", required=True, help="the Azure Bot's Microsoft App ID (a GUID)")
@click.option("--out", type=click.Path(dir_okay=True), required=True)
@click.option("--version", "app_version", default="1.0.0")
@click.option("--valid-domain", multiple=True)
def manifest(bot_id: str, out: str, app_version: str, valid_domain: tuple[str, ...]) -> None:
    """Build the Teams app package (manifest.json + icons) for a bot id."""
    from appmanifest.build import build_package

    try:
        path = build_package(bot_id, Path(out), version=app_version, valid_domains=valid_domain)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo(f"Teams app package written to {path}")


@cli.command()
@click.option("--demo", "with_demo", is_flag=True, help="load the demo LA first (idempotent)")
@click.pass_context
def run(ctx: click.Context, with_demo: bool) -> None:
    """Migrate the database (and load demo data), then serve the bot on TSM_HOST:TSM_PORT."""
    from .adapters.db.migrate import upgrade

    settings = _settings(ctx)
    upgrade(settings.database_url)
    if with_demo:
        from .demo import load_demo

        summary = _run(_with_app(settings, lambda app: load_demo(app.db, today=local_today(app.clock))))
        click.echo(summary.summary())
    from .server import StartupRefused, serve

    try:
        serve(settings)
    except StartupRefused as refused:
        click.secho(str(refused), fg="red", err=True)
        sys.exit(2)


@cli.command()
@click.option("--worker-id", default=None, help="a name for this worker in the ledger (default: host:pid)")
@click.pass_context
def worker(ctx: click.Context, worker_id: str | None) -> None:
    """Run the scheduler as its own process (production): reminders, nudges, rebooking, meeting ends, calendar
    outbox and Outlook subscriptions. Any number of workers may share one database; stops on SIGTERM/SIGINT."""
    from .observability import configure_logging
    from .worker import run_worker

    settings = _settings(ctx)
    configure_logging(settings.log_level, settings.log_format)
    _run(run_worker(settings, worker_id=worker_id))
    click.echo("Scheduler worker stopped.")


@cli.group()
def sessions() -> None:
    """The web page's sign-in sessions and links."""


@sessions.command("revoke")
@click.option("--email", required=True, help="the school contact's or officer's address")
@click.pass_context
def sessions_revoke(ctx: click.Context, email: str) -> None:
    """End every web session of this address now, and make its unused sign-in links stop working."""

    async def go(app):
        return await app.signin.revoke(email)

    ended, links = _run(_with_app(_settings(ctx), go))
    click.echo(
        f"{ended} session{'' if ended == 1 else 's'} ended, {links} unused link{'' if links == 1 else 's'} "
        f"stopped for {email.strip().lower()}."
    )


def _add_report_commands() -> None:
    from .cli_reports import report  # tsm report coverage|evaluations|actions|purge (issue 6)

    cli.add_command(report)
    from .cli_tenants import tenants  # tsm tenants add|list|remove|import (issue 12)

    cli.add_command(tenants)
    from .cli_admins import admins  # tsm admins list|grant-national|revoke-national (issue 15)

    cli.add_command(admins)


_add_report_commands()


def main() -> None:
    cli(obj={})


if __name__ == "__main__":
    main()
