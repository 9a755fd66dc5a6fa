"""The image's steps without a Docker engine: what the Dockerfile's build stage runs, run here with a Python of
the final stage's minor version (3.12, from pyenv or the PATH) into a temporary venv, from the committed sources
and ``requirements.lock``; then the processes compose.yaml starts (``db upgrade``, ``run``, ``worker``), with
compose's environment and health-check commands, on a PostgreSQL database of their own.

It shows that the lock installs on the image's Python with hashes and wheels only, that the project installs
with ``--no-deps`` and ``pip check`` passes, and that bot + worker come up healthy on PostgreSQL and answer a
literal Teams activity, where no engine can build the image (``test_container.py`` does that where one runs).
Skipped when no Python 3.12 is found, or no PostgreSQL answers (a failure under CI=true, like every PostgreSQL
test). About a minute with pip's cache, longer without.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from fakes.connector import FakeConnector, ThreadServer, message
from test_container import dockerfile_stages

ROOT = Path(__file__).resolve().parents[2]


def _python(minor: str) -> str | None:
    for candidate in (
        shutil.which(f"python{minor}"),
        *sorted(Path.home().glob(f".pyenv/versions/{minor}.*/bin/python{minor}"), reverse=True),
    ):
        if candidate and subprocess.run([str(candidate), "--version"], capture_output=True).returncode == 0:
            return str(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(
    check: list[str], env: dict, proc: subprocess.Popen, log: Path, seconds: float = 60
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {log.read_text()[-2000:]}")
        if subprocess.run(check, env=env, capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError(f"never healthy: {log.read_text()[-2000:]}")


def test_the_build_stage_and_the_compose_processes_work_without_an_engine(tmp_path, pg_url):
    final = dockerfile_stages()[-1]
    minor = re.fullmatch(r"python:(3\.\d+)-slim.*", final["base"]).group(1)
    python = _python(minor)
    if python is None:
        pytest.skip(f"no Python {minor} here to repeat the image's build stage")
    # The sources as the build stage sees them: the committed tree (git archive), the Dockerfile's COPY list.
    build = dockerfile_stages()[0]
    copies = [arg.split() for kw, arg in build["instructions"] if kw == "COPY"]
    src = tmp_path / "src"
    src.mkdir()
    archive = tmp_path / "src.tar"
    names = [name for c in copies for name in c[:-1]]  # every source of every COPY
    subprocess.run(["git", "archive", "-o", str(archive), "HEAD", *names], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(src, filter="data")
    (src / "tmp").mkdir()
    shutil.copy(src / "requirements.lock", src / "tmp" / "requirements.lock")
    # The build stage's RUN lines, with /opt/tsm and /tmp moved under tmp_path.
    venv = tmp_path / "opt" / "tsm"
    runs = [arg for kw, arg in build["instructions"] if kw == "RUN"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    for run in runs:
        cmd = run.replace("/opt/tsm", str(venv)).replace(
            "/tmp/requirements.lock", str(src / "tmp/requirements.lock")
        )
        cmd = re.sub(r"^python ", shlex.quote(python) + " ", cmd)
        done = subprocess.run(cmd, shell=True, cwd=src, env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert not (venv / "bin" / "pip").exists()  # removed from the final venv
    # The processes compose starts, with its environment (interpolated with its defaults) and its health checks.
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    image_env = dict(
        kv.split("=", 1) for kw, arg in final["instructions"] if kw == "ENV" for kv in shlex.split(arg)
    )
    bot_port, worker_port = _free_port(), _free_port()

    def env_for(service: str) -> dict:
        e = {**env, "PATH": f"{venv / 'bin'}:{env['PATH']}", "HOME": str(tmp_path)}
        e.update({k: v.replace("$PATH", env["PATH"]) for k, v in image_env.items() if k != "PATH"})
        for k, v in services[service]["environment"].items():
            e[k] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v))
        e["TSM_DATABASE_URL"] = pg_url  # the compose network's db host is this machine's PostgreSQL here
        e["TSM_PORT"] = str(bot_port)
        if "TSM_WORKER_METRICS_PORT" in e:
            e["TSM_WORKER_METRICS_PORT"] = str(worker_port)
        return e

    def check(service: str) -> list[str]:
        test = services[service]["healthcheck"]["test"][1:]  # after "CMD"
        test = [t.replace(":3978/", f":{bot_port}/").replace(":9100/", f":{worker_port}/") for t in test]
        return [str(venv / "bin" / test[0]), *test[1:]]

    home = tmp_path / "srv"
    home.mkdir()
    tsm = str(venv / "bin" / "tsm")
    done = subprocess.run(
        [tsm, *services["migrate"]["command"]],
        cwd=home,
        env=env_for("migrate"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    procs: list[subprocess.Popen] = []
    server = ThreadServer()
    try:
        logs = {}
        for service in ("bot", "worker"):
            logs[service] = tmp_path / f"{service}.log"
            procs.append(
                subprocess.Popen(
                    [tsm, *services[service]["command"]],
                    cwd=home,
                    env=env_for(service),
                    stdout=logs[service].open("w"),
                    stderr=subprocess.STDOUT,
                )
            )
        for proc, service in zip(procs, ("bot", "worker"), strict=True):
            _wait_healthy(check(service), env_for(service), proc, logs[service])
        with urllib.request.urlopen(f"http://127.0.0.1:{bot_port}/healthz", timeout=5) as r:
            health = json.load(r)
        assert health["status"] == "ok" and health["database"]["backend"] == "postgresql"
        assert health["scheduler"]["enabled"] is False  # the worker runs the sweeps
        # A literal Teams activity from someone the directory does not know: answered through the connector.
        fake = FakeConnector()
        fake.url = server.serve(fake.app()) + "/"
        req = urllib.request.Request(
            f"http://127.0.0.1:{bot_port}/api/messages",
            method="POST",
            data=json.dumps(message(fake, "hello")).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
        deadline = time.monotonic() + 20
        while not fake.texts() and time.monotonic() < deadline:
            time.sleep(0.1)
        [text] = fake.texts()
        assert "can't find you" in text
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.close()
    assert [p.returncode for p in procs] == [0, 0], "both stop cleanly on SIGTERM (docker stop)"
