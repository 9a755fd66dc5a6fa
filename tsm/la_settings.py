"""Each LA's own Microsoft 365 and email settings when several LAs share one deployment (issue 15): the tenant, the
app's credentials and the Graph endpoint its officers' Outlook calendars are reached with, and the sender (and shared
mailbox) of the emails to its people. ``TSM_LA_SETTINGS_FILE`` names a
TOML file with one table per LA code; an LA not in it uses the deployment's ``TSM_GRAPH_*`` settings::

    [la.926]
    graph_tenant_id = "..."                      # the LA's Entra tenant
    graph_client_id = "..."                      # its app registration (Calendars.ReadWrite, scoped to its officers)
    graph_client_secret_env = "NORFOLK_GRAPH_SECRET"   # the secret stays in the environment, named here
    # or graph_certificate_path = "/run/secrets/norfolk.pem" (+ graph_certificate_password_env)
    mail_from = "tsm@norfolk.gov.uk"             # the sender of emails to Norfolk's people (with graph: its mailbox)
    mail_from_name = "Norfolk TSM bookings"

Secrets are never written in the file: it names the environment variable that holds each. Bad keys, a missing
variable or an LA code that is not one are refused at start-up with a sentence.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from .settings import Settings

GRAPH_KEYS = {"graph_tenant_id", "graph_client_id", "graph_certificate_path", "graph_base_url"}
MAIL_KEYS = {"mail_from", "mail_from_name", "mail_graph_mailbox"}
PLAIN_KEYS = GRAPH_KEYS | MAIL_KEYS
SECRET_KEYS = {
    "graph_client_secret_env": "graph_client_secret",
    "graph_certificate_password_env": "graph_certificate_password",
}


class LaSettingsError(ValueError):
    """The per-LA settings file cannot be used (the message says why and where)."""


@dataclass(frozen=True)
class LaSettings:
    """An LA's settings: the deployment's, with what the LA's table gives of its own."""

    settings: Settings
    own_graph: bool  # its own tenant / credentials / endpoint: its own Graph calendar (and Graph mailer)
    own_mail: bool  # its own sender address or shared mailbox


def load_la_settings(settings: Settings) -> dict[str, LaSettings]:
    """LA code -> that LA's settings (the deployment's, with the LA's own Graph tenant, credentials and sender); {}
    without a file."""
    if not settings.la_settings_file:
        return {}
    path = Path(settings.la_settings_file)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LaSettingsError(f"TSM_LA_SETTINGS_FILE {path}: cannot read it ({exc.strerror}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise LaSettingsError(f"TSM_LA_SETTINGS_FILE {path}: not TOML ({exc}).") from None
    unknown_top = set(data) - {"la"}
    if unknown_top or not isinstance(data.get("la", {}), dict):
        raise LaSettingsError(
            f"TSM_LA_SETTINGS_FILE {path}: only [la.CODE] tables are read, not {sorted(unknown_top)}."
        )
    out: dict[str, LaSettings] = {}
    for code, table in data.get("la", {}).items():
        code = str(code)
        if not code.isdigit() or not isinstance(table, dict):
            raise LaSettingsError(f"TSM_LA_SETTINGS_FILE {path}: [la.{code}] is not an LA code's table.")
        unknown = set(table) - PLAIN_KEYS - set(SECRET_KEYS)
        if unknown:
            raise LaSettingsError(
                f"TSM_LA_SETTINGS_FILE {path}: [la.{code}] has unknown keys {sorted(unknown)} "
                f"(known: {sorted(PLAIN_KEYS | set(SECRET_KEYS))})."
            )
        update: dict = {k: str(v) for k, v in table.items() if k in PLAIN_KEYS}
        for key, field in SECRET_KEYS.items():
            if key in table:
                name = str(table[key])
                if name not in os.environ:
                    raise LaSettingsError(
                        f"TSM_LA_SETTINGS_FILE {path}: [la.{code}] {key} names {name}, which is not set."
                    )
                update[field] = SecretStr(os.environ[name])
        own_graph = bool(set(table) & (GRAPH_KEYS | set(SECRET_KEYS)))
        if own_graph and not update.get("graph_tenant_id") and not update.get("graph_base_url"):
            raise LaSettingsError(f"TSM_LA_SETTINGS_FILE {path}: [la.{code}] needs its graph_tenant_id.")
        if not table:
            raise LaSettingsError(f"TSM_LA_SETTINGS_FILE {path}: [la.{code}] is empty.")
        out[code] = LaSettings(settings.model_copy(update=update), own_graph, bool(set(table) & MAIL_KEYS))
    return out
