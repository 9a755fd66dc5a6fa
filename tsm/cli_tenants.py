"""``tsm tenants add|list|remove|import``: the Microsoft 365 tenants allowed to talk to the bot, each tied to the LA,
a trust or a school (``tsm.services.tenants``). A running bot reads the list again within 30 seconds."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import run_async, settings_of, with_app

KIND = click.Choice(["la", "trust", "school"], case_sensitive=False)


@click.group()
def tenants() -> None:
    """The Microsoft 365 tenants allowed to use the bot (the LA's, and each school's or trust's)."""


@tenants.command("add")
@click.argument("tenant_id")
@click.argument("kind", type=KIND)
@click.argument("ref")
@click.option("--name", default="", help="a label (default: the LA's, trust's or school's name)")
@click.pass_context
def add(ctx: click.Context, tenant_id: str, kind: str, ref: str, name: str) -> None:
    """Register TENANT_ID for the LA (REF = its LA code), a trust (REF = its GIAS group code) or a school (REF = its
    URN). The LA's tenant vouches for officers and admins; a school's or trust's for that school's staff only."""

    async def go(app):
        row = await app.directory.tenants.add(tenant_id, kind, ref, name=name, actor="cli")
        click.echo(f"Tenant {row.tenant_id} registered for {row.kind} {row.ref} ({row.name}).")

    run_async(with_app(settings_of(ctx), go))


@tenants.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Every registration: tenant id, what it is tied to, its name, when and by whom it was added."""

    async def go(app):
        rows = await app.directory.tenants.list()
        if not rows:
            click.echo("No tenant registered: a bot with an app id will not start (tsm tenants add ...).")
        for r in rows:
            click.echo(
                f"{r.tenant_id}  {r.kind:<6} {r.ref:<10} {r.name}  (added {r.added_at:%Y-%m-%d} by "
                f"{r.added_by})"
            )

    run_async(with_app(settings_of(ctx), go))


@tenants.command("remove")
@click.argument("tenant_id")
@click.argument("kind", type=KIND, required=False)
@click.argument("ref", required=False)
@click.pass_context
def remove(ctx: click.Context, tenant_id: str, kind: str | None, ref: str | None) -> None:
    """Unregister TENANT_ID (every registration of it, or only the one for KIND REF). People remembered in it for
    what it no longer covers are forgotten; the running bots stop serving a tenant left with no registration."""
    if kind and not ref:
        raise click.UsageError("give the REF with the KIND (the LA code, the trust code or the URN)")

    async def go(app):
        n = await app.directory.tenants.remove(tenant_id, kind, ref, actor="cli")
        click.echo(f"{n} registration{'' if n == 1 else 's'} of {tenant_id.strip().lower()} removed.")

    run_async(with_app(settings_of(ctx), go))


@tenants.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def import_(ctx: click.Context, path: str) -> None:
    """Register the tenants of a CSV file: tenant_id,kind,ref[,name] (kind: la, trust or school). Bad rows are
    reported by line number and the good ones kept (exit code 1 when any row was refused)."""
    text = Path(path).read_text(encoding="utf-8-sig")
    summary = run_async(
        with_app(settings_of(ctx), lambda app: app.directory.tenants.import_csv(text, actor="cli"))
    )
    click.echo(summary.summary())
    if summary.errors:
        raise SystemExit(1)
