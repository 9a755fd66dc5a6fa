"""Issue 12 B8: slow clients. Without header or body timeouts, 300 slow clients under a low file-descriptor limit
locked everyone out and wrote tens of thousands of error lines. The real server (``tsm run``, in its own process,
``RLIMIT_NOFILE`` 256) with 1 s timeouts: 300 clients that send half their headers, or their headers and a trickle
of their body, are dropped within seconds; meanwhile and after, ``/healthz`` answers; the log holds a bounded
number of lines for the flood."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time

import httpx
import pytest
from processes import base_env, free_port

from tsm.adapters.db.migrate import upgrade

SLOW = 300
LIMIT = 256


def _low_fd_limit() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


@pytest.fixture
def bot(tmp_path):
    url = f"sqlite:///{tmp_path}/tsm.db"
    upgrade(url)
    port = free_port()
    env = base_env(
        url,
        tmp_path,
        TSM_PORT=str(port),
        TSM_RUN_SCHEDULER="false",
        TSM_HTTP_HEADER_TIMEOUT="1",
        TSM_HTTP_BODY_TIMEOUT="1",
        TSM_LOG_FORMAT="text",
    )
    log = tmp_path / "bot.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tsm", "run"],
            cwd=tmp_path,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            preexec_fn=_low_fd_limit,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code in (200, 503):
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the bot did not start:\n" + log.read_text()[-3000:])
    yield base, port, log
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()


def _open_slow(port: int, n: int) -> list[socket.socket]:
    socks = []
    for i in range(n):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
            if i % 2:  # headers, then only part of the body
                s.sendall(
                    b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b'Content-Length: 5000\r\n\r\n{"type":'
                )
            else:  # half the headers, never the rest
                s.sendall(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Ty")
        except OSError:
            pass
        socks.append(s)
    return socks


def _closed_by_server(s: socket.socket) -> bool:
    """EOF, a reset, or an answer (the server answers a broken request, then closes); False while it waits."""
    try:
        s.settimeout(0.05)
        s.recv(1024)
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_NOFILE"), reason="needs POSIX resource limits")
def test_slow_clients_are_dropped_and_do_not_lock_others_out(bot):
    base, port, log = bot
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < SLOW + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, SLOW + 500), hard))
    socks = _open_slow(port, SLOW)
    try:
        t0 = time.monotonic()
        r = httpx.get(base + "/healthz", timeout=15)  # while 300 slow clients are (or were) connected
        took = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert took < 5, f"/healthz took {took:.1f} s behind the slow clients"
        time.sleep(3)  # > both timeouts
        dropped = sum(_closed_by_server(s) for s in socks)
        assert dropped >= SLOW * 0.9, f"only {dropped} of {SLOW} slow clients were dropped"
        for _ in range(5):  # and the service keeps answering
            assert httpx.get(base + "/healthz", timeout=5).status_code == 200
    finally:
        for s in socks:
            s.close()
    lines = log.read_text(errors="replace").splitlines()
    accept_errors = [x for x in lines if "accept() out of system resource" in x]
    assert len(lines) < 400, f"{len(lines)} log lines for {SLOW} slow clients"
    assert len(accept_errors) <= 3, accept_errors[:5]
    print(
        f"\n[slow_clients] {SLOW} slow clients, /healthz in {took:.2f} s, {dropped} dropped, "
        f"{len(lines)} log lines, {len(accept_errors)} accept() errors logged"
    )
