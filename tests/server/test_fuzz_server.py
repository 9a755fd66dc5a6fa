"""Fuzz (hypothesis) over what reaches the real aiohttp app: raw bodies, Teams activities and card payloads.

The server is the product's own (``tsm.server.build_web_app`` with every feature of ``tsm.chat.app``), on the demo
LA, with a fake Bot Connector. Users are real (a school contact, an officer, an LA admin, a stranger). Every
generated value is invalid by construction (ids that do not exist, wrong types, text that is no date or email), so:

- no answer is a 5xx;
- no handler fails with an unexpected exception (the turn counter's ``error`` outcome stays 0: a handler that
  crashed would have been answered with an apology, not a 500, so the status alone would not show it);
- nothing changes in the booking tables (meetings, attendees, blocks, outbox, audit, contacts, ledger...);
- all of it on SQLite and on PostgreSQL (NUL characters, which PostgreSQL's text refuses, are in the text drawn).

The web page's forms (tsm/web/page.py) are fuzzed over the same properties in test_fuzz_web.py, on this module's
``Served``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from datetime import date

import httpx
import psycopg
import pytest
from fakes.connector import FakeConnector, ThreadServer, installation_update, invoke, message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prod_figures import record_figures

from tsm.adapters.db.migrate import upgrade
from tsm.bootstrap import build_app
from tsm.settings import Settings

WATCHED = (
    "meeting",
    "meeting_school",
    "meeting_attendee",
    "meeting_status_change",
    "officer_block",
    "officer_day_load",
    "calendar_outbox",
    "audit_log",
    "school",
    "school_contact",
    "officer",
    "meeting_leader_unavailable",
    "outbound",
    "evaluation",
    "tsm_record",
    "record_action",
    "term",
)
EXAMPLES = int(os.environ.get("TSM_FUZZ_EXAMPLES", "150"))

USERS = {  # key -> (aad object id, Teams user id); identities are set on real demo people below
    "contact": ("aad-fuzz-contact", "29:fuzz-contact"),
    "officer": ("aad-fuzz-officer", "29:fuzz-officer"),
    "admin": ("aad-fuzz-admin", "29:fuzz-admin"),
    "stranger": ("aad-fuzz-stranger", "29:fuzz-stranger"),
}


class Served:
    def __init__(self, url: str | None = None, **overrides) -> None:
        """The server on ``url`` (a migrated PostgreSQL database), or on a fresh SQLite file; ``overrides``:
        more settings."""
        self.tmp = tempfile.mkdtemp(prefix="tsm-fuzz-")
        self.db_path = os.path.join(self.tmp, "tsm.db")
        if url is None:
            url = f"sqlite:///{self.db_path}"
            upgrade(url)
        self.url = url
        self.threads = ThreadServer()
        self.connector = FakeConnector()
        self.connector.url = self.threads.serve(self.connector.app()) + "/"
        s = Settings(
            _env_file=None,
            database_url=url,
            run_scheduler=False,
            invitations_dir=os.path.join(self.tmp, "inv"),
            chat_burst_turns=0,
            chat_sustained_turns=0,  # the rate limit has its own tests
            **overrides,
        )
        self.app = build_app(s)
        self.threads.run(self._setup())
        from tsm.server import build_web_app

        self.base = self.threads.serve(build_web_app(self.app, run_scheduler=False))
        self.http = httpx.Client(base_url=self.base, timeout=30)
        self.verbs = sorted(self._router_verbs())
        self.posts = 0
        self.status_5xx = 0

    async def _setup(self) -> None:
        from sqlmodel import select

        from tsm.adapters.db.directory import Officer, SchoolContact
        from tsm.demo import load_demo

        await load_demo(self.app.db, today=date.today())
        async with self.app.db.transaction() as s:
            contact = (await s.exec(select(SchoolContact).order_by(SchoolContact.id))).first()
            admin = (await s.exec(select(Officer).where(Officer.is_admin == True))).first()  # noqa: E712
            officer = (await s.exec(select(Officer).where(Officer.is_admin == False))).first()  # noqa: E712
            for person, key in ((contact, "contact"), (officer, "officer"), (admin, "admin")):
                person.teams_aad_id = USERS[key][0]
                s.add(person)

    @staticmethod
    def _router_verbs() -> set[str]:
        from tsm.chat.app import build_router

        return set(build_router().verbs)

    def counts(self) -> dict[str, int]:
        if self.url.startswith("postgresql"):
            with psycopg.connect(self.url) as conn:
                return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in WATCHED}
        with sqlite3.connect(self.db_path) as conn:
            return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in WATCHED}

    def post(self, body: bytes | dict, content_type: str = "application/json") -> httpx.Response:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        r = self.http.post("/api/messages", content=body, headers={"Content-Type": content_type})
        self.posts += 1
        self.status_5xx += r.status_code >= 500
        return r

    def errors(self) -> float:
        m = self.app.metrics
        return sum(m.value("tsm_turns_total", kind=k, outcome="error") for k in ("message", "action"))

    def close(self) -> None:
        self.http.close()
        try:
            self.threads.run(self.app.close())
        finally:
            self.threads.close()


@pytest.fixture(scope="module")
def module_pg_url():
    """A fresh, migrated PostgreSQL database for the module (tests/conftest.py's ``pg_url`` is per test)."""
    import uuid

    admin = os.environ.get("TSM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"PostgreSQL is required under CI but unreachable: {exc}")
        pytest.skip(f"no PostgreSQL reachable ({type(exc).__name__})")
    name = f"tsm_fuzz_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin.rsplit('/', 1)[0]}/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request):
    """The server on the embedded default and on PostgreSQL (a database of its own for the module)."""
    if request.param == "postgres":
        url = request.getfixturevalue("module_pg_url")
        s = Served(url)
    else:
        s = Served()
    before = s.counts()
    yield s
    after = s.counts()
    m = s.app.metrics
    turns = {
        f"{k}_{o}": int(m.value("tsm_turns_total", kind=k, outcome=o))
        for k in ("message", "action")
        for o in ("ok", "refused", "error", "unknown_user")
    }
    s.close()
    record_figures(
        f"fuzz_{request.param}",
        {
            "examples_per_property": EXAMPLES,
            "posts": s.posts,
            "status_5xx": s.status_5xx,
            "turns": turns,
            "booking_tables_changed": sum(after[t] != before[t] for t in WATCHED),
        },
    )
    assert after == before, "invalid input changed the booking tables"
    # The fuzz reached the handlers: card actions by known users were dispatched and refused with a message.
    assert turns["action_refused"] > 0 and turns["message_ok"] + turns["message_refused"] > 0


# ---------------------------------------------------------------------- strategies: invalid by construction

NOT_DIGITS = st.characters(blacklist_categories=("Cs",), blacklist_characters="@0123456789")
garbage_text = st.text(NOT_DIGITS, min_size=0, max_size=30)
# Ids no row has, up to past every database's integer (2^31 on PostgreSQL, 2^63 on SQLite: both once gave 500s).
bad_ints = (
    st.integers(min_value=10**9, max_value=10**15)
    | st.integers(max_value=-1)
    | st.sampled_from([2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30])
)
scalars = (
    st.none() | st.booleans() | bad_ints | st.floats(allow_nan=False, allow_infinity=False) | garbage_text
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(garbage_text, kids, max_size=4),
    max_leaves=12,
)
DATA_KEYS = [
    "meetingId",
    "meeting_id",
    "schoolId",
    "school_id",
    "offerId",
    "offer",
    "start",
    "slot",
    "index",
    "date",
    "time",
    "mode",
    "reason",
    "contactIds",
    "contactId",
    "seniorLeader",
    "name",
    "email",
    "term",
    "urn",
    "verb",
    "confirm",
    "page",
    "officerId",
    "back",
]
card_data = st.dictionaries(st.sampled_from(DATA_KEYS) | garbage_text, json_values, max_size=6)


@st.composite
def activities(draw, verbs: list[str], service_url: str) -> dict:
    who = draw(st.sampled_from(sorted(USERS)))
    aad, user_id = USERS[who]
    conv = f"a:fuzz-{who}"
    kind = draw(st.sampled_from(["message", "invoke", "invoke", "invoke", "submit", "install", "odd"]))
    if kind == "message":
        words = st.sampled_from(
            ["book", "help", "my meetings", "cancel", "move", "my week", "my schools", "hi"]
        )
        text = draw(st.one_of(garbage_text, st.builds(lambda w, t: f"{w} {t}", words, garbage_text)))
        return message(service_url, text, conv=conv, user_id=user_id, aad=aad)
    real = st.sampled_from(verbs)
    verb = draw(st.one_of(real, real, real, real, garbage_text, scalars))  # mostly verbs that have a handler
    if kind == "invoke":
        data = draw(card_data | json_values)
        return invoke(service_url, verb, data, conv=conv, user_id=user_id, aad=aad)
    if kind == "submit":  # the Action.Submit fallback: a message whose value carries the verb and the data
        value = draw(card_data)
        value["verb"] = verb
        return message(service_url, "", conv=conv, user_id=user_id, aad=aad, value=value)
    if kind == "install":
        return installation_update(service_url, conv=conv, user_id=user_id, aad=aad)
    act = message(service_url, "hello", conv=conv, user_id=user_id, aad=aad)
    field = draw(
        st.sampled_from(
            [
                "type",
                "from",
                "conversation",
                "value",
                "name",
                "channelData",
                "entities",
                "localTimezone",
                "text",
                "recipient",
                "serviceUrl",
                "id",
                "channelId",
            ]
        )
    )
    act[field] = draw(json_values)
    return act


# ---------------------------------------------------------------------- the properties

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(body=st.binary(max_size=600) | st.builds(lambda v: json.dumps(v).encode(), json_values))
def test_raw_bodies_never_5xx(served, body):
    r = served.post(body)
    assert r.status_code < 500, (body[:200], r.status_code, r.text[:200])


@FUZZ
@given(data=st.data())
def test_activities_and_card_payloads_never_5xx_nor_crash_a_handler(served, data):
    act = data.draw(activities(served.verbs, served.connector.url))
    errors_before = served.errors()
    r = served.post(act)
    assert r.status_code < 500, (act, r.status_code, r.text[:300])
    if act.get("type") == "invoke":
        assert r.status_code in (200, 400, 403), (act, r.status_code)
    assert served.errors() == errors_before, f"a handler crashed on {json.dumps(act)[:600]}"


def test_the_fuzzed_users_are_real(served):
    """The properties above prove something only if known users' turns reach the handlers."""
    sent_before = len(served.connector.snapshot())
    act = message(
        served.connector.url,
        "help",
        conv="a:fuzz-contact",
        user_id=USERS["contact"][1],
        aad=USERS["contact"][0],
    )
    assert served.post(act).status_code == 200
    replies = served.connector.snapshot()[sent_before:]
    assert replies and "don't know you" not in json.dumps([s.activity for s in replies]).lower()
    assert served.app.metrics.value("tsm_turns_total", kind="message", outcome="ok") >= 1
