"""One article, one story, one alert, however its link is spelled from poll to poll; and a
database upgraded past migration 0004 does not alert its stored stories again."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from tests.conftest import FeedServer, Receiver, run_watcher
from watcher.store import Store
from watcher.store.migrate import _alembic, current, head, upgrade

# (path or whole link, first poll's spelling, second poll's spelling): a link starting with
# "/" is on the feed server; none is fetched (extract: false), so an IDN host needs no DNS.
SPELLINGS = {
    "plain-or-encoded": (
        "/новости/переговоры-в-брюсселе",
        "/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8/"
        "%D0%BF%D0%B5%D1%80%D0%B5%D0%B3%D0%BE%D0%B2%D0%BE%D1%80%D1%8B-%D0%B2-"
        "%D0%B1%D1%80%D1%8E%D1%81%D1%81%D0%B5%D0%BB%D0%B5",
    ),
    "query-order": ("/story?section=world&amp;id=7", "/story?id=7&amp;section=world"),
    "tilde": ("/%7Eeditor/border-commission", "/~editor/border-commission"),
    "idn": ("http://пример.рф/karabakh-talks", "http://xn--e1afmkfd.xn--p1ai/karabakh-talks"),
}
TITLES = {
    "plain-or-encoded": ("Karabakh peace talks open in Brussels", "Karabakh talks: a second day"),
    "query-order": ("Karabakh: ministers meet", "Karabakh: ministers meet again in Geneva"),
    "tilde": (
        "Karabakh border commission formed",
        "Karabakh border commission holds first session",
    ),
    "idn": ("Karabakh talks draw observers", "Karabakh talks: observers leave early"),
}


def link(server: FeedServer, spelled: str) -> str:
    return spelled if spelled.startswith("http") else f"http://127.0.0.1:{server.port}{spelled}"


def serve(server: FeedServer, poll: int, extra: str = "") -> str:
    """The feed as it reads on `poll` (0 or 1): each story's link in that poll's spelling, its
    headline revised and its summary rewritten, so that neither the content hash nor the
    title can tell the second poll's items are the first poll's stories: only the link can."""
    items = "".join(
        f"<item><title>{TITLES[name][poll]}</title><link>{link(server, spelled[poll])}</link>"
        f"<description>Report {poll}: {name} — {'talks went on' if poll else 'talks began'}."
        "</description></item>"
        for name, spelled in SPELLINGS.items()
    )
    return server.add(
        "/rss.xml",
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>wire</title>'
        f"{items}{extra}</channel></rss>",
        "application/rss+xml; charset=utf-8",
    )


def config(tmp_path: Path, database_url: str, feed_url: str, receiver: Receiver) -> Path:
    cfg = tmp_path / "w.yaml"
    cfg.write_text(
        f"""
database: {database_url}
polling: {{allow_private_addresses: true}}
feeds:
  - {{name: wire, url: "{feed_url}", extract: false}}
notifiers:
  hook: ["{receiver.apprise_url}"]
rules:
  - {{name: karabakh, any: [Karabakh], notify: [hook]}}
""",
        encoding="utf-8",
    )
    return cfg


def rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        out = [tuple(r) for r in conn.execute(text(sql)).all()]
    engine.dispose()
    return out


def test_four_spellings_over_two_polls_are_four_stories_and_four_alerts(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, database_url: str
) -> None:
    # A link with a port out of range rides along: it used to raise in dedup and abort the run.
    broken = (
        "<item><title>Karabakh: a link with a broken port</title>"
        "<link>http://127.0.0.1:99999/broken</link><description>odd</description></item>"
    )
    cfg = config(tmp_path, database_url, serve(feed_server, 0, broken), receiver)
    first = run_watcher("run", "--once", "-c", str(cfg))
    assert first.returncode == 0, first.stderr
    assert len(receiver.alerts) == 5, first.stderr

    serve(feed_server, 1, broken)
    second = run_watcher("run", "--once", "-c", str(cfg))
    assert second.returncode == 0, second.stderr
    assert sorted(a["title"] for a in receiver.alerts) == sorted(
        [f"[karabakh] {t[0]}" for t in TITLES.values()]
        + ["[karabakh] Karabakh: a link with a broken port"]
    ), second.stderr
    assert len(rows(database_url, "SELECT id FROM stories")) == 5
    # each was recognised as the stored story, with a revised headline
    updates = rows(database_url, "SELECT old_title, new_title FROM story_updates")
    assert sorted(updates) == sorted(TITLES.values())


# -- upgrading a database stored with the old canonical form -----------------------------------

_TRACKING_BEFORE = ("utm_source", "utm_medium", "fbclid")


def canonical_before_0004(url: str) -> str:
    """The canonical link as watcher stored it before migration 0004 (query in feed order,
    path and host as written)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in _TRACKING_BEFORE
    ]
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def test_the_old_form_differs_from_the_new_for_every_spelling() -> None:
    """Else the upgrade test below would prove nothing."""
    from watcher.ingest.dedup import canonical_url

    for spelled, _ in SPELLINGS.values():
        url = spelled if spelled.startswith("http") else "http://127.0.0.1:8000" + spelled
        url = url.replace("&amp;", "&")
        assert canonical_before_0004(url) != canonical_url(url), url


def test_upgraded_database_does_not_alert_stored_stories_again(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, empty_database_url: str
) -> None:
    before = ScriptDirectory.from_config(_alembic()).get_revision("0004_url_identity")
    assert before is not None and isinstance(before.down_revision, str)
    store = Store(empty_database_url)
    upgrade(store, before.down_revision)
    assert current(store) == before.down_revision
    feed_url = serve(feed_server, 0)  # the same items, spelled as the stored ones were
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO feeds (name, url, next_poll_at, interval, consecutive_errors, "
                "stories_seen, moved_seen, possible_gaps) VALUES "
                "('wire', :url, '2026-11-01 00:00:00', 300, 0, 4, 0, 0)"
            ),
            {"url": feed_url},
        )
        for i, (name, spelled) in enumerate(SPELLINGS.items()):
            url = link(feed_server, spelled[0]).replace("&amp;", "&")
            old = canonical_before_0004(url)
            conn.execute(
                text(
                    "INSERT INTO stories (feed, key, url, canonical_url, title, summary, body, "
                    "body_source, content_hash, first_seen_at, search_text, title_key) VALUES "
                    "('wire', :key, :url, :canon, :title, '', 'earlier text', 'feed', :hash, "
                    "'2026-11-01 00:00:00', 'karabakh', :tkey)"
                ),
                {
                    "key": "link:" + old,
                    "url": url,
                    "canon": old,
                    "title": TITLES[name][0],
                    # an earlier summary: only the link can say it is the same story
                    "hash": f"{i:064x}",
                    "tkey": f"stored-{i}",
                },
            )
        conn.execute(
            text(
                "INSERT INTO matches (story_id, rule, terms, hits, snippet, score, matched_at) "
                "SELECT id, 'karabakh', '[\"Karabakh\"]', '[]', '', 1, '2026-11-01 00:00:00' "
                "FROM stories"
            )
        )
    assert upgrade(store) == (before.down_revision, head())
    store.close()

    cfg = config(tmp_path, empty_database_url, feed_url, receiver)
    result = run_watcher("run", "--once", "-c", str(cfg))
    assert result.returncode == 0, result.stderr
    assert receiver.alerts == [], result.stderr
    assert len(rows(empty_database_url, "SELECT id FROM stories")) == 4
    keys = rows(empty_database_url, "SELECT key FROM stories ORDER BY id")
    assert all(str(k).startswith("link:https://") for (k,) in keys)
    assert any("xn--e1afmkfd" in str(k) for (k,) in keys)


def test_the_upgrade_keeps_keys_unique_when_two_spellings_were_stored_apart(
    empty_database_url: str,
) -> None:
    """Two stories stored apart under the old form now share one link key: the one already
    holding it keeps it, the other keeps its old key (the key is unique per feed), and both get
    the new canonical link, which the lookup also uses."""
    before = ScriptDirectory.from_config(_alembic()).get_revision("0004_url_identity")
    assert before is not None and isinstance(before.down_revision, str)
    store = Store(empty_database_url)
    upgrade(store, before.down_revision)
    with store.engine.begin() as conn:
        for i, url in enumerate(["https://example.org/a?b=2&a=1", "https://example.org/a?a=1&b=2"]):
            conn.execute(
                text(
                    "INSERT INTO stories (feed, key, url, canonical_url, title, summary, body, "
                    "body_source, content_hash, first_seen_at, search_text, title_key) VALUES "
                    "('wire', :key, :url, :canon, 't', '', '', 'feed', :hash, "
                    "'2026-11-01 00:00:00', '', '')"
                ),
                {"key": "link:" + url, "url": url, "canon": url, "hash": str(i)},
            )
    upgrade(store)
    with store.engine.connect() as conn:
        got = conn.execute(text("SELECT key, canonical_url FROM stories ORDER BY id")).all()
    cfg = _alembic()  # and back: the old form again
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, before.down_revision)
    with store.engine.connect() as conn:
        back = conn.execute(text("SELECT key, canonical_url FROM stories ORDER BY id")).all()
    store.close()
    assert [tuple(r) for r in got] == [
        ("link:https://example.org/a?b=2&a=1", "https://example.org/a?a=1&b=2"),
        ("link:https://example.org/a?a=1&b=2", "https://example.org/a?a=1&b=2"),
    ]
    assert [tuple(r) for r in back] == [
        ("link:https://example.org/a?b=2&a=1", "https://example.org/a?b=2&a=1"),
        ("link:https://example.org/a?a=1&b=2", "https://example.org/a?a=1&b=2"),
    ]
