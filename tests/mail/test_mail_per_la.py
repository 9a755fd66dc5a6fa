"""Mail per LA (issue 15, item 1): two LAs share a deployment; Kent has its own sender in TSM_LA_SETTINGS_FILE and
Norfolk has none. Emails to Kent's people (a school contact, an officer) come from Kent's sender, Norfolk's from the
deployment's, through the product's own delivery channel."""

from __future__ import annotations

from factories import local, make_world
from fakes.messenger import ScriptedMessenger
from mailkit import read_mail

from tsm.bootstrap import build_app
from tsm.clock import FixedClock
from tsm.composition import delivery_channel
from tsm.messaging import Message, Recipient, SendStatus
from tsm.settings import Settings


async def test_emails_to_an_las_people_come_from_its_own_sender(sqlite_url, tmp_path):
    per_la = tmp_path / "las.toml"
    per_la.write_text(
        '[la.886]\nmail_from = "tsm@kent.example"\nmail_from_name = "Kent TSM"\n', encoding="utf-8"
    )
    settings = Settings(
        _env_file=None,
        database_url=sqlite_url,
        mail_dir=tmp_path / "mail",
        invitations_dir=tmp_path / "inv",
        mail_from="tsm@deployment.example",
        delivery="email",
        la_settings_file=str(per_la),
    )
    app = build_app(settings, clock=FixedClock(local(2026, 1, 5, 8)))
    try:
        assert set(app.mail_by_la) == {"886"}  # Norfolk has no sender of its own
        norfolk = await make_world(app.db)
        kent = await make_world(
            app.db, la_code="886", la_name="Kent", urn_offset=100, email_domain="kent.example"
        )
        channel = delivery_channel(app, ScriptedMessenger())
        for who in (
            Recipient("contact", kent.contacts["low_primary.lead"]),
            Recipient("officer", kent.officers["ann"]),
            Recipient("contact", norfolk.contacts["low_primary.lead"]),
            Recipient("officer", norfolk.officers["ann"]),
        ):
            assert (await channel.send(who, Message("Your TSM is booked"))).status is SendStatus.SENT
        sent = {str(m["To"]).split("<")[-1].rstrip(">"): str(m["From"]) for m in read_mail(tmp_path / "mail")}
        assert sent == {
            "lead@100101.sch.example": "Kent TSM <tsm@kent.example>",
            "ann@kent.example": "Kent TSM <tsm@kent.example>",
            "lead@100001.sch.example": "TSM bookings <tsm@deployment.example>",
            "ann@la.example": "TSM bookings <tsm@deployment.example>",
        }
    finally:
        await app.close()
