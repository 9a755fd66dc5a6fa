"""Bot and worker processes for the multi-instance and fault tests: the real ``tsm run`` and ``tsm worker``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(db_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSM_")}
    env.update(
        {
            "TSM_DATABASE_URL": db_url,
            "TSM_CALENDAR_BACKEND": "local",
            "TSM_HOST": "127.0.0.1",
            "TSM_INVITATIONS_DIR": str(workdir / "invitations"),
            "TSM_LOG_FORMAT": "json",
            "TSM_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    env.update(extra)
    return env


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    port: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self, timeout: float = 20) -> int | None:
        if self.alive():
            self.popen.send_signal(signal.SIGCONT)  # in case a test paused it
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        return self.popen.returncode

    def kill9(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)


def start(name: str, args: list[str], env: dict[str, str], workdir: Path, port: int | None = None) -> Proc:
    log = workdir / f"{name}.log"
    fh = open(log, "wb")  # noqa: SIM115 - closed with the process
    popen = subprocess.Popen(
        [sys.executable, "-m", "tsm", *args],
        cwd=workdir,
        env=env,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Proc(name, popen, log, port)


def start_bot(name: str, db_url: str, workdir: Path, **extra: str) -> Proc:
    port = free_port()
    env = base_env(db_url, workdir, TSM_PORT=str(port), TSM_RUN_SCHEDULER="false", **extra)
    return start(name, ["run"], env, workdir, port)


def start_worker(name: str, db_url: str, workdir: Path, **extra: str) -> Proc:
    env = base_env(db_url, workdir, **extra)
    return start(name, ["worker", "--worker-id", name], env, workdir)


def wait_healthy(proc: Proc, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            r = httpx.get(proc.url + "/healthz", timeout=2)
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise AssertionError(f"{proc.name} not healthy in {timeout}s ({last}):\n{proc.tail()}")


def wait_log(proc: Proc, needle: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in proc.tail(400):
            return
        if not proc.alive():
            raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        time.sleep(0.2)
    raise AssertionError(f"{proc.name} never logged {needle!r}:\n{proc.tail()}")
