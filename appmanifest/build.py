"""Fill manifest.template.json and zip it with the icons into a Teams app package.

The package is what an LA's Teams admin uploads (Teams admin centre → Manage apps → Upload): a zip with
``manifest.json``, ``color.png`` and ``outline.png`` at its root.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

TEMPLATE_NAME = "manifest.template.json"
ICON_NAMES = ("color.png", "outline.png")

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# The schema's own "semver" definition: MAJOR.MINOR.PATCH, no pre-release or build part.
SEMVER_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DOMAIN_RE = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})+(?::[0-9]{{1,5}})?$")
_PLACEHOLDER_RE = re.compile(r"\{\{[A-Z_]+\}\}")

#: Developer fields that may be overridden.
DEVELOPER_FIELDS = ("name", "websiteUrl", "privacyUrl", "termsOfUseUrl", "mpnId")
#: Text in the template's developer block that marks it as a placeholder for the LA to replace.
DEVELOPER_PLACEHOLDER_MARKERS = ("(LA to edit)", "example-council.gov.uk")

_MAX_VALID_DOMAINS = 100


PACKAGE_DIR = Path(__file__).resolve().parent


def _read_resource(name: str) -> bytes:
    return (PACKAGE_DIR / name).read_bytes()


def _check_guid(value: str, what: str) -> str:
    if not isinstance(value, str) or not GUID_RE.match(value.strip()):
        raise ValueError(
            f"{what} must be a GUID such as 1b4f8c5e-2d7a-4e61-9c3b-0a8d5f6e7b21 "
            f"(the Microsoft App ID from the Azure Bot resource), got {value!r}"
        )
    return value.strip().lower()


def _check_version(version: str) -> str:
    if not isinstance(version, str) or not SEMVER_RE.match(version):
        raise ValueError(
            f"version must be MAJOR.MINOR.PATCH with plain numbers (e.g. 1.0.3), got {version!r}; "
            "Teams only accepts an upload whose version is higher than the installed one"
        )
    return version


def _check_domains(valid_domains: Iterable[str]) -> list[str]:
    if isinstance(valid_domains, str):
        valid_domains = [valid_domains]
    out: list[str] = []
    for d in valid_domains:
        d = d.strip()
        if not DOMAIN_RE.match(d):
            raise ValueError(
                f"valid domain {d!r} must be a host name such as tsm.example.gov.uk or *.example.gov.uk, "
                "with no scheme (https://) and no path"
            )
        if d.lower() not in (x.lower() for x in out):
            out.append(d)
    if len(out) > _MAX_VALID_DOMAINS:
        raise ValueError(f"at most {_MAX_VALID_DOMAINS} valid domains, got {len(out)}")
    return out


def _check_developer(developer: Mapping[str, str]) -> dict[str, str]:
    unknown = set(developer) - set(DEVELOPER_FIELDS)
    if unknown:
        raise ValueError(f"unknown developer field(s) {sorted(unknown)}; allowed: {list(DEVELOPER_FIELDS)}")
    out: dict[str, str] = {}
    for key, value in developer.items():
        if value is None:
            continue
        value = str(value).strip()
        if key.endswith("Url") and not value.lower().startswith("https://"):
            raise ValueError(f"developer {key} must be an https:// URL, got {value!r}")
        if key == "name" and not 0 < len(value) <= 32:
            raise ValueError(f"developer name must be 1-32 characters, got {len(value)}: {value!r}")
        if key == "mpnId" and len(value) > 10:
            raise ValueError(f"developer mpnId is at most 10 characters, got {value!r}")
        out[key] = value
    return out


def _substitute(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        for key, value in values.items():
            node = node.replace("{{" + key + "}}", value)
        return node
    if isinstance(node, list):
        return [_substitute(x, values) for x in node]
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    return node


def render_manifest(
    bot_id: str,
    *,
    app_id: str | None = None,
    version: str = "1.0.0",
    valid_domains: Iterable[str] = (),
    developer: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The manifest as a dict: the template with bot id, app id (default: the bot id) and version filled in.

    ``valid_domains`` are host names (no scheme); ``developer`` overrides fields of the template's
    placeholder developer block (name, websiteUrl, privacyUrl, termsOfUseUrl, mpnId).
    Raises ValueError for a bot or app id that is not a GUID, or a version that is not MAJOR.MINOR.PATCH.
    """
    bot_id = _check_guid(bot_id, "bot id")
    app_id = bot_id if app_id is None else _check_guid(app_id, "app id")
    version = _check_version(version)
    domains = _check_domains(valid_domains)
    dev = _check_developer(developer or {})

    template = json.loads(_read_resource(TEMPLATE_NAME).decode("utf-8"))
    manifest = _substitute(template, {"BOT_ID": bot_id, "APP_ID": app_id, "VERSION": version})
    leftover = _PLACEHOLDER_RE.findall(json.dumps(manifest))
    if leftover:  # a template bug, not the caller's
        raise RuntimeError(f"{TEMPLATE_NAME} has unfilled placeholders: {sorted(set(leftover))}")
    manifest["validDomains"] = [*manifest.get("validDomains", []), *domains]
    manifest["developer"].update(dev)
    return manifest


def developer_is_placeholder(manifest: Mapping[str, Any]) -> bool:
    """True while the developer block still holds the template's made-up council."""
    text = json.dumps(manifest.get("developer", {}))
    return any(marker in text for marker in DEVELOPER_PLACEHOLDER_MARKERS)


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed: same input, same bytes
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def build_package(
    bot_id: str,
    out: Path,
    *,
    app_id: str | None = None,
    version: str = "1.0.0",
    valid_domains: Iterable[str] = (),
    developer: Mapping[str, str] | None = None,
) -> Path:
    """Write the Teams app package (zip) and return its path.

    ``out`` is the zip's path; if it is an existing directory, the zip is written into it as
    ``tsm-bot-teams-<version>.zip``.  Missing parent directories are created; the file is replaced
    atomically.  Arguments as for render_manifest (ValueError for a bad bot id).
    """
    manifest = render_manifest(
        bot_id, app_id=app_id, version=version, valid_domains=valid_domains, developer=developer
    )
    out = Path(out)
    if out.is_dir():
        out = out / f"tsm-bot-teams-{manifest['version']}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)

    payload = {"manifest.json": (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
    for name in ICON_NAMES:
        payload[name] = _read_resource(name)

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data in payload.items():
                zf.writestr(_zip_entry(name), data)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
