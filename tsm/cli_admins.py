"""``tsm admins list|grant-national|revoke-national``: who administers which LA, and the national admin right (issue 15):
an officer who may see every LA's reports (``tsm report ... --all-las``) while acting only in their own LA. Only the
operator at the command line grants it; no chat or web action can."""

from __future__ import annotations

import click

from .cli_common import run_async, settings_of, with_app


@click.group()
def admins() -> None:
    """LA admins and national admins (who may see every LA's reports)."""


def _line(r) -> str:
    roles = ", ".join(
        x
        for x, on in (("LA admin", r.is_admin), ("national admin", r.national), ("inactive", not r.active))
        if on
    )
    return f"{r.la_code:<5} {r.la_name:<24} {r.name} <{r.email}>: {roles}"


@admins.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every LA admin and national admin, by LA."""

    async def go(app):
        rows = await app.directory.admins()
        for r in rows:
            click.echo(_line(r))
        if not rows:
            click.echo("No LA admin yet (tsm import officers ... with is_admin = yes).")

    run_async(with_app(settings_of(ctx), go))


@admins.command("grant-national")
@click.argument("email")
@click.pass_context
def grant(ctx: click.Context, email: str) -> None:
    """Let the officer EMAIL see every LA's reports (they still act only in their own LA)."""

    async def go(app):
        click.echo(_line(await app.directory.set_national_admin(email, True, actor="cli")))

    run_async(with_app(settings_of(ctx), go))


@admins.command("revoke-national")
@click.argument("email")
@click.pass_context
def revoke(ctx: click.Context, email: str) -> None:
    """Take back the national admin right of the officer EMAIL: their own LA's reports only again."""

    async def go(app):
        click.echo(_line(await app.directory.set_national_admin(email, False, actor="cli")))

    run_async(with_app(settings_of(ctx), go))
