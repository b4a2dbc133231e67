"""`watcher healthcheck`, the image's HEALTHCHECK: 0 when /healthz answers, else 1 and why."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.conftest import FeedServer, run_watcher


def config_listening_on(tmp_path: Path, listen: str) -> str:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"http:\n  listen: {listen}\n  token: ${{WATCHER_TOKEN}}\n", encoding="utf-8")
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_healthy_when_healthz_answers(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/healthz", '{"status": "ok"}', "application/json")
    # 0.0.0.0 is where a container listens; the check asks loopback. The token's variable is
    # unset: a healthcheck needs no secret.
    config = config_listening_on(tmp_path, f"0.0.0.0:{feed_server.port}")
    done = run_watcher("healthcheck", "-c", config)
    assert done.returncode == 0, done.stderr
    assert f"healthy: http://127.0.0.1:{feed_server.port}/healthz" in done.stdout
    assert feed_server.hits["/healthz"] == 1


def test_unhealthy_status_is_1_with_the_answer(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/healthz", "database unreachable", "text/plain", status=503)
    config = config_listening_on(tmp_path, f"127.0.0.1:{feed_server.port}")
    done = run_watcher("healthcheck", "-c", config)
    assert done.returncode == 1
    assert "unhealthy:" in done.stderr
    assert "answered 503" in done.stderr and "database unreachable" in done.stderr


def test_nothing_listening_is_1_with_the_reason(tmp_path: Path) -> None:
    port = free_port()
    config = config_listening_on(tmp_path, f"127.0.0.1:{port}")
    done = run_watcher("healthcheck", "-c", config, "--timeout", "3")
    assert done.returncode == 1
    assert f"unhealthy: http://127.0.0.1:{port}/healthz" in done.stderr
    assert "refused" in done.stderr.lower()


def test_url_option_and_missing_config_default(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.add("/healthz", "ok", "text/plain")
    done = run_watcher(
        "healthcheck", "-c", str(tmp_path / "absent.yaml"), "--url", feed_server.url("/healthz")
    )
    assert done.returncode == 0, done.stderr


def test_unreadable_config_is_1_not_2(tmp_path: Path) -> None:
    done = run_watcher("healthcheck", "-c", str(tmp_path))  # a directory
    assert done.returncode == 1
    assert "unhealthy:" in done.stderr and "cannot read config" in done.stderr
