"""The batched AAD lookup gives what Directory.identify gives, for every kind of person, in one read per batch."""

from __future__ import annotations

import asyncio

from factories import make_world
from sqlmodel import update

from bot.identity import AadResolver
from tsm.adapters.db.directory import Officer, SchoolContact
from tsm.adapters.db.engine import Database
from tsm.services.directory import Directory


async def test_resolver_matches_directory(sqlite_url):
    db = Database(sqlite_url)
    try:
        w = await make_world(db)
        async with db.transaction() as s:
            await s.exec(
                update(Officer)
                .where(Officer.id == w.officers["ann"])
                .values(teams_aad_id="aad-ann", is_admin=True)
            )
            await s.exec(
                update(Officer).where(Officer.id == w.officers["bob"]).values(teams_aad_id="aad-bob")
            )
            await s.exec(
                update(SchoolContact)
                .where(SchoolContact.id == w.contacts["low_primary.lead"])
                .values(teams_aad_id="aad-lead")
            )
            await s.exec(
                update(SchoolContact)
                .where(SchoolContact.id == w.contacts["low_primary.head"])
                .values(teams_aad_id="aad-gone", active=False)
            )
        directory, resolver = Directory(db), AadResolver(db)
        aads = ["aad-ann", "aad-bob", "aad-lead", "aad-gone", "aad-nobody"] * 3
        got = await asyncio.gather(*(resolver.resolve(a) for a in aads))
        want = [await directory.identify(a, None) for a in aads]
        assert got == want
        assert [a.kind if a else None for a in got[:5]] == ["admin", "officer", "contact", None, None]
        assert resolver.queries == 1  # fifteen turns in flight, one read
    finally:
        await db.dispose()
