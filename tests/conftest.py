"""Shared fixtures: a migrated SQLite file per test, and a fresh PostgreSQL database per test.

PostgreSQL tests skip only when no server is reachable AND CI is unset; under CI=true they fail.
"""

from __future__ import annotations

import os
import tempfile
import uuid

import psycopg
import pytest

from tsm.adapters.db.engine import Database
from tsm.adapters.db.migrate import upgrade

# Emails that tests write with the default backend (.eml files) go to a folder of the run's own, not the work
# tree's var/mail; a test that reads them gives its own folder (TSM_MAIL_DIR / Settings(mail_dir=...)).
os.environ.setdefault("TSM_MAIL_DIR", tempfile.mkdtemp(prefix="tsm-test-mail-"))

PG_ADMIN_URL = os.environ.get("TSM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL.replace("postgresql://", "postgresql://", 1), connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path}/tsm.db"
    upgrade(url)
    return url


@pytest.fixture
def pg_url():
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"PostgreSQL is required under CI but unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"no PostgreSQL reachable ({problem}); set CI=true to make this a failure")
    name = f"tsm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db_url(request):
    """The same test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
async def connector():
    """A fake Bot Connector (tests/fakes/connector.py) listening on loopback."""
    from aiohttp.test_utils import TestServer
    from fakes.connector import FakeConnector

    fake = FakeConnector()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/") + "/"
    yield fake
    await server.close()


@pytest.fixture
async def db(sqlite_url):
    database = Database(sqlite_url)
    yield database
    await database.dispose()
