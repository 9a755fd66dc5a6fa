"""Fuzz (hypothesis) over the web page's forms (issue 12's must-show, the part test_fuzz_server.py left to the page):
a signed-in school contact and officer post generated actions (real verbs with junk data and junk inputs, unknown
verbs, malformed JSON) and typed commands to ``/web/act`` and ``/web/say``, with their valid CSRF token, against the
product's own server on the demo LA, on SQLite and PostgreSQL. Every value is invalid by construction, so: no 5xx, no
handler crash (the turn counter's ``error`` outcome stays 0), and nothing changes in the booking tables."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prod_figures import record_figures
from sqlmodel import select
from test_fuzz_server import FUZZ, WATCHED, Served, card_data, garbage_text, json_values, module_pg_url  # noqa: F401

from tsm.messaging import Recipient


class SignedIn:
    """A browser-like client (cookies kept) signed in to the page through a real sign-in link."""

    def __init__(self, served: Served, recipient: Recipient) -> None:
        self.http = httpx.Client(base_url=served.base, timeout=30, follow_redirects=True)
        url = served.threads.run(served.app.signin.issue(recipient))
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        page = self.http.get(path).text
        action = re.search(r'<form[^>]*action="([^"]+)"', page).group(1)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
        home = self.http.post(action, data=fields)
        assert home.status_code == 200, home.text[:300]
        self.csrf = re.search(r'name="csrf"[^>]*value="([^"]+)"', home.text).group(1)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request):
    """The product's server on the demo LA (test_fuzz_server.Served), on SQLite and on PostgreSQL."""
    s = Served(request.getfixturevalue("module_pg_url")) if request.param == "postgres" else Served()
    yield s
    s.close()


@pytest.fixture(scope="module")
def web(served):
    from tsm.adapters.db.directory import Officer, SchoolContact

    async def people():
        async with served.app.db.reader() as s:
            contact = (await s.exec(select(SchoolContact).order_by(SchoolContact.id))).first()
            officer = (await s.exec(select(Officer).where(Officer.is_admin == False))).first()  # noqa: E712
        return contact.id, officer.id

    contact_id, officer_id = served.threads.run(people())
    users = {
        "contact": SignedIn(served, Recipient("contact", contact_id)),
        "officer": SignedIn(served, Recipient("officer", officer_id)),
    }
    stats = {"posts": 0, "5xx": 0}
    before = (
        served.counts()
    )  # after signing in (a sign-in is audited): the posts themselves must change nothing
    yield users, stats
    after = served.counts()
    record_figures(
        "fuzz_web",
        {
            "posts": stats["posts"],
            "status_5xx": stats["5xx"],
            "booking_tables_changed": sum(after[t] != before[t] for t in WATCHED),
        },
    )
    for u in users.values():
        u.http.close()
    assert after == before, "invalid input on the web page changed the booking tables"


@st.composite
def actions(draw, verbs: list[str]) -> tuple[str, dict]:
    """(path, form fields) of one post: a button press with junk, or a typed command."""
    if draw(st.integers(0, 4)) == 0:
        words = st.sampled_from(
            ["book", "my meetings", "cancel", "move", "my schools", "add colleague", "record"]
        )
        return "/web/say", {
            "text": draw(st.one_of(garbage_text, st.builds(lambda w, t: f"{w} {t}", words, garbage_text)))
        }
    verb = draw(st.one_of(*[st.sampled_from(verbs)] * 4, garbage_text))
    action = {"verb": verb, "data": draw(card_data), "inputs": draw(st.booleans())}
    value = draw(
        st.one_of(*[st.just(json.dumps(action))] * 5, st.builds(json.dumps, json_values), garbage_text)
    )
    fields = {"action": value}
    for key, v in draw(card_data).items():
        fields[f"i.{key}"] = v if isinstance(v, str) else json.dumps(v)
    return "/web/act", fields


@FUZZ
@given(data=st.data())
def test_the_web_pages_forms_never_5xx_nor_crash_a_handler_nor_change_anything(served, web, data):
    users, stats = web
    who = data.draw(st.sampled_from(sorted(users)))
    path, fields = data.draw(actions(served.verbs))
    errors_before = served.errors()
    r = users[who].http.post(path, data={"csrf": users[who].csrf, **fields})
    stats["posts"] += 1
    stats["5xx"] += r.status_code >= 500
    assert r.status_code < 500, (path, fields, r.status_code, r.text[:300])
    assert served.errors() == errors_before, f"a handler crashed on {path} {json.dumps(fields)[:600]}"


def test_the_fuzzed_page_users_reach_the_handlers(served, web):
    """The property above proves something only if the signed-in users' posts reach the router."""
    users, _ = web
    before = served.counts()
    r = users["contact"].http.post("/web/say", data={"csrf": users["contact"].csrf, "text": "my meetings"})
    assert r.status_code == 200 and "meetings" in r.text.lower()
    assert served.counts() == before
    assert set(before) == set(WATCHED)
