"""The `http:` section: the daemon's one HTTP server (web UI, API, Atom feeds, metrics).

Kept apart from the rest of the config model so it can be re-expressed on its own: it is a
frozen record and two pure validators.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MIN_TOKEN_CHARS = 16
HTTP_KEYS = {"enabled", "listen", "token"}


@dataclass(frozen=True)
class HttpConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    token: str = ""  # "" = none; required when `host` is not loopback

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def parse_listen(value: object) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or `:port` (all interfaces); port 0 takes any free port (the
    log names it). ValueError says what to write."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("expected host:port, e.g. 127.0.0.1:8080")
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{text!r}: expected host:port with a port 0-65535, e.g. 127.0.0.1:8080")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_problem(http: HttpConfig) -> str | None:
    """Why this token (or its absence) is refused, else None."""
    if http.token and len(http.token) < MIN_TOKEN_CHARS:
        return f"must be at least {MIN_TOKEN_CHARS} characters"
    if http.enabled and not http.loopback and not http.token:
        return (
            f"required when http.listen ({http.listen}) is not a loopback address: "
            'set token: "${WATCHER_TOKEN}" and export WATCHER_TOKEN, or listen on 127.0.0.1'
        )
    return None
