"""Microsoft's JSON schema for the Teams app manifest, from the npm package ``@microsoft/app-manifest``.

The schema is not vendored: it is installed on demand with npm into a cache folder (``.cache/npm`` at
the repository root unless ``TSM_NPM_CACHE`` names another) and read from there.  The package version
is pinned, so every machine validates against the same schema.

The schemas are draft-04 but use a few later keywords; ``const`` (which pins ``manifestVersion`` to
the schema's own version) is one, so the validator here is draft-04 with ``const`` added, and with
``pattern`` made to cope with the one ECMAScript-only regex escape the schemas use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft6Validator, FormatChecker, ValidationError, validators

#: Exact version of the npm package whose schema we validate against.
NPM_PACKAGE = "@microsoft/app-manifest"
NPM_PACKAGE_VERSION = "1.1.2"

#: Manifest schema version used by manifest.template.json: the newest in NPM_PACKAGE_VERSION.
MANIFEST_VERSION = "1.30"

SCHEMA_URL = (
    f"https://developer.microsoft.com/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
)

_REPO_ROOT = Path(__file__).resolve().parent.parent
_NPM_TIMEOUT_S = 600


class SchemaUnavailable(RuntimeError):
    """The schema could not be installed (npm missing, registry unreachable, ...)."""


def default_cache_dir() -> Path:
    env = os.environ.get("TSM_NPM_CACHE")
    return Path(env) if env else _REPO_ROOT / ".cache" / "npm"


def _package_dir(cache_dir: Path) -> Path:
    return cache_dir / "node_modules" / "@microsoft" / "app-manifest"


def _schema_file(cache_dir: Path, manifest_version: str) -> Path:
    return (
        _package_dir(cache_dir)
        / "build"
        / "json-schemas"
        / "teams"
        / f"v{manifest_version}"
        / "MicrosoftTeams.schema.json"
    )


def _installed_version(cache_dir: Path) -> str | None:
    try:
        meta = json.loads((_package_dir(cache_dir) / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta.get("version")


def schema_path(manifest_version: str = MANIFEST_VERSION, *, cache_dir: Path | None = None) -> Path:
    """Path to ``MicrosoftTeams.schema.json`` for ``manifest_version``, installing the npm package if needed.

    Raises SchemaUnavailable, with what to do about it, if npm is missing or the install fails.
    """
    cache_dir = (cache_dir or default_cache_dir()).resolve()
    path = _schema_file(cache_dir, manifest_version)
    if path.is_file() and _installed_version(cache_dir) == NPM_PACKAGE_VERSION:
        return path

    npm = shutil.which("npm")
    if npm is None:
        raise SchemaUnavailable(
            f"npm is not on PATH: it is needed to install {NPM_PACKAGE}@{NPM_PACKAGE_VERSION}, "
            f"which holds Microsoft's Teams manifest schema. Install Node.js (with npm) or put the "
            f"package under {cache_dir / 'node_modules'} yourself."
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [
        npm,
        "install",
        "--no-save",
        "--ignore-scripts",
        "--no-audit",
        "--no-fund",
        "--prefix",
        str(cache_dir),
        f"{NPM_PACKAGE}@{NPM_PACKAGE_VERSION}",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_NPM_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise SchemaUnavailable(f"`{' '.join(cmd)}` did not finish within {_NPM_TIMEOUT_S} s") from exc
    if proc.returncode != 0:
        raise SchemaUnavailable(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}:\n{proc.stderr.strip()[-2000:]}"
        )
    if not path.is_file():
        raise SchemaUnavailable(
            f"{NPM_PACKAGE}@{NPM_PACKAGE_VERSION} installed, but it has no schema for manifest "
            f"version {manifest_version} (looked for {path})"
        )
    return path


def load_schema(manifest_version: str = MANIFEST_VERSION, *, cache_dir: Path | None = None) -> dict[str, Any]:
    return json.loads(schema_path(manifest_version, cache_dir=cache_dir).read_text(encoding="utf-8-sig"))


def _python_pattern(pattern: str) -> str:
    """``pattern`` (ECMAScript) as a Python regex.

    The schemas use ``\\p{L}`` (any letter), which Python's ``re`` lacks; it becomes ``\\w``, which
    is looser (it also takes digits and ``_``).  It appears only in Office add-in extensions, which
    this app does not use.
    """
    try:
        re.compile(pattern)
        return pattern
    except re.error:
        return pattern.replace(r"\p{L}", r"\w")


def _pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not re.search(_python_pattern(patrn), instance):
        yield ValidationError(f"{instance!r} does not match {patrn!r}")


def _validator_class():
    # No `version=`: that would register the class as *the* draft-04 validator process-wide.
    return validators.extend(
        Draft4Validator, {"const": Draft6Validator.VALIDATORS["const"], "pattern": _pattern}
    )


def validation_errors(manifest: dict[str, Any], schema: dict[str, Any] | None = None) -> list[str]:
    """Every way ``manifest`` breaks Microsoft's schema for its ``manifestVersion``, as readable lines.

    An empty list means valid.
    """
    if schema is None:
        schema = load_schema(str(manifest.get("manifestVersion", MANIFEST_VERSION)))
    cls = _validator_class()
    # Without format checking: the meta-schema's "regex" format would reject the \p{L} pattern.
    cls.check_schema(schema, format_checker=None)
    validator = cls(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"/{'/'.join(str(p) for p in e.absolute_path)}: {_shorten(e.message)}" for e in errors]


def _shorten(message: str, limit: int = 300) -> str:
    # jsonschema quotes the whole offending value ("[...12 commands...] is too long").
    return message if len(message) <= limit else message[: limit - 25] + " ... " + message[-20:]
