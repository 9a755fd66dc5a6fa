"""Who sent a turn, by AAD object id: the officers and contacts with that id in one statement (every turn of every
person starts here; a school contact took two), with the rules of ``Directory.identify``: an active officer before a
contact, each in id order; with a tenant, only a person remembered in that tenant; nobody inactive. The Teams
transport's batched resolver (bot/identity.py) applies the same rule to the same read."""

from __future__ import annotations

from driver_trace import DriverTrace
from factories import make_world
from sqlmodel import update

from bot.identity import AadResolver
from tsm.adapters.db.directory import Officer, SchoolContact
from tsm.adapters.db.engine import Database
from tsm.services.directory import Directory

T1, T2 = "tenant-one", "tenant-two"


async def _set(db: Database, table, row_id: int, **values) -> None:
    async with db.transaction() as s:
        await s.exec(update(table).where(table.id == row_id).values(**values))


async def test_the_sender_is_found_by_aad_id_in_one_statement_officer_first_within_the_tenant(any_db_url):
    db = Database(any_db_url)
    try:
        w = await make_world(db)
        ann, lead, head = w.officers["ann"], w.contacts["low_primary.lead"], w.contacts["secondary.head"]
        # One AAD id held by an officer (tenant one) and by a school contact (tenant two): a person who is both.
        await _set(db, Officer, ann, teams_aad_id="aad-both", teams_tenant_id=T1)
        await _set(db, SchoolContact, lead, teams_aad_id="aad-both", teams_tenant_id=T2)
        await _set(db, SchoolContact, head, teams_aad_id="aad-head", teams_tenant_id=T2)
        directory, resolver = Directory(db), AadResolver(db)
        trace = await DriverTrace().install(db)  # what the driver runs: the read goes straight to it

        async def both(aad: str, tenant: str | None):
            with trace:
                got = await directory.identify(aad, None, tenant)
            assert len(trace.statements) == 1, trace.statements  # officers and contacts in one read, no BEGIN
            assert await resolver.resolve(aad, tenant) == got
            return (got.kind, got.id) if got is not None else None

        assert await both("aad-both", None) == ("officer", ann)  # no tenant said: the officer first
        assert await both("aad-both", T1) == ("officer", ann)
        assert await both("aad-both", T2) == ("contact", lead)  # the officer is not remembered in tenant two
        assert await both("aad-head", T2) == ("contact", head)
        assert await both("aad-head", T1) is None  # a contact of tenant two, signed in from tenant one
        await _set(db, Officer, ann, active=False)
        assert await both("aad-both", None) == ("contact", lead)  # an inactive officer is nobody
        await _set(db, SchoolContact, lead, active=False)
        assert await both("aad-both", None) is None
        got = await directory.identify("aad-head", None, T2)
        assert got is not None and got.school_id == w.schools["secondary"] and got.la_id is not None
    finally:
        await db.dispose()
