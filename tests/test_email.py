"""The alert reaches a real SMTP server (aiosmtpd on loopback) through an apprise mailto:// URL."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import FeedServer, run_watcher, write_config
from tests.test_run_e2e import serve


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        self.messages.append(msg)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    probe = socket.socket()  # aiosmtpd cannot listen on port 0: find a free port first
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def test_alert_arrives_by_email(
    tmp_path: Path, feed_server: FeedServer, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    urls = serve(feed_server)
    cfg = write_config(
        tmp_path / "watcher.yaml",
        database=f"sqlite:///{tmp_path / 'w.db'}",
        polling={"timeout": "10s"},
        feeds={"wire-two": urls["atom"]},
        notifiers={
            "mail": [
                f"mailto://127.0.0.1:{port}?from=watcher@example.org&to=desk@example.org&mode=insecure"
            ]
        },
        rules=[{"name": "leaders", "any": ["Pashinyan", "Aliyev"], "notify": ["mail"]}],
    )
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert len(inbox.messages) == 1, result.stderr
    msg = inbox.messages[0]
    assert inbox.recipients == [["desk@example.org"]]
    assert msg["Subject"] == "[leaders] Pashinyan and Aliyev meet on the sidelines"
    part = msg.get_body(preferencelist=("plain", "html"))
    assert part is not None
    text = part.get_content()
    assert "Rules: leaders" in text and "Source: wire-two" in text
    assert feed_server.url("/b/meeting.html") in text
