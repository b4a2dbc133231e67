"""The web server inside a real `watcher run`: ready when the daemon is, gone when it stops,
off with `http.enabled: false`, and a taken port costs the UI, not the alerts."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

from tests.conftest import FeedServer, Receiver
from tests.test_daemon import start, wait_for
from tests.web_support import Client, config_text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int, path: str) -> int | None:
    try:
        return Client(port).get(path).status
    except OSError:
        return None


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    return err


def test_daemon_serves_readyz_and_metrics_then_stops(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    port = free_port()
    cfg = tmp_path / "watcher.yaml"
    cfg.write_text(
        config_text(tmp_path, feed_server, receiver).replace("127.0.0.1:0", f"127.0.0.1:{port}"),
        encoding="utf-8",
    )
    proc = start(cfg)
    try:
        wait_for(lambda: answers(port, "/readyz") == 200)
        ready = Client(port).get("/readyz").json()
        assert ready["checks"] == {
            "database": True,
            "config": True,
            "scheduler": True,
            "workers": True,
        }
        wait_for(lambda: len(receiver.alerts) >= 3)
        wait_for(lambda: 'watcher_polls_total{outcome="ok"}' in Client(port).get("/metrics").text)
        metrics = Client(port).get("/metrics").text
        assert 'watcher_detection_latency_seen_seconds_count{notifier="hook"}' in metrics
        assert Client(port).get("/api/v1/matches").json()["items"]
        err = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"web UI and API at http://127.0.0.1:{port}/" in err
    assert answers(port, "/healthz") is None  # the server went with the daemon


def test_http_disabled_and_port_taken(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cfg = tmp_path / "watcher.yaml"
        text = config_text(tmp_path, feed_server, receiver)
        cfg.write_text(text.replace("127.0.0.1:0", f"127.0.0.1:{port}"), encoding="utf-8")
        proc = start(cfg)
        try:
            wait_for(lambda: len(receiver.alerts) >= 3)  # alerts go out all the same
            err = stop(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err
    assert "web server not started" in err and "cannot listen" in err

    receiver.alerts.clear()
    port = free_port()
    (tmp_path / "w.db").unlink()
    cfg.write_text(
        text.replace("listen: '127.0.0.1:0'", f"enabled: false, listen: '127.0.0.1:{port}'"),
        encoding="utf-8",
    )
    proc = start(cfg)
    try:
        wait_for(lambda: len(receiver.alerts) >= 3)
        assert answers(port, "/healthz") is None
        err = stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "web UI" not in err
