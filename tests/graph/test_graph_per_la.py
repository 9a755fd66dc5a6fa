"""Graph per LA (issue 15, item 1): two LAs share a deployment, each with its own Microsoft tenant (two Graph
emulators stand for the two tenants). The composition root builds one calendar per LA from TSM_LA_SETTINGS_FILE, and
each officer's free/busy, each booking's Outlook event and the watcher's subscriptions go to their own LA's tenant,
never the other's. Bad per-LA settings are refused at start-up with a sentence."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from factories import local, make_world
from graph_stack import graph_settings
from sqlmodel import select

from dev.graph_emulator import GraphEmulator
from tsm.adapters.calendar_per_la import PerLaCalendar
from tsm.adapters.db.meetings import Meeting, MeetingSchool
from tsm.bootstrap import build_app, build_graph_watcher_if_configured
from tsm.clock import FixedClock
from tsm.domain.model import Interval
from tsm.la_settings import LaSettingsError, load_la_settings
from tsm.ports import CalendarRef
from tsm.settings import Settings

NOW = local(2026, 1, 5, 8, 0)


@pytest.fixture
async def two_tenants():
    tenants = [
        GraphEmulator(notification_retry_delays=(0.2,)),
        GraphEmulator(notification_retry_delays=(0.2,)),
    ]
    for emulator in tenants:
        await emulator.start()
        emulator.advance_time((NOW - datetime.now(UTC)).total_seconds())
    yield tenants
    for emulator in tenants:
        await emulator.stop()


async def test_each_las_calendar_is_reached_in_its_own_tenant(sqlite_url, tmp_path, two_tenants):
    norfolk_tenant, kent_tenant = two_tenants
    per_la = tmp_path / "las.toml"
    per_la.write_text(f'[la.886]\ngraph_base_url = "{kent_tenant.graph_url}"\n', encoding="utf-8")
    settings = graph_settings(sqlite_url, norfolk_tenant, la_settings_file=str(per_la))
    app = build_app(settings, clock=FixedClock(NOW))
    try:
        assert isinstance(app.calendar, PerLaCalendar)
        norfolk = await make_world(app.db)
        kent = await make_world(
            app.db, la_code="886", la_name="Kent", urn_offset=100, email_domain="kent.example"
        )
        # Kent's officer is busy at 10:00 in Kent's tenant only; Norfolk's officer is free then in Norfolk's.
        kent_tenant.seed_event("ann@kent.example", start=local(2026, 1, 7, 10), end=local(2026, 1, 7, 11))
        busy = await app.calendar.busy(
            [
                CalendarRef(norfolk.officers["ann"], "ann@la.example"),
                CalendarRef(kent.officers["ann"], "ann@kent.example"),
            ],
            Interval(local(2026, 1, 7, 8), local(2026, 1, 7, 18)),
        )
        assert busy[norfolk.officers["ann"]] == [] and len(busy[kent.officers["ann"]]) == 1

        at = local(2026, 1, 7, 14)
        for world in (norfolk, kent):
            await app.booking.book(world.contact("low_primary.lead"), world.schools["low_primary"], at)
        await app.sync.process_due()
        assert len(norfolk_tenant.events("ann@la.example")) == 1  # the TSM
        assert len(kent_tenant.events("ann@kent.example")) == 2  # the busy time and the TSM
        assert norfolk_tenant.events("ann@kent.example") == [] and kent_tenant.events("ann@la.example") == []

        # The watcher reads each officer's Outlook changes in their own LA's tenant: Kent's event deleted in Kent's
        # tenant cancels Kent's TSM, and Norfolk's stands.
        watcher = build_graph_watcher_if_configured(app)
        assert watcher is not None
        await watcher.sweep_delta()
        [event] = [e for e in kent_tenant.events("ann@kent.example") if e["subject"] != "Busy"]
        kent_tenant.delete_event("ann@kent.example", event["id"])
        await watcher.sweep_delta()
        async with app.db.reader() as s:
            rows = {
                (ms.school_id, m.status)
                for ms, m in await s.exec(
                    select(MeetingSchool, Meeting).join(Meeting, Meeting.id == MeetingSchool.meeting_id)
                )
            }
        assert rows == {
            (norfolk.schools["low_primary"], "booked"),
            (kent.schools["low_primary"], "cancelled"),
        }
    finally:
        await app.close()


def test_bad_per_la_settings_are_refused_with_a_sentence(tmp_path, monkeypatch):
    path = tmp_path / "las.toml"

    def refused(text: str) -> str:
        path.write_text(text, encoding="utf-8")
        with pytest.raises(LaSettingsError) as why:
            load_la_settings(Settings(_env_file=None, la_settings_file=str(path)))
        return str(why.value)

    assert "unknown keys ['graph_client_secret']" in refused(
        '[la.926]\ngraph_tenant_id = "t"\ngraph_client_secret = "in the file"\n'
    )
    assert "NORFOLK_SECRET, which is not set" in refused(
        '[la.926]\ngraph_tenant_id = "t"\ngraph_client_secret_env = "NORFOLK_SECRET"\n'
    )
    assert "needs its graph_tenant_id" in refused('[la.926]\ngraph_client_id = "c"\n')
    assert "not an LA code" in refused('[la.norfolk]\ngraph_tenant_id = "t"\n')
    assert "not TOML" in refused("[la.926\n")
    path.unlink()
    with pytest.raises(LaSettingsError, match="cannot read it"):
        load_la_settings(Settings(_env_file=None, la_settings_file=str(path)))
    # A good file: the LA's tenant and client, its secret read from the variable it names.
    monkeypatch.setenv("NORFOLK_SECRET", "s3cret")
    path.write_text(
        '[la.926]\ngraph_tenant_id = "norfolk-tenant"\ngraph_client_id = "norfolk-app"\n'
        'graph_client_secret_env = "NORFOLK_SECRET"\n',
        encoding="utf-8",
    )
    base = Settings(_env_file=None, la_settings_file=str(path), graph_tenant_id="deployment-tenant")
    norfolk = load_la_settings(base)["926"].settings
    assert (norfolk.graph_tenant_id, norfolk.graph_client_id) == ("norfolk-tenant", "norfolk-app")
    assert norfolk.graph_client_secret.get_secret_value() == "s3cret"
    assert base.graph_tenant_id == "deployment-tenant"  # the deployment's own stays for the other LAs
