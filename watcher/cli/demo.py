"""`watcher demo`: a first run that needs no network, no config and no database.

The bundled sample wires (watcher/demo/) are served on loopback and publish a story every few
seconds; the real daemon polls them with a generated config and a temporary SQLite database,
and each alert comes back through apprise's `json://` to a receiver that prints it. Everything
is removed on Ctrl-C or SIGTERM, and the exit is 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import secrets
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from watcher.cli.common import EXIT_OK, load, open_store

TERMS = {
    "karabakh": ["Karabakh", "Qarabağ*", "Karabağ*", "Карабах*", "Ղարաբաղ*", "Artsakh"],
    "pashinyan": ["Pashinyan", "Paşinyan*", "Пашинян*", "Փաշինյան*"],
}
RULES = [
    {"name": "karabakh", "query": "@karabakh", "notify": ["console"]},
    {"name": "pashinyan", "query": "@pashinyan", "notify": ["console"]},
]


def web_available() -> bool:
    """The web UI ships in watcher.web; a build without it still demonstrates the daemon."""
    return importlib.util.find_spec("watcher.web") is not None


def demo_config(
    database: str, feeds: dict[str, str], alert_url: str, listen: str | None, token: str = ""
) -> str:
    """The generated config: short intervals, loopback allowed, every alert to the console."""
    config: dict[str, Any] = {
        "database": database,
        "polling": {
            "interval": "3s",
            "min_interval": "1s",
            "allow_private_addresses": True,  # the sample wires are on loopback
            "workers": 0,
            "host_gap": "0s",
            "per_host": 8,
        },
        "feeds": [
            {"name": n, "url": u, "interval": "3s", "tags": ["demo"]} for n, u in feeds.items()
        ],
        "terms": TERMS,
        "notifiers": {"console": [alert_url]},
        "rules": RULES,
    }
    if listen is not None:
        config["http"] = {"listen": listen, "token": token} if token else {"listen": listen}
    return json.dumps(config, ensure_ascii=False, indent=1)  # JSON is YAML


def on_loopback(listen: str) -> bool:
    host = listen.rpartition(":")[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


def print_alert(payload: dict[str, Any]) -> None:
    title = str(payload.get("title") or "").strip()
    message = str(payload.get("message") or "").strip()
    lines = ["", f"ALERT  {title}"] + [f"       {line}" for line in message.splitlines()]
    print("\n".join(lines), flush=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # before and after the daemon's own handlers: the same clean exit


def cmd_demo(args: argparse.Namespace) -> int:
    from watcher.clock import utcnow
    from watcher.daemon.scheduler import Daemon
    from watcher.demo.server import DemoWires
    from watcher.store.lock import ProcessLock

    signal.signal(signal.SIGTERM, _terminate)
    workdir = Path(tempfile.mkdtemp(prefix="watcher-demo-"))
    wires = DemoWires(print_alert)
    stop = threading.Event()

    def publish() -> None:
        while not stop.wait(args.every):
            story = wires.publish_next(utcnow())
            if story is None:
                print("demo: every sample story is published; Ctrl-C to stop", flush=True)
                return
            print(f"published  [{story.feed}] {story.title}", flush=True)

    try:
        wires.start()
        for _ in range(3):
            wires.publish_next(utcnow())
        listen = args.listen if web_available() else None
        # beyond loopback (the image's 0.0.0.0:8080) the UI needs a token: a fresh one, shown
        token = "" if listen is None or on_loopback(listen) else secrets.token_urlsafe(18)
        path = workdir / "watcher.yaml"
        path.write_text(
            demo_config(
                f"sqlite:///{workdir}/watcher.db",
                {name: wires.feed_url(name) for name in wires.wires},
                f"json://{wires.base.removeprefix('http://')}/alert",
                listen,
                token,
            ),
            encoding="utf-8",
        )
        args.config = str(path)
        config = load(args)
        print(
            f"demo: {len(wires.stories)} sample stories on {len(wires.wires)} wires at {wires.base}"
        )
        print(f"demo: config {path}")
        print(f"demo: database {config.database}")
        if listen is not None:
            shown = listen.replace("0.0.0.0", "127.0.0.1", 1)
            print(
                f"demo: dashboard http://{shown}/" + (f"  (sign in with {token})" if token else "")
            )
        else:
            print("demo: this build has no web UI; alerts appear below")
        print("demo: Ctrl-C stops", flush=True)
        threading.Thread(target=publish, name="demo-publisher", daemon=True).start()
        with ProcessLock(config.database), open_store(config) as store:
            asyncio.run(Daemon(config, store).run())
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        wires.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print("demo: stopped", file=sys.stderr)
    return EXIT_OK
