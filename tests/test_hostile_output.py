# ruff: noqa: F811  (fixtures imported from the delivery and email tests)
"""Titles carrying markup, Markdown links and CR/LF reach each target inert: a live link never
reaches Telegram (whose API reads HTML) or Discord (Markdown), and an email Subject stays one
header. Real receivers: a fake Telegram Bot API and Discord webhook on loopback, aiosmtpd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_delivery import (  # noqa: F401  (fixtures)
    BOT_TOKEN,
    T0,
    Clock,
    FakeTelegram,
    Maker,
    add_stories,
    deliver,
    make,
    telegram,
)
from tests.test_email import Inbox, smtp  # noqa: F401  (fixture)
from watcher.notify.sender import title_for

HOSTILE = (
    'Karabakh <a href="https://phish.example/x">click</a> [click](https://phish.example/y) '
    "*bold*\r\nBcc: victim@example.org"
)


def test_telegram_gets_no_live_link_from_a_title(
    tmp_path: Path,
    telegram: FakeTelegram,
    database_url: str,
    make: Maker,
) -> None:
    config, store = make(database_url, tmp_path, f'  desk: ["tgram://{BOT_TOKEN}/-100123"]')
    add_stories(config, store, [HOSTILE], T0)
    assert deliver(store, config, Clock(T0)) == (1, 0)
    (msg,) = telegram.messages
    assert msg.get("parse_mode", "").upper() == "HTML"
    assert '<a href="https://phish.example' not in msg["text"]
    assert "&lt;a href=" in msg["text"]  # shown as the text it is
    assert "*bold* Bcc: victim@example.org</b>" in msg["text"].split("\n")[0]  # one line


@pytest.fixture
def discord(monkeypatch: pytest.MonkeyPatch) -> FakeTelegram:
    from apprise.plugins.discord import NotifyDiscord

    fake = FakeTelegram()  # records any JSON POST
    monkeypatch.setattr(NotifyDiscord, "notify_url", fake.url)
    return fake


def test_discord_markdown_gets_no_live_link_from_a_title(
    tmp_path: Path,
    discord: FakeTelegram,
    database_url: str,
    make: Maker,
) -> None:
    config, store = make(
        database_url, tmp_path, '  desk: ["discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"]'
    )
    add_stories(config, store, [HOSTILE], T0)
    assert deliver(store, config, Clock(T0)) == (1, 0)
    (payload,) = discord.messages
    text = json.dumps(payload, ensure_ascii=False).replace("\\\\", "\\")
    assert "[click](https://phish" not in text.replace("\\[", "").replace("\\]", "")
    assert "\\[click\\]" in text


def test_email_subject_is_one_header(
    tmp_path: Path,
    smtp: tuple[Inbox, int],
    database_url: str,
    make: Maker,
) -> None:
    inbox, port = smtp
    url = f"mailto://127.0.0.1:{port}?from=watcher@example.org&to=desk@example.org&mode=insecure"
    config, store = make(database_url, tmp_path, f'  desk: ["{url}"]')
    add_stories(config, store, [HOSTILE], T0)
    assert deliver(store, config, Clock(T0)) == (1, 0)
    (msg,) = inbox.messages
    assert msg.get_all("Bcc") is None and len(msg.get_all("Subject") or []) == 1
    assert "Bcc: victim@example.org" in str(msg["Subject"])  # kept as text, on one line
    html = msg.get_body(("html",))
    assert html is not None and '<a href="https://phish.example' not in html.get_content()


@pytest.mark.parametrize(
    ("fmt", "merged", "expected"),
    [
        ("telegram", True, "a &lt;b&gt; [x](y)"),
        ("html", False, "a <b> [x](y)"),  # an email Subject: plain text
        ("markdown", False, "a \\<b\\> \\[x\\]\\(y\\)"),
        ("text", True, "a <b> [x](y)"),
    ],
)
def test_title_for_each_format(fmt: str, merged: bool, expected: str) -> None:
    assert title_for("a <b>\r\n [x](y)", fmt, merged) == expected
