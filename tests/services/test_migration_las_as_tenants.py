"""Migrations 0014-0016 (issue 15 item 1: LAs as tenants of the data) on a database holding today's data, on SQLite
and PostgreSQL: the schema taken back to 0013 (before them), rows written as the product wrote them then (one trust
column for the whole country), then upgraded to head. Each trust's allocated officer becomes the trust's officer in
that officer's LA, nobody is a national admin, the old column is gone, and the product reads the data as before;
taken down again, the column comes back with its value."""

from __future__ import annotations

import sqlalchemy as sa

from tsm.adapters.db.engine import Database, driver_urls
from tsm.adapters.db.migrate import current, downgrade, upgrade
from tsm.services.actors import Actor
from tsm.services.conversation import ConversationService
from tsm.services.reference import ReferenceData

TODAY = [
    "INSERT INTO la (id, code, name, timezone, policy) VALUES (1, '926', 'Norfolk', 'Europe/London', 'norfolk')",
    "INSERT INTO la (id, code, name, timezone, policy) VALUES (2, '886', 'Kent', 'Europe/London', 'kent')",
    "INSERT INTO officer (id, la_id, name, email, mailbox, area, is_admin, active) VALUES "
    "(1, 1, 'Ann', 'ann@norfolk.example', 'ann@norfolk.example', '', true, true), "
    "(2, 2, 'Ken', 'ken@kent.example', 'ken@kent.example', '', false, true)",
    "INSERT INTO trust (code, name, allocated_officer_id) VALUES ('7001', 'Seven Trust', 1), ('7002', 'Two', NULL)",
    "INSERT INTO school (id, urn, la_id, name, type_name, type_group, phase_of_education, phase, trust_code, "
    "trust_name, street, town, postcode, booking_route, booking_route_reason, link_officer_id, open) VALUES "
    "(1, 900001, 1, 'Alpha Academy', 'Academy converter', 'Academies', 'Primary', 'primary', '7001', 'Seven Trust', "
    "'', 'Norwich', '', 'contacted_directly', 'trust', 1, true), "
    "(2, 800001, 2, 'Kent Seven', 'Academy converter', 'Academies', 'Primary', 'primary', '7001', 'Seven Trust', "
    "'', 'Maidstone', '', 'self', '', 2, true)",
]


def _rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(driver_urls(url)[0])
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(driver_urls(url)[0])
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


async def test_todays_trust_officers_and_admins_carry_over_per_la_and_back(any_db_url):
    url = any_db_url
    downgrade(url, "0013")
    engine = sa.create_engine(driver_urls(url)[0])
    with engine.begin() as conn:
        for sql in TODAY:
            conn.execute(sa.text(sql))
    engine.dispose()

    upgrade(url)
    assert (current(url) or "") >= "0016"  # head (later revisions leave these tables as 0016 made them)
    assert _rows(url, "SELECT trust_code, la_id, officer_id FROM trust_officer ORDER BY trust_code") == [
        ("7001", 1, 1)  # Ann's, in Ann's LA only; trust 7002 had none
    ]
    assert "allocated_officer_id" not in _columns(url, "trust")
    assert _rows(url, "SELECT email, is_admin, national_admin FROM officer ORDER BY id") == [
        ("ann@norfolk.example", True, False),
        ("ken@kent.example", False, False),
    ]

    # The product reads today's data as before: Norfolk's trust school is contacted directly (its allocated officer);
    # Kent's school of the same trust is Kent's business (no allocated officer in Kent), and Ann cannot see it.
    db = Database(url)
    try:
        ref = ReferenceData(db)
        conv = ConversationService(db, None, ref)  # type: ignore[arg-type]  # school_info needs no booking
        ann = Actor("admin", 1, la_id=1)
        assert not (await conv.school_info(ann, 1)).entitlement.may_book
        assert (await conv.school_info(Actor("admin", 2, la_id=2), 2)).entitlement.may_book
    finally:
        await db.dispose()

    downgrade(url, "0013")
    assert _rows(url, "SELECT code, allocated_officer_id FROM trust ORDER BY code") == [
        ("7001", 1),
        ("7002", None),
    ]
    upgrade(url)
    assert (current(url) or "") >= "0016"  # head (later revisions leave these tables as 0016 made them)
