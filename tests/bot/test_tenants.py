"""Teams across tenants (issue 12 part A): the tenants allowed are data, each tied to the LA, a trust or a school,
and a Teams user's identity is bound to their tenant.

The impersonation this closes: a user in an allowed *school* tenant whose roster email equals an officer's was
served as that officer, and their AAD id overwrote the officer's stored one.
"""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from botkit import make_harness, production
from click.testing import CliRunner
from factories import make_world
from fakes.connector import member, message
from sqlmodel import select

from tsm.adapters.db.directory import Officer, SchoolContact
from tsm.adapters.db.tenants import MsTenant
from tsm.bootstrap import build_app
from tsm.cli import cli
from tsm.server import StartupRefused, build_web_app, check_settings
from tsm.settings import Settings

LA_TENANT = "11111111-2222-3333-4444-555555555555"
SCHOOL_TENANT = "22222222-0000-0000-0000-000000000001"  # Low Primary School's own Microsoft 365
TRUST_TENANT = (
    "33333333-0000-0000-0000-000000000001"  # Shared Learning Trust (T1): Trust A and Trust B Primary
)
OTHER_TENANT = "44444444-0000-0000-0000-000000000001"  # nobody registered it


async def _person(h, table, key: str):
    async with h.app.db.reader() as s:
        if table is Officer:
            return await s.get(Officer, h.world.officers[key])
        return await s.get(SchoolContact, h.world.contacts[key])


def _say(h, text: str, *, user: str, aad: str, tenant: str, email: str, conv: str):
    h.connector.members[user] = member(user, email, aad)
    return h.post(message(h.connector, text, user_id=user, aad=aad, tenant=tenant, conv=conv))


async def test_a_school_tenant_user_with_an_officers_email_is_not_that_officer(any_db_url, connector):
    h = await make_harness(
        any_db_url,
        connector,
        tenants=[
            (LA_TENANT, "la", "926"),
            (SCHOOL_TENANT, "school", "100001"),
            (TRUST_TENANT, "trust", "T1"),
        ],
    )
    try:
        ann = await _person(h, Officer, "ann")
        # Ann, in the LA's tenant, is matched by her roster email once; her AAD id is remembered with the tenant.
        r = await _say(
            h, "ping", user="29:ann", aad="aad-ann", tenant=LA_TENANT, email=ann.email, conv="a:ann"
        )
        assert r.status == 200 and connector.texts()[-1].startswith(f"pong officer:{ann.id} ")

        # Someone in Low Primary's tenant whose roster shows Ann's email: not Ann, and Ann's AAD id stays hers.
        r = await _say(
            h,
            "ping",
            user="29:evil",
            aad="aad-evil",
            tenant=SCHOOL_TENANT,
            email=ann.email.upper(),
            conv="a:evil",
        )
        assert r.status == 200
        assert not connector.texts()[-1].startswith("pong"), "served as the officer"
        assert "can't find you" in connector.texts()[-1]
        ann_now = await _person(h, Officer, "ann")
        assert (ann_now.teams_aad_id, ann_now.teams_tenant_id) == ("aad-ann", LA_TENANT)
        assert h.counter.calls == {"ping": 1}

        # Ann's own AAD id arriving from another registered tenant is not Ann either (matched by tenant AND id).
        r = await _say(
            h,
            "ping",
            user="29:ann2",
            aad="aad-ann",
            tenant=SCHOOL_TENANT,
            email="x@nowhere.example",
            conv="a:ann2",
        )
        assert not connector.texts()[-1].startswith("pong") and h.counter.calls == {"ping": 1}

        # Ann again, from her own tenant: still Ann (by tenant and AAD id, no roster needed).
        r = await _say(h, "ping", user="29:ann", aad="aad-ann", tenant=LA_TENANT, email="", conv="a:ann")
        assert connector.texts()[-1].startswith(f"pong officer:{ann.id} ")
    finally:
        await h.client.close()
        await h.app.close()


async def test_school_staff_are_matched_only_from_their_school_or_trust_tenant(any_db_url, connector):
    h = await make_harness(
        any_db_url,
        connector,
        tenants=[
            (LA_TENANT, "la", "926"),
            (SCHOOL_TENANT, "school", "100001"),
            (TRUST_TENANT, "trust", "T1"),
        ],
    )
    try:
        low = await _person(h, SchoolContact, "low_primary.lead")
        high = await _person(h, SchoolContact, "high_primary.lead")
        trust_a = await _person(h, SchoolContact, "trust_a.lead")
        # Low Primary's lead from Low Primary's tenant: matched.
        await _say(
            h, "ping", user="29:low", aad="aad-low", tenant=SCHOOL_TENANT, email=low.email, conv="a:low"
        )
        assert connector.texts()[-1].startswith(f"pong contact:{low.id} ")
        # High Primary's lead's email from Low Primary's tenant (or the LA's): not matched, nothing remembered.
        for i, tenant in enumerate((SCHOOL_TENANT, LA_TENANT)):
            await _say(
                h, "ping", user=f"29:h{i}", aad=f"aad-h{i}", tenant=tenant, email=high.email, conv=f"a:h{i}"
            )
            assert "can't find you" in connector.texts()[-1]
        assert (await _person(h, SchoolContact, "high_primary.lead")).teams_aad_id is None
        # A trust's tenant vouches for its schools' staff.
        await _say(
            h, "ping", user="29:ta", aad="aad-ta", tenant=TRUST_TENANT, email=trust_a.email, conv="a:ta"
        )
        assert connector.texts()[-1].startswith(f"pong contact:{trust_a.id} ")
        # A tenant nobody registered is refused outright (403), before any identity work.
        r = await _say(h, "ping", user="29:o", aad="aad-o", tenant=OTHER_TENANT, email=low.email, conv="a:o")
        assert r.status == 403
        assert h.counter.calls == {"ping": 2}
    finally:
        await h.client.close()
        await h.app.close()


async def test_removing_a_tenant_forgets_who_was_remembered_in_it(sqlite_url, connector):
    h = await make_harness(
        sqlite_url, connector, tenants=[(LA_TENANT, "la", "926"), (SCHOOL_TENANT, "school", "100001")]
    )
    try:
        low = await _person(h, SchoolContact, "low_primary.lead")
        await _say(
            h, "ping", user="29:low", aad="aad-low", tenant=SCHOOL_TENANT, email=low.email, conv="a:low"
        )
        assert (await _person(h, SchoolContact, "low_primary.lead")).teams_tenant_id == SCHOOL_TENANT
        assert await h.app.directory.tenants.remove(SCHOOL_TENANT) == 1
        assert (await _person(h, SchoolContact, "low_primary.lead")).teams_aad_id is None
        await h.runtime.tenant_gate.load()  # what the running bot does every 30 s
        r = await _say(
            h, "ping", user="29:low", aad="aad-low", tenant=SCHOOL_TENANT, email=low.email, conv="a:low"
        )
        assert r.status == 403
    finally:
        await h.client.close()
        await h.app.close()


async def test_an_app_id_with_no_tenant_registered_does_not_start(sqlite_url, connector):
    settings = {k: v for k, v in production(connector).items() if k != "tenants"}
    app = build_app(
        Settings(
            database_url=sqlite_url,
            _env_file=None,
            run_scheduler=False,
            microsoft_app_id="00000000-1111-2222-3333-444444444444",
            microsoft_app_password="x",
            **settings,
        )
    )
    server = TestServer(build_web_app(app, run_scheduler=False), host="127.0.0.1")
    try:
        with pytest.raises(StartupRefused, match="no Microsoft 365 tenant is registered.*tsm tenants add"):
            await server.start_server()
    finally:
        await app.close()


def test_the_old_environment_list_stops_the_start_with_what_to_do_instead():
    settings = Settings(_env_file=None, allowed_tenants=[LA_TENANT])
    with pytest.raises(
        StartupRefused, match=f"TSM_ALLOWED_TENANTS \\({LA_TENANT}\\) is no longer read.*tsm tenants add"
    ):
        check_settings(settings)


def test_tsm_tenants_add_list_remove_and_import(any_db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TSM_CLOCK_START", "2026-11-10T09:00:00+00:00")

    def run(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(
            cli, ["--database-url", any_db_url, *args], obj={}, catch_exceptions=False
        )
        assert result.exit_code == code, result.output
        return result.output

    run("demo")
    la = LA_TENANT.upper()
    assert "registered for la 999 (Demoshire)" in run("tenants", "add", la, "la", "999")
    assert "registered for school 990001 (Ashcombe Primary School)" in run(
        "tenants", "add", SCHOOL_TENANT, "school", "990001"
    )
    assert "No school with URN 123456" in run("tenants", "add", SCHOOL_TENANT, "school", "123456", code=2)
    assert "not a Microsoft 365 tenant id" in run(
        "tenants", "add", "contoso.onmicrosoft.com", "la", "999", code=2
    )
    assert "'county' is not one of 'la', 'trust', 'school'" in run(
        "tenants", "add", LA_TENANT, "county", "999", code=2
    )
    csv = tmp_path / "tenants.csv"
    csv.write_text(
        "tenant_id,kind,ref,name\n"
        f"{TRUST_TENANT},trust,9001,Demoshire Learning Trust\n"
        f"{LA_TENANT},la,999,\n"  # already there: unchanged
        "not-a-guid,school,990002,\n"
        f"{OTHER_TENANT},trust,NOPE,\n",
        encoding="utf-8",
    )
    out = run("tenants", "import", str(csv), code=1)
    assert "1 tenant registrations added, 1 already there; 2 errors" in out
    assert (
        "line 4: 'not-a-guid' is not a Microsoft 365 tenant id" in out
        and "line 5: No trust with code 'NOPE'" in out
    )
    listing = run("tenants", "list")
    assert LA_TENANT in listing and SCHOOL_TENANT in listing and TRUST_TENANT in listing
    assert listing.index("la ") < listing.index("school ") < listing.index("trust ")
    assert f"1 registration of {SCHOOL_TENANT} removed" in run("tenants", "remove", SCHOOL_TENANT)
    assert SCHOOL_TENANT not in run("tenants", "list")
    assert "is not registered" in run("tenants", "remove", SCHOOL_TENANT, code=2)


async def test_the_table_holds_one_row_per_tenant_and_scope(any_db_url):
    app = build_app(Settings(database_url=any_db_url, _env_file=None))
    try:
        await make_world(app.db)
        t = app.directory.tenants
        await t.add(LA_TENANT, "la", "926")
        await t.add(LA_TENANT, "school", "100001")  # the LA's tenant also holds a maintained school's staff
        await t.add(LA_TENANT.upper(), "la", "926")  # the same again: nothing new
        async with app.db.reader() as s:
            rows = list(await s.exec(select(MsTenant.tenant_id, MsTenant.scope).order_by(MsTenant.scope)))
        assert rows == [(LA_TENANT, "la:926"), (LA_TENANT, "school:100001")]
        assert await t.allowed_ids() == frozenset({LA_TENANT})
    finally:
        await app.close()


def test_tsm_run_with_an_app_id_and_no_tenant_stops_with_a_sentence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "TSM_MICROSOFT_APP_ID": "00000000-1111-2222-3333-444444444444",
        "TSM_MICROSOFT_APP_PASSWORD": "x",
        "TSM_PUBLIC_URL": "https://tsm.example",
        "TSM_HOST": "127.0.0.1",
        "TSM_PORT": "0",
        "TSM_RUN_SCHEDULER": "false",
    }.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        cli, ["--database-url", f"sqlite:///{tmp_path}/t.db", "run"], obj={}, catch_exceptions=False
    )
    assert result.exit_code == 2, result.output
    assert "no Microsoft 365 tenant is registered" in result.output and "tsm tenants add" in result.output
