"""`watcher demo` as a user runs it: sample wires on loopback, the real daemon, alerts printed.

The demo is checked while it runs through its web API (`watcher matches --json` on its own
config when the build has no web server) and `watcher search`, then stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

from tests.conftest import ROOT, run_watcher
from watcher.cli.demo import web_available
from watcher.demo.server import load_samples

DEADLINE = 60.0  # a wait bound for the daemon's first minute, not a speed assertion


def current_matches(config: str, listen: str) -> list[dict[str, Any]]:
    """Through the web API when this build has the web server, else `watcher matches --json`."""
    if web_available():
        try:
            with urllib.request.urlopen(
                f"http://{listen}/api/v1/matches?limit=200", timeout=10
            ) as r:
                return list(json.load(r)["items"])
        except OSError:
            return []  # the server is not up yet
    done = run_watcher("matches", "-c", config, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_matches_languages_and_clusters_and_stops_on_sigterm() -> None:
    _, stories = load_samples()
    lang_of = {s.title: s.lang for s in stories}
    decoys = {s.title for s in stories if s.decoy}
    assert {s.lang for s in stories} >= {"en", "ru", "az", "hy", "tr"}

    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    listen = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watcher",
            "demo",
            "--every",
            "1s",
            "--listen",
            listen,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        start = time.monotonic()
        config = None
        matches: list[dict[str, Any]] = []
        all_published = False
        while time.monotonic() - start < DEADLINE:
            time.sleep(2)
            assert proc.poll() is None, "".join(out)
            config = config or next(
                (
                    ln.split("demo: config ", 1)[1].strip()
                    for ln in list(out)
                    if "demo: config " in ln
                ),
                None,
            )
            if config is None:
                continue
            matches = current_matches(config, listen)
            languages = {lang_of.get(str(m["title"])) for m in matches} - {None}
            clustered = [m for m in matches if len(m["sources"]) >= 2]
            all_published = any("every sample story is published" in ln for ln in list(out))
            if len(languages) >= 3 and clustered and all_published:
                break
        assert config is not None, "".join(out)
        languages = {lang_of.get(str(m["title"])) for m in matches} - {None}
        assert len(languages) >= 3, (languages, matches)
        clustered = [m for m in matches if len(m["sources"]) >= 2]
        assert clustered, matches  # one story from three agencies: one match, two more sources
        assert all_published, "".join(out)

        # the decoys were polled and stored, and matched nothing: their rule words are in the
        # navigation only
        time.sleep(4)  # one more poll cycle after the last story (feeds poll every 3 s)
        titles = {m["title"] for m in current_matches(config, listen)}
        assert not titles & decoys, titles & decoys
        found = run_watcher("search", "-c", config, "jazz OR снег OR terminal OR deplasmanda")
        assert found.returncode == 0, found.stderr
        for decoy in decoys:
            assert decoy in found.stdout, (decoy, found.stdout)

        console = "".join(out)
        if web_available():
            assert f"demo: dashboard http://{listen}/" in console
        assert "ALERT  [karabakh]" in console and "ALERT  [pashinyan]" in console
        for m in matches:
            assert f"{m['title']}" in console  # every stored match was printed as an alert
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
            reader.join(timeout=5)
            proc.stdout.close()  # type: ignore[union-attr]
    assert code == 0, "".join(out)
    assert "demo: stopped" in "".join(out)
