"""`watcher healthcheck`: the image's HEALTHCHECK, so the image needs no curl.

Exit 0 when the running daemon's `/healthz` answers 200, else 1 with the reason on stderr. Docker
reserves exit 2, so a config that cannot be read is also 1 here, not the CLI's usual 2. Only the
standard library's HTTP client is loaded: the check runs every 30 s in the container.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import urllib.error
import urllib.request

from watcher.cli.common import EXIT_FAILURE, EXIT_OK
from watcher.errors import ConfigError, Problem

DEFAULT_LISTEN = "127.0.0.1:8080"
MAX_BODY = 4096


def listen_address(config_file: str | None) -> str:
    """`http.listen` from the config (default 127.0.0.1:8080): the typed value when the config
    validates, else read from the YAML itself, so a config the daemon could not load (a secret
    missing in this shell, say) still says where to look."""
    import os
    from pathlib import Path

    from watcher.config import config_path, load_config
    from watcher.config.source import load_source

    path = config_path(config_file)
    try:
        http_config = getattr(load_config(path), "http", None)
    except ConfigError:
        http_config = None
    if http_config is not None:
        return str(http_config.listen)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return DEFAULT_LISTEN
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(path, 0, "", f"cannot read config: {exc}")]) from exc
    data = load_source(path, text, dict(os.environ)).data
    http_section = data.get("http") if isinstance(data, dict) else None
    listen = http_section.get("listen") if isinstance(http_section, dict) else None
    return str(listen) if listen else DEFAULT_LISTEN


def healthz_url(listen: str) -> str:
    """A listen address as a URL this host can reach: 0.0.0.0 and :: mean "every interface",
    so the check asks loopback."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "*"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def check(url: str, timeout: float) -> str | None:
    """None when healthy, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status = int(resp.status)
            body = resp.read(MAX_BODY).decode("utf-8", "replace").strip()
    except urllib.error.HTTPError as exc:
        body = exc.read(MAX_BODY).decode("utf-8", "replace").strip()
        return f"{url} answered {exc.code} {exc.reason}" + (f": {body}" if body else "")
    except urllib.error.URLError as exc:
        return f"{url}: {exc.reason}"
    except (OSError, http.client.HTTPException) as exc:
        return f"{url}: {exc}"
    if status != 200:
        return f"{url} answered {status}" + (f": {body}" if body else "")
    return None


def cmd_healthcheck(args: argparse.Namespace) -> int:
    try:
        url = args.url or healthz_url(listen_address(args.config))
    except ConfigError as exc:
        print(f"unhealthy: {'; '.join(str(p) for p in exc.problems)}", file=sys.stderr)
        return EXIT_FAILURE
    reason = check(url, args.timeout)
    if reason is not None:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    if not args.quiet:
        print(f"healthy: {url}")
    return EXIT_OK
