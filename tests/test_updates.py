"""A materially updated story (same link, new headline) is recorded as an update and alerts only
rules that ask for updates, once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import FeedServer, Receiver, run_watcher, write_config


def feed(server: FeedServer, title: str) -> None:
    item = (
        f"<item><title>{title}</title><link>{server.url('/a/1')}</link><guid>story-1</guid>"
        "<description>Talks on Karabakh continue; Pashinyan and Aliyev are expected.</description></item>"
    )
    server.add(
        "/rss.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>w</title>{item}</channel></rss>',
        "application/rss+xml",
    )


def test_headline_update_alerts_rules_that_ask(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, database_url: str
) -> None:
    feed(feed_server, "Karabakh talks begin")
    cfg = write_config(
        tmp_path / "w.yaml",
        database=database_url,
        feeds={"wire": {"url": feed_server.url("/rss.xml"), "extract": False}},
        notifiers={"hook": [receiver.apprise_url]},
        rules=[
            {"name": "karabakh", "any": ["Karabakh"], "notify": ["hook"], "updates": True},
            {"name": "leaders", "any": ["Pashinyan"], "notify": ["hook"]},
        ],
    )
    assert run_watcher("run", "--once", "-c", str(cfg)).returncode == 0
    assert [a["title"] for a in receiver.alerts] == ["[karabakh, leaders] Karabakh talks begin"]

    feed(feed_server, "KARABAKH TALKS BEGIN.")  # case and punctuation only: not material
    assert run_watcher("run", "--once", "-c", str(cfg)).returncode == 0
    assert len(receiver.alerts) == 1

    feed(feed_server, "Karabakh talks collapse after first day")
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert [a["title"] for a in receiver.alerts][1:] == [
        "[karabakh] Updated: Karabakh talks collapse after first day"
    ]

    feed(feed_server, "Karabakh talks collapse; delegations leave")
    assert run_watcher("run", "--once", "-c", str(cfg)).returncode == 0
    assert len(receiver.alerts) == 2  # one update alert per story and notifier

    engine = create_engine(database_url)
    with engine.connect() as conn:
        updates = conn.execute(
            text("SELECT old_title, new_title FROM story_updates ORDER BY id")
        ).all()
        titles = conn.execute(text("SELECT title FROM stories")).scalars().all()
    engine.dispose()
    assert [tuple(u) for u in updates] == [
        ("Karabakh talks begin", "Karabakh talks collapse after first day"),
        ("Karabakh talks collapse after first day", "Karabakh talks collapse; delegations leave"),
    ]
    assert titles == ["Karabakh talks collapse; delegations leave"]
    listed = [
        json.loads(x) for x in run_watcher("matches", "--json", "-c", str(cfg)).stdout.splitlines()
    ]
    assert {m["title"] for m in listed} == {"Karabakh talks collapse; delegations leave"}
