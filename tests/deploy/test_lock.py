"""The lock files (``requirements.lock``, ``requirements-dev.lock``; ``dev/lockfile.py``, ``make lock``): made from
the pyproject.toml in the tree, every requirement pinned and hashed, the runtime pins the dev pins, and the
environment the tests run in holds exactly the locked versions (``make venv`` installs them with
``--require-hashes``)."""

from __future__ import annotations

import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from dev import lockfile

ROOT = Path(__file__).resolve().parents[2]
TOOLING = {"pip", "setuptools", "wheel"}  # the installer and the build backend: locked, not what the app runs
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$")


def pins(lock: Path) -> dict[str, list[tuple[str, str | None, int]]]:
    """name -> [(version, marker, number of hashes)] (a name can be pinned twice under exclusive markers)."""
    out: dict[str, list[tuple[str, str | None, int]]] = {}
    lines = lock.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        m = PIN.match(line)
        if not m:
            assert not re.match(r"^[A-Za-z0-9]", line), f"{lock.name}:{i + 1}: not an exact pin: {line!r}"
            continue
        hashes = 0
        for follow in lines[i + 1 :]:
            if not follow.startswith("    --hash=sha256:"):
                break
            hashes += 1
        out.setdefault(canonicalize_name(m.group(1)), []).append((m.group(2), m.group(3), hashes))
    return out


def active(entries: list[tuple[str, str | None, int]]) -> str | None:
    """The version pinned for this interpreter."""
    chosen = [v for v, marker, _ in entries if marker is None or Marker(marker).evaluate()]
    assert len(chosen) <= 1, entries
    return chosen[0] if chosen else None


def test_locks_were_made_from_this_pyproject(tmp_path):
    assert lockfile.stale_locks() == [], "the locks do not match pyproject.toml: run `make lock`"
    # The digest follows the dependencies: one added to a copy of pyproject.toml changes it...
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    changed = tmp_path / "pyproject.toml"
    changed.write_text(
        text.replace("dependencies = [", 'dependencies = [\n    "left-pad>=1",', 1), encoding="utf-8"
    )
    assert lockfile.pyproject_digest(changed) != lockfile.pyproject_digest()
    # ... a change outside them (a linter's setting) does not.
    changed.write_text(text + "\n[tool.example]\nx = 1\n", encoding="utf-8")
    assert lockfile.pyproject_digest(changed) == lockfile.pyproject_digest()


def test_every_requirement_is_pinned_with_hashes_and_every_dependency_is_locked():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, dev = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")
    for name, entries in [*runtime.items(), *dev.items()]:
        for version, _marker, hashes in entries:
            assert hashes >= 1, f"{name}=={version} has no hash"
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in runtime and name in dev, f"{req.name} is not in the locks: run `make lock`"
        for version, _marker, _ in runtime[name]:
            assert req.specifier.contains(version, prereleases=True), (
                f"{name}=={version} outside {req.specifier}"
            )
    for spec in project["optional-dependencies"]["dev"]:
        name = canonicalize_name(Requirement(spec).name)
        assert name in dev, f"{name} is not in requirements-dev.lock: run `make lock`"
        assert name in TOOLING or name not in runtime, f"{name} (dev only) is in the image's lock"
    # The image's pins are the developers' pins.
    for name, entries in runtime.items():
        assert sorted(entries) == sorted(dev[name]), f"{name}: requirements.lock {entries} != dev {dev[name]}"
    # The build backend is locked, so the project installs with --no-build-isolation.
    assert {"setuptools", "wheel", "pip"} <= set(runtime)


def test_the_environment_holds_the_locked_versions():
    """What `make venv` installed is what the dev lock pins (the tooling aside); a package installed by hand at
    another version, or a lock not rerun after a change to pyproject.toml, fails here."""
    wrong = {}
    for name, entries in pins(ROOT / "requirements-dev.lock").items():
        if name in TOOLING:
            continue
        want = active(entries)
        if want is None:
            continue
        try:
            got = md.version(name)
        except md.PackageNotFoundError:
            got = None
        if got != want:
            wrong[name] = (want, got)
    assert wrong == {}, f"(locked, installed) differ: {wrong}; run `make lock` then `make venv`"


def test_the_makefile_installs_the_lock_with_hashes_and_the_project_without_dependencies():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "--no-deps --no-build-isolation -e ." in makefile
    assert "LOCK := requirements-dev.lock" in makefile
    # `make -n` shows what the venv step would run for a new venv (nothing is run).
    out = subprocess.run(
        ["make", "-n", "venv", "VENV=/nonexistent/venv", f"PYTHON={sys.executable}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "dev/lockfile.py check" in out and "--require-hashes -r requirements-dev.lock" in out


def test_check_refuses_a_stale_lock_and_says_run_make_lock(tmp_path, monkeypatch):
    for name in ("requirements.lock", "requirements-dev.lock"):
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml")
        .read_text(encoding="utf-8")
        .replace("dependencies = [", 'dependencies = [\n "x",', 1),
        encoding="utf-8",
    )
    monkeypatch.setattr(lockfile, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(
        lockfile, "LOCKS", (tmp_path / "requirements.lock", tmp_path / "requirements-dev.lock")
    )
    assert lockfile.check() == 1
    assert len(lockfile.stale_locks()) == 2
    (tmp_path / "requirements.lock").unlink()
    assert "requirements.lock is missing" in lockfile.stale_locks()[0]
