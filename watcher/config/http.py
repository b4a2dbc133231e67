"""The `http:` section: the daemon's one HTTP server (web UI, API, Atom feeds, metrics).

Kept apart from the rest of the config model so it stays small: the section itself
(`HttpConfig`, a frozen pydantic section like the others) and the pure checks it uses.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

MIN_TOKEN_CHARS = 16


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


def _listen(value: object) -> str:
    host, port = parse_listen(value)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


Listen = Annotated[
    str,
    BeforeValidator(_listen),
    WithJsonSchema({"type": "string", "description": "host:port, e.g. 127.0.0.1:8080"}),
]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_problem(enabled: bool, listen: str, token: str) -> tuple[str, str] | None:
    """(key, why) when this token (or its absence) is refused, else None."""
    if token and len(token) < MIN_TOKEN_CHARS:
        return "token", f"must be at least {MIN_TOKEN_CHARS} characters"
    if enabled and not is_loopback(parse_listen(listen)[0]) and not token:
        return "listen", (
            f"required when http.listen ({listen}) is not a loopback address: "
            'set token: "${WATCHER_TOKEN}" and export WATCHER_TOKEN, or listen on 127.0.0.1'
        )
    return None


__all__ = ["Listen", "is_loopback", "parse_listen", "token_problem"]
