"""The lock files: ``requirements.lock`` (what the image runs) and ``requirements-dev.lock`` (what ``make test``
and CI run: the same pins plus the dev extra), both pip requirement files with a hash for every file.

``pyproject.toml`` keeps the library ranges; the lock files pin one version of everything, the build backend
(setuptools, wheel) and pip included, so the project itself installs with ``--no-deps --no-build-isolation``
and nothing outside the lock is downloaded. Only pip is needed to install from them.

They are written by uv's ``pip compile --universal`` (a pinned uv, installed by ``make lock`` into a venv of its
own): one resolution valid on every Python the project supports (3.11 on a developer's machine, 3.12 in the
image) and every platform, with environment markers where the versions differ (numpy and contourpy do between
3.11 and 3.12). pip-compile resolves for the interpreter that runs it only.

Each lock starts with ``# pyproject-sha256: ...``, a hash of the parts of ``pyproject.toml`` that decide what is
installed (requires-python, dependencies, optional dependencies, build requirements). ``check`` compares it, so
the Makefile can tell a lock that no longer matches ``pyproject.toml`` (run ``make lock``) whatever the files'
modification times (a fresh clone's are arbitrary).

    python dev/lockfile.py check             # exit 1 and say "run make lock" when a lock is stale or missing
    python dev/lockfile.py compile --uv PATH [--upgrade | --upgrade-package NAME ...]

Run by the Makefile with the machine's Python (3.11+, standard library only).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
RUNTIME_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
LOCKS = (RUNTIME_LOCK, DEV_LOCK)
MARK = "# pyproject-sha256: "
MIN_PYTHON = "3.11"
DEV_EXTRAS = ("dev",)
TOOLING = ("pip",)  # locked too, so the venv's installer is a known version


def pyproject_digest(path: Path | None = None) -> str:
    """A hash of what decides the installed set: a change to ruff's settings does not make the lock stale."""
    data = tomllib.loads((path or PYPROJECT).read_text(encoding="utf-8"))
    project = data.get("project", {})
    relevant = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            k: sorted(v) for k, v in sorted(project.get("optional-dependencies", {}).items())
        },
        "build-requires": sorted(data.get("build-system", {}).get("requires", [])),
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def recorded_digest(lock: Path) -> str | None:
    if not lock.exists():
        return None
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(MARK):
            return line[len(MARK) :].strip()
    return None


def stale_locks() -> list[str]:
    """The locks that are missing or were made from another pyproject.toml, with why."""
    want = pyproject_digest()
    problems = []
    for lock in LOCKS:
        got = recorded_digest(lock)
        if got is None:
            problems.append(f"{lock.name} is missing or has no '{MARK.strip()}' line")
        elif got != want:
            problems.append(f"{lock.name} was made from another pyproject.toml (dependencies changed since)")
    return problems


def check() -> int:
    problems = stale_locks()
    if not problems:
        return 0
    for p in problems:
        print(f"lock: {p}", file=sys.stderr)
    print("lock: run `make lock` (and commit requirements.lock and requirements-dev.lock)", file=sys.stderr)
    return 1


def _stamp(lock: Path, digest: str) -> None:
    lines = [ln for ln in lock.read_text(encoding="utf-8").splitlines() if not ln.startswith(MARK)]
    lock.write_text("\n".join([MARK + digest, *lines]) + "\n", encoding="utf-8")


def compile_locks(uv: str, upgrade: bool = False, upgrade_packages: tuple[str, ...] = ()) -> int:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    build = [*data.get("build-system", {}).get("requires", []), *TOOLING]
    digest = pyproject_digest()
    common = [
        "pip",
        "compile",
        "--universal",
        "--python-version",
        MIN_PYTHON,
        "--generate-hashes",
        "--custom-compile-command",
        "make lock",
        "--quiet",
    ]
    common += (
        ["--upgrade"] if upgrade else [p for name in upgrade_packages for p in ("--upgrade-package", name)]
    )
    # The build requirements and pip come on standard input ("-"), so no temporary path ends up in the locks.
    # The dev lock is resolved first (everything), the runtime lock within it: the same pin for every package both
    # hold. An existing lock's pins are kept unless upgraded (uv reads the output file as preferences).
    dev = [uv, *common, PYPROJECT.name, "-", *(f"--extra={e}" for e in DEV_EXTRAS), "-o", DEV_LOCK.name]
    runtime = [uv, *common, PYPROJECT.name, "-", "-c", DEV_LOCK.name, "-o", RUNTIME_LOCK.name]
    for cmd in (dev, runtime):
        done = subprocess.run(cmd, cwd=ROOT, input="\n".join(build) + "\n", text=True)
        if done.returncode:
            return done.returncode
    for lock in LOCKS:
        _stamp(lock, digest)
        print(f"lock: wrote {lock.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="exit 1 when a lock is missing or stale")
    comp = sub.add_parser("compile", help="write both locks")
    comp.add_argument("--uv", required=True, help="the uv executable")
    comp.add_argument("--upgrade", action="store_true", help="every package to its newest allowed version")
    comp.add_argument(
        "--upgrade-package",
        action="append",
        default=[],
        metavar="NAME",
        help="this package (and what it needs) to its newest allowed version",
    )
    args = parser.parse_args(argv)
    if args.command == "check":
        return check()
    return compile_locks(args.uv, args.upgrade, tuple(args.upgrade_package))


if __name__ == "__main__":
    sys.exit(main())
