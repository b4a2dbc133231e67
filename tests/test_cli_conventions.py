"""One convention for every command, as README's "Exit codes and output" table states it:
unknown names exit 2 listing the known ones; empty results are one line on stderr with exit 0
and nothing on stdout; a closed pipe ends quietly; `run --once` summarises and fails loudly."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, FeedServer, Receiver, run_watcher

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire</title><link>{base}/</link><description>d</description>
<item><title>Karabakh border commission meets</title><link>{base}/a/1</link><guid>w-1</guid>
<description>The commission met in Baku.</description></item>
<item><title>Markets close higher</title><link>{base}/a/2</link><guid>w-2</guid>
<description>Oil rose.</description></item>
</channel></rss>"""


def config(tmp_path: Path, body: str = "") -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(f"database: sqlite:///{tmp_path}/w.db\n{body}", encoding="utf-8")
    return path


RULES = """feeds:
  - {name: wire, url: "http://127.0.0.1:9/rss"}
notifiers:
  desk: ["json://127.0.0.1:9/hook"]
rules:
  - {name: karabakh, any: [Karabakh], notify: [desk]}
  - {name: wire-only, any: [Karabakh], feeds: [wire], notify: [desk]}
"""

# Every command that takes a name, given one that does not exist.
UNKNOWN = [
    ("matches", ["matches", "--rule", "nosuch"], "rule"),
    ("backtest", ["backtest", "--rule", "nosuch"], "rule"),
    ("explain --rule", ["explain", "PAGE", "--rule", "nosuch"], "rule"),
    ("explain --feed", ["explain", "PAGE", "--feed", "nosuch"], "feed"),
    ("notify-test", ["notify-test", "nosuch"], "notifier"),
    ("search --feed", ["search", "karabakh", "--feed", "nosuch"], "feed"),
    ("poll", ["poll", "nosuch"], "feed"),
]


@pytest.mark.parametrize(("label", "argv", "kind"), UNKNOWN, ids=[u[0] for u in UNKNOWN])
def test_unknown_names_exit_2_listing_the_known_ones(
    label: str, argv: list[str], kind: str, tmp_path: Path
) -> None:
    cfg = config(tmp_path, RULES)
    page = tmp_path / "page.html"
    page.write_text("<html><body><article><p>Karabakh.</p></article></body></html>")
    argv = [str(page) if a == "PAGE" else a for a in argv]
    done = run_watcher(*argv, "-c", str(cfg))
    assert done.returncode == 2, done.stderr
    assert f"no {kind} named 'nosuch' in {cfg}" in done.stderr
    known = {"rule": "karabakh, wire-only", "feed": "wire", "notifier": "desk"}[kind]
    assert f"(known: {known})" in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


EMPTY = [
    (["matches"], "no matches stored"),
    (["matches", "--since", "2h"], "no matches in the last 2h (try --since 1d)"),
    (["matches", "--json"], "no matches stored"),
    (["deliveries"], "no deliveries"),
    (["deliveries", "--status", "dead", "--json"], "no dead deliveries"),
    (["search", "karabakh", "--since", "7d"], "no stories found in the last 7d (try --since 30d)"),
    (["feeds"], "no feeds configured"),
]


@pytest.mark.parametrize(("argv", "message"), EMPTY, ids=[" ".join(e[0]) for e in EMPTY])
def test_empty_results_say_so_on_stderr_only(argv: list[str], message: str, tmp_path: Path) -> None:
    done = run_watcher(*argv, "-c", str(config(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert message in done.stderr


def test_plain_watcher_lists_the_commands() -> None:
    done = run_watcher()
    assert done.returncode == 0
    for command in ("check", "run", "matches", "search", "feeds", "deliveries", "poll", "db"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command


def test_db_without_an_action_says_which_exist(tmp_path: Path) -> None:
    done = run_watcher("db", "-c", str(config(tmp_path)))
    assert done.returncode == 2
    assert "`watcher db upgrade`" in done.stderr and "`watcher db stats`" in done.stderr
    assert "required: action" not in done.stderr


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    feeds = "".join(
        f'  - {{name: f{i}, url: "https://example.org/{i}.rss"}}\n' for i in range(4000)
    )
    cfg = config(tmp_path, "feeds:\n" + feeds)
    done = subprocess.run(
        f"{sys.executable} -m watcher feeds --json -c {cfg} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert json.loads(done.stdout)["name"] == "f0"
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_read_only_commands_work_from_the_database_alone_when_the_config_is_broken(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, "rules:\n  - {name: bad, query: 'karabakh AND (talks'}\n")
    assert run_watcher("check", "-c", str(cfg)).returncode == 2
    for argv in (["matches"], ["deliveries"], ["db", "stats"], ["search", "x"]):
        done = run_watcher(*argv, "-c", str(cfg))
        assert done.returncode == 0, (argv, done.stderr)
        assert (
            "has 1 config error(s) (see `watcher check`); reading the database only" in done.stderr
        )
    assert run_watcher("run", "--once", "-c", str(cfg)).returncode == 2  # the daemon never


def test_run_once_summarises_and_fails_when_every_feed_fails(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        "polling: {allow_private_addresses: true, timeout: 5s}\nfeeds:\n"
        '  - {name: down-one, url: "http://127.0.0.1:9/a.rss"}\n'
        '  - {name: down-two, url: "http://127.0.0.1:9/b.rss"}\n',
    )
    done = run_watcher("run", "--once", "--log-level", "WARNING", "-c", str(cfg))
    assert done.returncode == 1
    assert "polled 2 feed(s): 2 failed, 0 new stories, 0 matched, 0 alert(s) sent" in done.stdout
    assert re.search(r"^  down-one: .+", done.stderr, re.M)
    assert re.search(r"^  down-two: .+", done.stderr, re.M)
    assert "every feed failed (2)" in done.stderr


def test_run_once_and_poll_report_what_they_found(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    url = feed_server.add("/rss.xml", RSS.format(base=feed_server.url("")), "application/rss+xml")
    cfg = config(
        tmp_path,
        f'polling: {{allow_private_addresses: true}}\nfeeds:\n  - {{name: wire, url: "{url}", extract: false}}\n'
        f'notifiers:\n  desk: ["{receiver.apprise_url}"]\n'
        "rules:\n  - {name: karabakh, any: [Karabakh], notify: [desk]}\n",
    )
    done = run_watcher("poll", "wire", "--log-level", "ERROR", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "polled 1 feed(s): 0 failed, 2 new stories, 1 matched, 1 alert(s) sent" in done.stdout
    assert "  new: Karabakh border commission meets  [matched: karabakh]" in done.stdout
    assert "  new: Markets close higher\n" in done.stdout
    assert len(receiver.alerts) == 1


def test_explain_judges_the_article_as_from_the_given_or_inferred_feed(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        'feeds:\n  - {name: wire, url: "https://news.example.org/rss"}\n'
        "rules:\n  - {name: wire-only, any: [Karabakh], feeds: [wire]}\n",
    )
    page = tmp_path / "page.html"
    page.write_text(
        "<html><body><article><h1>Karabakh talks</h1><p>Karabakh talks resumed today in Brussels "
        "after a pause of several months, officials said.</p></article></body></html>"
    )
    plain = run_watcher("explain", str(page), "-c", str(cfg))
    assert plain.returncode == 0, plain.stderr
    assert "no match  wire-only" in plain.stdout and "feed '' is not in" in plain.stdout
    given = run_watcher("explain", str(page), "--feed", "wire", "-c", str(cfg))
    assert "MATCH  wire-only" in given.stdout and "feed: wire" in given.stdout
    from watcher.config import parse_config
    from watcher.review.explain import feed_for_url

    parsed = parse_config(str(cfg), cfg.read_text(), {})
    found = feed_for_url(parsed, "https://www.news.example.org/2026/12/story.html")
    assert found is not None and found.name == "wire"
    assert feed_for_url(parsed, "https://other.example.org/x") is None


def test_import_opml_against_a_config_skips_what_it_has_and_says_what_it_dropped(
    tmp_path: Path,
) -> None:
    cfg = config(tmp_path, 'feeds:\n  - {name: apa, url: "https://apa.az/rss/en"}\n')
    opml = tmp_path / "subs.opml"
    opml.write_text(
        """<opml version="2.0"><body>
<outline text="APA" xmlUrl="https://apa.az/rss/en/"/>
<outline text="APA" xmlUrl="https://apa.az/rss/ru"/>
<outline text="Trend" xmlUrl="https://en.trend.az/feeds/index.rss"/>
<outline text="Gopher" xmlUrl="gopher://old.example.org/feed"/>
<outline text="Homepage only" htmlUrl="https://news.am/"/>
</body></opml>""",
        encoding="utf-8",
    )
    done = run_watcher("import-opml", str(opml), "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    assert not re.search(r"^feeds:", done.stdout, re.M)
    pasted = yaml.safe_load(cfg.read_text().replace("feeds:\n", "feeds:\n" + done.stdout, 1))
    names = [f["name"] for f in pasted["feeds"]]
    assert names == ["apa-2", "trend", "apa"]  # the config's own apa is kept, the new one renamed
    assert "skipped APA https://apa.az/rss/en/: already in the config" in done.stderr
    assert "skipped Gopher gopher://old.example.org/feed: not an http(s) URL" in done.stderr
    assert (
        "skipped Homepage only https://news.am/: a web page, not a feed (no xmlUrl)" in done.stderr
    )


def test_notify_test_marks_the_word_it_names(tmp_path: Path, receiver: Receiver) -> None:
    cfg = config(tmp_path, f'notifiers:\n  desk: ["{receiver.apprise_url}"]\n')
    done = run_watcher("notify-test", "desk", "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    body = receiver.alerts[0]["message"]
    assert "test alert from «watcher»." in body, body


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts(shell: str) -> None:
    done = run_watcher("completion", shell)
    assert done.returncode == 0
    assert "watcher" in done.stdout and "matches" in done.stdout and "--since" in done.stdout


def test_readme_states_the_conventions() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes and output", 1)[1].split("\n## ", 1)[0]
    for phrase in ("| 0 |", "| 1 |", "| 2 |", "stderr", "--json", "closed pipe", "known"):
        assert phrase in section, phrase
    for label, _, _ in UNKNOWN:
        assert f"`{label.split()[0]}" in section, label
