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
    """The actor for ``--as EMAIL``, resolved like a Teams sender (``Directory.identify``: active officers and school
    contacts only, each within their own LA, ``actors.may_act_for``), or the operator without it."""
    from .services.actors import Actor

    if not email:
        return Actor.operator()  # the operator at the command line: every LA (they hold the database)
    actor = await app.directory.identify(None, email)
    if actor is not None:
        return actor
    if await app.directory.inactive(email):
        raise TsmError(
            f"{email} is marked inactive, so they cannot act. Import them again (tsm import officers or "
            "tsm import contacts) to make them active."
        )
    raise TsmError(f"No officer or school contact with email {email}.")
