"""Hot reload in a running daemon: a valid edit takes effect, an invalid one is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, FeedServer, Receiver

ITEM = """<item><title>{title}</title><link>{base}/n/{n}</link><guid>n-{n}</guid>
<description>{title}. More details to follow.</description></item>"""


def feed(server: FeedServer, titles: list[str]) -> None:
    base = server.url("")
    items = "".join(ITEM.format(title=t, base=base, n=i) for i, t in enumerate(titles))
    server.add(
        "/rss.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>w</title>{items}</channel></rss>',
        "application/rss+xml",
    )


CONFIG = """
database: sqlite:///{db}
polling: {{interval: 1s, min_interval: 1s, allow_private_addresses: true, timeout: 5s}}
feeds:
  - {{name: wire, url: "{url}", extract: false}}
notifiers:
  hook: ["{hook}"]
rules:
{rules}
"""


def write(cfg: Path, tmp: Path, server: FeedServer, receiver: Receiver, rules: str) -> None:
    text = CONFIG.format(
        db=tmp / "w.db", url=server.url("/rss.xml"), hook=receiver.apprise_url, rules=rules
    )
    tmp_file = cfg.with_suffix(".tmp")
    tmp_file.write_text(text, encoding="utf-8")
    tmp_file.replace(cfg)  # as editors do: write elsewhere, rename over


def wait_until(check: object, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_valid_edit_applies_and_invalid_edit_is_refused(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    cfg = tmp_path / "watcher.yaml"
    log = tmp_path / "daemon.log"
    feed(feed_server, ["Karabakh talks: first round"])
    write(
        cfg,
        tmp_path,
        feed_server,
        receiver,
        "  - {name: leaders, any: [Pashinyan], notify: [hook]}",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "-c", str(cfg)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    try:
        text = lambda: log.read_text(encoding="utf-8")  # noqa: E731
        wait_until(lambda: "poll feed=wire status=200 new=1" in text(), "first poll")
        assert receiver.alerts == []

        write(
            cfg,
            tmp_path,
            feed_server,
            receiver,
            "  - {name: leaders, any: [Pashinyan], notify: [hook]}\n"
            "  - {name: karabakh, any: [Karabakh], notify: [hook]}",
        )
        wait_until(lambda: "config reloaded (file changed): rules +karabakh" in text(), "reload")
        feed(feed_server, ["Karabakh talks: first round", "Karabakh talks: second round"])
        wait_until(lambda: len(receiver.alerts) == 1, "alert under the new rule")
        assert receiver.alerts[0]["title"] == "[karabakh] Karabakh talks: second round"

        write(
            cfg,
            tmp_path,
            feed_server,
            receiver,
            "  - {name: karabakh, query: '(Karabakh', notify: [hook]}",
        )
        wait_until(lambda: "keeping the last good config" in text(), "refusal")
        assert f"{cfg}:9: rules[0].query: expected ')'" in text()
        feed(
            feed_server,
            [
                "Karabakh talks: first round",
                "Karabakh talks: second round",
                "Karabakh talks: third round",
            ],
        )
        wait_until(lambda: len(receiver.alerts) == 2, "alert under the last good config")
        assert receiver.alerts[1]["title"] == "[karabakh] Karabakh talks: third round"

        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "config reload (SIGHUP) refused" in text(), "SIGHUP reload")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_truncated_file_is_not_reloaded(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    """An editor that truncates before writing, or a half-saved file, must not stop watching:
    a reload that would remove every feed or every rule is refused with a warning."""
    cfg = tmp_path / "watcher.yaml"
    log = tmp_path / "daemon.log"
    feed(feed_server, ["Markets close higher"])
    write(cfg, tmp_path, feed_server, receiver, "  - {name: kb, any: [Karabakh], notify: [hook]}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHER_")}
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "-c", str(cfg)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            text=True,
        )
    try:
        text = lambda: log.read_text(encoding="utf-8")  # noqa: E731
        wait_until(lambda: "poll feed=wire status=200 new=1" in text(), "first poll")
        cfg.write_text("", encoding="utf-8")  # truncated in place
        wait_until(lambda: "refused: the new file has no feeds" in text(), "refusal")
        assert "keeping the last good config" in text()
        cfg.write_text(f"database: sqlite:///{tmp_path}/w.db\n", encoding="utf-8")  # half-saved
        proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: "config reload (SIGHUP) refused: the new file has no feeds" in text(), "SIGHUP"
        )
        feed(feed_server, ["Markets close higher", "Karabakh border talks"])
        wait_until(lambda: len(receiver.alerts) == 1, "alert under the last good config")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
