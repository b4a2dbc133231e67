"""Text that databases reject (NUL, lone surrogates) is cleaned before storage, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.conftest import FeedServer, Receiver, run_watcher


def test_nul_and_surrogates_are_cleaned(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, database_url: str
) -> None:
    # JSON can carry what XML cannot: \\u0000 and an unpaired surrogate.
    body = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "w", "items": ['
        '{"id": "1", "url": "https://example.org/1", "title": "Karabakh\\u0000 talks \\ud800resume",'
        ' "content_text": "Delegations\\u0000 met\\udfff in Brussels."}]}'
    )
    url = feed_server.add("/feed.json", body, "application/feed+json")
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"""
database: {database_url}
polling: {{allow_private_addresses: true}}
feeds:
  - {{name: wire, url: "{url}", extract: false}}
notifiers:
  hook: ["{receiver.apprise_url}"]
rules:
  - {{name: karabakh, query: '"Karabakh talks"', notify: [hook]}}
""",
        encoding="utf-8",
    )
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    engine = create_engine(database_url)
    with engine.connect() as conn:
        title, story_body = conn.execute(text("SELECT title, body FROM stories")).one()
    engine.dispose()
    assert title == "Karabakh talks resume" and story_body == "Delegations met in Brussels."
    assert [a["title"] for a in receiver.alerts] == ["[karabakh] Karabakh talks resume"]
    listed = [
        json.loads(x) for x in run_watcher("matches", "--json", "-c", str(cfg)).stdout.splitlines()
    ]
    assert listed[0]["title"] == "Karabakh talks resume"
