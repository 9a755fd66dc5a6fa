"""What every ``tsm`` command shares (``tsm/cli.py`` and ``tsm/cli_reports.py``): the settings, running one async
operation with refusals and errors as readable lines, the App from the composition root, and who acts."""

from __future__ import annotations

import asyncio
import sys
from zoneinfo import ZoneInfo

import click

from .domain.errors import BookingRefused, TsmError
from .settings import Settings

LONDON = ZoneInfo("Europe/London")


def settings_of(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]


def run_async(coro):
    """Run ``coro``; a refusal or a TsmError is printed (exit code 2), never a traceback."""
    try:
        return asyncio.run(coro)
    except BookingRefused as refusal:
        click.secho(f"Refused: {refusal.message}", fg="red", err=True)
        for slot in refusal.alternatives[:6]:
            click.echo(f"  alternative: {slot.start.astimezone(LONDON):%a %d %b %Y %H:%M}", err=True)
        sys.exit(2)
    except TsmError as err:
        click.secho(f"Error: {err}", fg="red", err=True)
        sys.exit(2)


async def with_app(settings: Settings, fn):
    """``await fn(app)`` with the App the composition root builds for a command (``role="cli"``), closed after."""
    from .composition import compose  # the root imports the Teams transport: only when a command runs

    built = compose(settings, role="cli")
    try:
        return await fn(built.app)
    finally:
        await built.close()


async def acting_as(app, email: str | None):
    """The actor for ``--as EMAIL`` (an officer or a school contact), or an LA admin without it."""
    from sqlmodel import select

    from .adapters.db.directory import Officer, SchoolContact
    from .services.actors import Actor

    if not email:
        return Actor("admin", None, None, "cli")
    async with app.db.reader() as s:
        officer = (await s.exec(select(Officer).where(Officer.email == email.lower()))).first()
        if officer:
            return Actor("admin" if officer.is_admin else "officer", officer.id, None, officer.name)
        contact = (await s.exec(select(SchoolContact).where(SchoolContact.email == email.lower()))).first()
        if contact:
            return Actor("contact", contact.id, contact.school_id, contact.name)
    raise TsmError(f"No officer or school contact with email {email}.")
