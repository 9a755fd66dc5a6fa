"""Fixtures for the production tests: a private, throw-away PostgreSQL cluster that a test may restart.

The machine's server on 5432 is shared and never restarted; ``private_pg`` runs initdb/pg_ctl from
/usr/lib/postgresql/*/bin in a temporary directory on a free port (as the ``postgres`` user when the tests
run as root, since initdb refuses root). Without the binaries the test is skipped, unless CI=true.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tsm.adapters.db.migrate import upgrade


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def skip_or_fail(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(f"{reason}; set CI=true to make this a failure")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrivatePostgres:
    bindir: Path
    datadir: Path
    port: int
    as_user: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user:
            cmd = ["runuser", "-u", self.as_user, "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)

    def pg_ctl(self, action: str, *extra: str) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.datadir} -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-o",
            opts,
            "-w",
            "-t",
            "30",
            "-l",
            str(self.datadir / "server.log"),
            *extra,
            action,
        )

    def start(self) -> None:
        self.pg_ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self.pg_ctl("restart", "-m", mode)


def _bindir() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pg_ctl")):
            return Path(d)
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


@pytest.fixture
def private_pg():
    bindir = _bindir()
    if bindir is None:
        skip_or_fail("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    as_user = None
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            skip_or_fail("running as root without runuser: initdb refuses root")
        as_user = "postgres"
    tmp = Path(tempfile.mkdtemp(prefix="tsm-pg-"))
    datadir = tmp / "data"
    datadir.mkdir()
    if as_user:
        shutil.chown(tmp, as_user)
        shutil.chown(datadir, as_user)
    pg = PrivatePostgres(bindir, datadir, free_port(), as_user)
    pg._run("initdb", "-D", str(datadir), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    pg.start()
    try:
        with psycopg.connect(pg.admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tsm")
        upgrade(pg.url("tsm"))
        yield pg
    finally:
        try:
            pg.stop("immediate")
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(tmp, ignore_errors=True)


PG_ADMIN_URL = os.environ.get("TSM_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def empty_pg_url():
    """A fresh PostgreSQL database with no schema at all (``pg_url`` migrates it; this one does not)."""
    import uuid

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001
        skip_or_fail(f"no PostgreSQL reachable at {PG_ADMIN_URL} ({type(exc).__name__})")
    name = f"tsm_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
