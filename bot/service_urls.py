"""Which ``serviceUrl`` an activity may name: the bot posts its replies (with its token, when it has an app id) to
that address, so an address from anyone but Teams would make the bot call wherever it is told (SSRF).

Allowed: the configured Teams service URLs (``TSM_TEAMS_SERVICE_URLS``; by default the public cloud's
``https://smba.trafficmanager.net/``, under which Teams puts every region: ``/teams/``, ``/emea/``, ``/uk/``...;
the US government clouds have their own, see ``docs/deployment.md``), and in the local no-auth mode any loopback
address (the Agents Playground, tests). A URL matches an entry when its scheme and host are the entry's, its port
is the entry's (or both have none) and its path starts with the entry's path.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceUrls:
    def __init__(self, allowed: list[str] | tuple[str, ...], *, loopback: bool) -> None:
        self.allowed = [urlsplit(a.strip()) for a in allowed if a and a.strip()]
        self.loopback = loopback

    def allows(self, url: object) -> bool:
        if not isinstance(url, str) or len(url) > 2048:
            return False
        try:
            u = urlsplit(url.strip())
            port = u.port
        except ValueError:
            return False
        if u.username or u.password or not u.hostname:
            return False
        if self.loopback and u.scheme in ("http", "https") and is_loopback_host(u.hostname):
            return True
        for a in self.allowed:
            if (
                u.scheme == a.scheme
                and u.hostname == (a.hostname or "").lower()
                and port == a.port
                and (u.path or "/").startswith(a.path or "/")
            ):
                return True
        return False
