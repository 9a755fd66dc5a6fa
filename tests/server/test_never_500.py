"""Issue 12 B7: what an attack on the service answered with 500 or "something went wrong" now gets a 4xx with a
sentence (or 503 with Retry-After when the database is busy), and changes nothing: JSON nested deeper than the
parser goes, a ``serviceUrl`` that is not a string, card ids past the database's integer (2^63 on SQLite, 2^31 on
PostgreSQL), NUL characters (PostgreSQL's text cannot hold them) and a SQLite file locked by another process,
while ``/healthz`` said "ok". The fuzz over the same server is ``test_fuzz_server.py``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time

import pytest
from fakes.connector import invoke, message
from test_fuzz_server import DATA_KEYS, USERS, Served, module_pg_url  # noqa: F401 - a fixture, used by name

ID_KEYS = ("meetingId", "schoolId", "termId", "actionId", "urn", "leader", "contactId", "offerId")


def who(key: str) -> dict:
    return {"conv": f"a:fuzz-{key}", "user_id": USERS[key][1], "aad": USERS[key][0]}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request):
    s = Served(request.getfixturevalue("module_pg_url")) if request.param == "postgres" else Served()
    s.backend = request.param
    before = s.counts()
    yield s
    after = s.counts()
    s.close()
    assert after == before, "invalid input changed the booking tables"


def test_json_nested_past_the_parser_is_400_with_a_sentence(served):
    r = served.post(b"[" * 100_000 + b"]" * 100_000)
    assert r.status_code == 400 and "nested" in r.json()["error"]
    act = message(served.connector.url, "help", **who("contact"))
    act["value"] = json.loads("[" * 500 + "]" * 500)  # deep but parseable: refused or handled, never 500
    assert served.post(act).status_code < 500


@pytest.mark.parametrize("bad", [12345, ["https://x.example/"], {"u": 1}, True])
def test_a_service_url_that_is_not_a_string_is_400(served, bad):
    act = message(served.connector.url, "help", **who("contact"))
    act["serviceUrl"] = bad
    r = served.post(act)
    assert r.status_code == 400 and "serviceUrl" in r.json()["error"]


def test_card_ids_past_the_database_integer_are_refused_with_a_sentence(served):
    """2^63 overflowed SQLite's INTEGER and 2^31 PostgreSQL's integer: every verb, as a school and an officer."""
    errors = served.errors()
    for big in (2**31, 2**63, 2**70):
        for verb in served.verbs:
            for key in ("contact", "officer"):
                r = served.post(
                    invoke(
                        served.connector.url,
                        verb,
                        {k: big for k in ID_KEYS} | {"colleagues": str(big)},
                        **who(key),
                    )
                )
                assert r.status_code < 500, (verb, big, r.text[:200])
                assert "went wrong" not in r.text, (verb, big)
    r = served.post(message(served.connector.url, f"record {2**40}", **who("contact")))
    assert r.status_code == 200
    assert served.errors() == errors, "a handler crashed on a large id"


def test_nul_characters_are_refused_before_the_database(served):
    errors = served.errors()
    url = served.connector.url
    acts = [
        message(url, "help\x00", **who("contact")),
        message(url, "help", **{**who("contact"), "conv": "a:\x00"}),
        message(url, "help", **{**who("contact"), "user_id": "29:\x00"}),
        message(url, "help", **{**who("contact"), "aad": "aad\x00"}),
    ]
    for a in acts:
        r = served.post(a)
        assert r.status_code == 400 and "NUL" in r.json()["error"], r.text
    for verb in served.verbs:  # NUL in card data a handler reads: a sentence, not a crash
        data = {k: "ab\x00cd" for k in DATA_KEYS} | {
            "comments": "a\x00b",
            "notes": "x\x00",
            "reason": "ill\x00ness",
        }
        r = served.post(invoke(url, verb, data, **who("contact")))
        assert r.status_code < 500 and "went wrong" not in r.text, (verb, r.text[:200])
    assert served.errors() == errors


LOCKER = """
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
c.execute("ROLLBACK")
"""


def test_a_sqlite_file_locked_by_another_process_answers_503_and_healthz_says_so():
    s = Served(sqlite_busy_timeout=0.5)
    try:
        assert s.http.get("/healthz").json()["database"]["ok"] is True
        with sqlite3.connect(s.db_path) as conn:
            contact_email = conn.execute(
                "SELECT email FROM school_contact WHERE teams_aad_id = ?", (USERS["contact"][0],)
            ).fetchone()[0]
        locker = subprocess.Popen(
            [sys.executable, "-c", LOCKER, s.db_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert locker.stdout.readline().strip() == "locked"
            t0 = time.monotonic()
            r = s.post(message(s.connector.url, "my meetings", **who("contact")))
            took = time.monotonic() - t0
            assert r.status_code == 503, r.text
            assert int(r.headers["Retry-After"]) > 0 and "try again" in r.json()["error"]
            assert took < 5, took  # the busy timeout (0.5 s here, 10 s by default), not 30 s
            h = s.http.get("/healthz")
            assert h.status_code == 503 and "cannot write" in h.json()["database"]["detail"]
            # The web page's writes too (any route): "email me a link" for a known address writes its request.
            pre = "p" * 24
            w = s.http.post(
                "/web/signin", data={"csrf": pre, "email": contact_email}, cookies={"tsm_pre": pre}
            )
            assert w.status_code == 503 and int(w.headers["Retry-After"]) > 0 and "try again" in w.text
        finally:
            locker.communicate("", timeout=10)
        assert s.http.get("/healthz").status_code == 200
        r = s.post(message(s.connector.url, "my meetings", **who("contact")))
        assert r.status_code == 200  # the lock gone, the same turn is served
    finally:
        s.close()
