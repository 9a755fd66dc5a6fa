"""The image (``Dockerfile``) and ``compose.yaml``.

Without a Docker engine (this project's machines have only the client) the files are checked as data: the
stages, the user and the command of the image; the services, their order and health checks in compose; the
commands they run are the CLI's. ``docker compose config`` validates compose.yaml when the compose plugin is
installed. With an engine (``docker info`` answers), ``test_compose_up_serves_healthz_and_a_teams_activity``
builds the image and brings the stack up: skipped, saying why, when there is none.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from fakes.connector import FakeConnector, ThreadServer, message

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ the Dockerfile, parsed


def dockerfile_stages() -> list[dict]:
    """Each stage: its base, name and instructions ((KEYWORD, argument text)), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    args: dict[str, str] = {}
    stages: list[dict] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
            continue
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append({"base": base, "name": name, "instructions": []})
            continue
        assert stages, f"instruction before FROM: {line}"
        stages[-1]["instructions"].append((keyword, rest.strip()))
    return stages


def _exec_form(arg: str) -> list[str]:
    return json.loads(arg) if arg.startswith("[") else shlex.split(arg)


def test_image_is_multi_stage_slim_non_root_and_runs_the_cli():
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    final = stages[-1]
    base = final["base"]
    m = re.fullmatch(r"python:3\.(\d+)-slim(?:-\w+)?", base)
    assert m and int(m.group(1)) >= 12, f"the final stage is Python 3.12+ slim, not {base}"
    ins = final["instructions"]
    # Non-root: a USER that is neither root nor uid 0, after which nothing switches back.
    users = [arg for kw, arg in ins if kw == "USER"]
    assert users, "the final stage sets a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    # No build tools and no downloads in the final stage: its only Python packages are copied from the build stage.
    runs = " ".join(arg for kw, arg in ins if kw == "RUN")
    for tool in ("gcc", "build-essential", "apt-get install", "pip install", "make "):
        assert tool not in runs, f"the final stage runs {tool!r}"
    copies = [arg for kw, arg in ins if kw == "COPY"]
    assert any(c.startswith(f"--from={stages[0]['name']} /opt/tsm") for c in copies)
    # The bot by default, the worker (or the migrations) by command: the entry point is the CLI.
    entry = [_exec_form(arg) for kw, arg in ins if kw == "ENTRYPOINT"][-1]
    cmd = [_exec_form(arg) for kw, arg in ins if kw == "CMD"][-1]
    assert entry == ["tsm"] and cmd == ["run"]
    env = " ".join(arg for kw, arg in ins if kw == "ENV")
    assert "TSM_HOST=0.0.0.0" in env  # reachable from outside the container (the default is loopback)


def test_build_stage_installs_the_lock_with_hashes_and_the_project_without_deps():
    build = dockerfile_stages()[0]
    runs = [arg for kw, arg in build["instructions"] if kw == "RUN"]
    lock_installs = [r for r in runs if "-r /tmp/requirements.lock" in r]
    assert (
        lock_installs and "--require-hashes" in lock_installs[0] and "--only-binary=:all:" in lock_installs[0]
    )
    assert any("--no-deps --no-build-isolation ." in r for r in runs)
    copies = [arg for kw, arg in build["instructions"] if kw == "COPY"]
    assert "requirements.lock /tmp/requirements.lock" in copies
    # Every package the product imports is copied into the build (pyproject's package list).
    packages = {"tsm", "bot", "cards", "scheduler", "appmanifest"}
    assert packages <= {c.split()[0] for c in copies}
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert not packages & set(ignored) and ".venv" in ignored and ".git" in ignored


# ------------------------------------------------------------------ compose.yaml, read as data


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _cli_commands() -> set[tuple[str, ...]]:
    import click

    from tsm import cli

    group = next(v for v in vars(cli).values() if isinstance(v, click.Group) and "worker" in v.commands)
    out: set[tuple[str, ...]] = set()
    for name, cmd in group.commands.items():
        out.add((name,))
        for sub in getattr(cmd, "commands", {}):
            out.add((name, sub))
    return out


def test_compose_has_postgres_migrations_one_bot_one_worker_in_order():
    services = compose()["services"]
    assert set(services) == {"db", "migrate", "bot", "worker"}
    assert services["db"]["image"].startswith("postgres:")
    cli = _cli_commands()
    assert tuple(services["migrate"]["command"]) == ("db", "upgrade") and ("db", "upgrade") in cli
    assert tuple(services["bot"]["command"]) == ("run",) and ("run",) in cli
    assert tuple(services["worker"]["command"]) == ("worker",) and ("worker",) in cli
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart") == "no"
    for name in ("bot", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert services[name]["image"] == services["migrate"]["image"]  # one image, the command chooses
        env = services[name]["environment"]
        assert env["TSM_DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["TSM_DATABASE_URL"]
        assert env["TSM_RUN_SCHEDULER"] == "false"  # exactly one process runs the sweeps: the worker
        # Production settings pass through from the host's environment (an app id needs the public URL too).
        for name in ("TSM_MICROSOFT_APP_ID", "TSM_MICROSOFT_APP_PASSWORD", "TSM_PUBLIC_URL"):
            assert env[name] == "${" + name + ":-}"
    # The bot is published on loopback only (no authentication without an app id).
    assert all(p.startswith("127.0.0.1:") for p in services["bot"]["ports"])


def test_compose_health_checks_use_healthz_on_the_ports_the_processes_serve():
    services = compose()["services"]
    bot_check = " ".join(services["bot"]["healthcheck"]["test"])
    worker_check = " ".join(services["worker"]["healthcheck"]["test"])
    assert "http://127.0.0.1:3978/healthz" in bot_check
    port = services["worker"]["environment"]["TSM_WORKER_METRICS_PORT"]
    assert f"http://127.0.0.1:{port}/healthz" in worker_check
    # The image's default port is the one checked; the checks use the image's Python (the slim image has no curl).
    env = " ".join(arg for kw, arg in dockerfile_stages()[-1]["instructions"] if kw == "ENV")
    assert "TSM_PORT=3978" in env
    assert services["bot"]["healthcheck"]["test"][:2] == ["CMD", "python"]
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])


def _compose_cli() -> list[str] | None:
    if (
        shutil.which("docker")
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_config_accepts_the_file():
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "no Docker Compose client here (docker compose / docker-compose): compose.yaml checked as data only"
        )
    done = subprocess.run(
        [*cli, "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ with a Docker engine: build and start it


def _engine_problem() -> str | None:
    if not shutil.which("docker"):
        return "no docker client"
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True
    )
    if done.returncode != 0:
        return f"no Docker engine ({(done.stderr.strip().splitlines() or ['docker info failed'])[-1]})"
    if _compose_cli() is None:
        return "no Docker Compose client"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(_engine_problem() is not None, reason=f"needs a Docker engine: {_engine_problem()}")
def test_compose_up_serves_healthz_and_a_teams_activity():
    cli = _compose_cli()
    assert cli is not None
    project = f"tsm-test-{uuid.uuid4().hex[:8]}"
    bot_port = _free_port()
    env = {**os.environ, "TSM_BOT_PORT": str(bot_port), "TSM_IMAGE": f"{project}:test"}
    base = [*cli, "-f", str(ROOT / "compose.yaml"), "-p", project]
    server = ThreadServer()
    fake = FakeConnector()
    try:
        # The fake connector listens on the host's interfaces: the bot reaches it as host.docker.internal.
        port = server.run(_serve_for_containers(server, fake))
        up = subprocess.run(
            [*base, "up", "--build", "--detach", "--wait", "--wait-timeout", "300"],
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=1200,
        )
        assert up.returncode == 0, up.stdout + up.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{bot_port}/healthz", timeout=10) as r:
            health = json.load(r)
        assert r.status == 200 and health["status"] == "ok" and health["database"]["backend"] == "postgresql"
        # The image runs as its unprivileged user.
        uid = subprocess.run(
            [*base, "exec", "-T", "bot", "id", "-u"], env=env, capture_output=True, text=True
        )
        assert uid.stdout.strip() not in ("", "0")
        # A literal Teams activity: someone the directory does not know is answered through the connector.
        activity = message(f"http://host.docker.internal:{port}/", "hello")
        req = urllib.request.Request(
            f"http://127.0.0.1:{bot_port}/api/messages",
            data=json.dumps(activity).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status in (200, 201, 202)
        deadline = time.monotonic() + 30
        while not fake.texts() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert fake.texts(), "the bot's answer never reached the connector"
        # The worker is healthy too (compose's --wait waited for its /healthz).
        ps = subprocess.run([*base, "ps", "--format", "json"], env=env, capture_output=True, text=True)
        assert "worker" in ps.stdout and "healthy" in ps.stdout
    finally:
        subprocess.run([*base, "down", "--volumes", "--rmi", "local"], env=env, capture_output=True, cwd=ROOT)
        server.close()


async def _serve_for_containers(server: ThreadServer, fake: FakeConnector) -> int:
    """Serve the fake connector on all interfaces (containers reach the host on its bridge address)."""
    from aiohttp import web

    runner = web.AppRunner(fake.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "0.0.0.0", 0).start()
    server._runners.append(runner)
    port = int(runner.addresses[0][1])
    fake.url = f"http://host.docker.internal:{port}/"
    return port


def test_readme_says_when_the_container_test_is_skipped():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docker compose up" in readme and "no Docker engine" in readme
