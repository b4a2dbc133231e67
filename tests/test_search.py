"""`watcher search`: rule queries over stored stories, on SQLite FTS5 and PostgreSQL FTS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import run_watcher
from watcher.cli.search import query_error, render_result, result_json
from watcher.errors import RuleError
from watcher.rules import normalise_text
from watcher.rules.fulltext import compile_search
from watcher.store import Store
from watcher.store.search import PG_INDEX, candidate_query, drop_search, ensure_search, search
from watcher.store.tables import StoryRow

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

RUSSIAN = (
    "Пашинян и Алиев обсудили Карабах",
    "Премьер-министр Армении Никол Пашинян и президент Азербайджана Ильхам Алиев обсудили "
    "мирный договор. Вопрос Карабаха остаётся главным.",
)
ARMENIAN = (
    "Փաշինյան. խաղաղության պայմանագիր",
    "Վարչապետ Փաշինյան հայտարարել է, որ Ղարաբաղ հարցը քննարկվել է Բրյուսելում։",
)
AZERBAIJANI = (
    "Qarabağda bərpa işləri davam edir",
    "Prezident İlham Əliyev Qarabağ iqtisadi rayonunda yeni layihələrin açılışında iştirak edib.",
)


def add(
    store: Store,
    title: str,
    body: str = "",
    *,
    summary: str = "",
    feed: str = "wire",
    seen: datetime = NOW,
    url: str | None = None,
) -> int:
    """A story as the pipeline stores it, search_text folded the same way."""
    with store.write() as s:
        row = StoryRow(
            feed=feed,
            key=f"guid:{feed}:{title}",
            url=url,
            title=title,
            summary=summary,
            body=body,
            search_text=normalise_text(f"{title}\n{summary}\n{body}"),
            content_hash=str(abs(hash((feed, title)))),
            first_seen_at=seen,
        )
        s.add(row)
        s.flush()
        assert row.id is not None
        return row.id


def titles(
    store: Store,
    query: str,
    since: datetime | None = None,
    feeds: tuple[str, ...] | list[str] = (),
    limit: int = 20,
) -> list[str]:
    found = search(store, compile_search(query), since=since, feeds=feeds, limit=limit)
    return [r.title for r in found]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    st = Store(database_url)
    st.create_schema()
    yield st
    st.close()


@pytest.fixture
def wires(store: Store) -> Store:
    add(store, *RUSSIAN, feed="interfax")
    add(store, *ARMENIAN, feed="armenpress")
    add(store, *AZERBAIJANI, feed="apa")
    add(store, "Peace talks resume in Brussels", "Negotiations on a treaty continue.", feed="rferl")
    add(store, "Football results", "Qarabağ beat Neftçi 2-0 in the Karabakh derby.", feed="apa")
    return store


# -- the translation (pure) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fts5", "tsquery"),
    [
        ("Карабах", '"karabakh"', "'karabakh'"),
        ('"peace talks"', '"peace talks"', "'peace' <-> 'talks'"),
        ("negotiat*", '"negotiat" *', "'negotiat':*"),
        ("Nagorno-Karabakh", '"nagorno karabakh"', "'nagorno' <-> 'karabakh'"),
        ("a OR b", '("a") OR ("b")', "('a') | ('b')"),
        (
            "karabakh NOT football",
            '(("karabakh")) NOT (("football"))',
            "('karabakh') & !('football')",
        ),
        ('"aliyev pashinyan"~5', 'NEAR("aliyev" "pashinyan", 16)', "('aliyev') & ('pashinyan')"),
        (
            "aliyev NEAR/3 (a OR b)",
            '("aliyev") AND (("a") OR ("b"))',
            "('aliyev') & (('a') | ('b'))",
        ),
        # field scopes and exact forms widen to "anywhere": the matcher narrows them again
        ("title:Karabakh", '"karabakh"', "'karabakh'"),
        ("=NATO", '"nato"', "'nato'"),
    ],
)
def test_query_translates_for_both_engines(query: str, fts5: str, tsquery: str) -> None:
    compiled = compile_search(query)
    assert compiled.fts5 == fts5
    assert compiled.tsquery == tsquery


@pytest.mark.parametrize(
    "query",
    ["karabakh NOT title:peace", "title:(karabakh NOT peace)", "karabakh NOT =NATO"],
)
def test_negation_of_a_widened_term_is_left_to_the_matcher(query: str) -> None:
    """Excluding a superset would drop real hits (peace in the body, not the title)."""
    compiled = compile_search(query)
    assert "NOT" not in compiled.fts5
    assert "!" not in compiled.tsquery


def test_term_lists_expand_into_alternatives() -> None:
    compiled = compile_search("@kb AND talks", {"kb": ["Karabakh", "Qarabağ", "Ղարաբաղ"]})
    assert compiled.fts5 == '(("karabakh") OR ("qarabag") OR ("gharabagh")) AND ("talks")'


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("karabakh AND", "expected a term after 'AND'", 9),
        ("(peace talks", "expected ')' to close '(' opened", 0),
        ("peace or talks", "lowercase 'or' is not an operator", 6),
        ("NOT football", "would match stories that contain none of its terms", None),
        ("@nowhere", "unknown term list '@nowhere'", 0),
    ],
)
def test_bad_query_error_names_the_position(query: str, message: str, position: int | None) -> None:
    with pytest.raises(RuleError) as caught:
        compile_search(query)
    assert message in caught.value.detail
    assert caught.value.position == position
    assert "rule 'search'" not in str(caught.value)
    if position is not None:
        shown = query_error(query, caught.value).splitlines()
        assert shown[-1].index("^") - 2 == position


# -- searching stored stories (SQLite, and PostgreSQL in the PG pass) -------------------------


@pytest.mark.parametrize("query", ["Карабах", "karabakh", "Karabakh", "KARABAKH"])
def test_russian_story_found_from_any_script(wires: Store, query: str) -> None:
    assert "Пашинян и Алиев обсудили Карабах" in titles(wires, query)


@pytest.mark.parametrize("query", ["Փաշինյան", "Pashinyan", "Ղարաբաղ", "gharabagh"])
def test_armenian_story_found_by_latin_and_armenian_queries(wires: Store, query: str) -> None:
    assert ARMENIAN[0] in titles(wires, query)


@pytest.mark.parametrize("query", ["Qarabağ*", "qarabag*", "Əliyev", "ilham", "İlham Əliyev"])
def test_azerbaijani_story_found_with_and_without_diacritics(wires: Store, query: str) -> None:
    assert AZERBAIJANI[0] in titles(wires, query)


def test_phrase_needs_adjacent_words(wires: Store) -> None:
    assert titles(wires, '"peace talks"') == ["Peace talks resume in Brussels"]
    assert titles(wires, '"talks peace"') == []


def test_not_excludes(wires: Store) -> None:
    found = titles(wires, "karabakh NOT football")
    assert "Football results" not in found
    assert RUSSIAN[0] in found
    assert "Football results" in titles(wires, "karabakh")


def test_prefix_finds_inflected_forms(wires: Store) -> None:
    assert titles(wires, "negotiat*") == ["Peace talks resume in Brussels"]
    assert titles(wires, "negotiat") == []  # whole words otherwise
    assert RUSSIAN[0] in titles(wires, "Карабах*")  # "Карабаха" in the body


def test_field_scope_is_exact(wires: Store) -> None:
    # the Russian title says Карабах; the football story only has it in the body
    assert titles(wires, "title:karabakh") == [RUSSIAN[0]]
    assert "Football results" in titles(wires, "body:karabakh")


def test_proximity_is_measured_by_the_matcher(store: Store) -> None:
    add(store, "Close", "Aliyev met Pashinyan in Brussels.")
    add(store, "Far", "Aliyev " + "word " * 30 + "Pashinyan.")
    assert titles(store, '"aliyev pashinyan"~3') == ["Close"]
    assert titles(store, "aliyev NEAR/5 pashinyan") == ["Close"]
    assert sorted(titles(store, "aliyev pashinyan")) == ["Close", "Far"]


def test_title_hit_ranks_above_body_only_hit(store: Store) -> None:
    # the body-only story mentions the word more often, which the engine alone would prefer
    add(store, "Regional roundup", "Karabakh. " * 5 + "Other news from the region.")
    add(store, "Karabakh border commission meets", "The commission met on Tuesday.")
    results = search(store, compile_search("karabakh"))
    assert [r.title for r in results] == ["Karabakh border commission meets", "Regional roundup"]
    assert results[0].score > results[1].score


def test_engine_rank_orders_equal_scores(store: Store) -> None:
    add(store, "One", "A long story about many things: " + "filler words here. " * 40 + "talks")
    add(store, "Two", "talks talks talks")
    results = search(store, compile_search("talks"))
    assert [r.title for r in results] == ["Two", "One"]
    assert results[0].rank > results[1].rank


def test_snippets_mark_the_original_text(wires: Store) -> None:
    (result,) = search(wires, compile_search("title:Карабах OR title:karabakh"))
    hit = result.hits[0]
    assert hit.field == "title"
    assert hit.snippet[hit.mark_start : hit.mark_end] == "Карабах"
    (armenian,) = search(wires, compile_search("body:pashinyan"), feeds=["armenpress"])
    assert armenian.hits[0].marked().count("«Փաշինյան»") == 1
    assert "«Փաշինյան»" in render_result(armenian)


def test_since_feed_and_limit(store: Store) -> None:
    add(store, "Old Karabakh story", seen=NOW - timedelta(days=40), feed="apa")
    add(store, "New Karabakh story", seen=NOW, feed="apa")
    add(store, "Other feed Karabakh story", seen=NOW, feed="trend")
    assert "Old Karabakh story" not in titles(store, "karabakh", since=NOW - timedelta(days=30))
    assert sorted(titles(store, "karabakh", feeds=["apa"])) == [
        "New Karabakh story",
        "Old Karabakh story",
    ]
    assert len(titles(store, "karabakh", limit=2)) == 2


def test_limit_keeps_looking_past_rejected_candidates(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Candidates the matcher rejects (body hits for a title: query) do not use up the limit."""
    from watcher.store import search as search_module

    for i in range(12):
        add(store, f"Story {i}", "karabakh " * 5, seen=NOW - timedelta(minutes=i))
    add(store, "At last", "", summary="A long summary. " * 30 + "karabakh", seen=NOW - DAY)
    add(store, "Karabakh", "", seen=NOW - 2 * DAY)
    rounds: list[int] = []
    real = search_module._candidates

    def counted(*args: Any) -> list[tuple[int, float]]:
        got = real(*args)
        rounds.append(len(got))
        return got

    monkeypatch.setattr(search_module, "WINDOW", 3)
    monkeypatch.setattr(search_module, "_candidates", counted)
    assert titles(store, "title:karabakh", limit=1) == ["Karabakh"]
    assert len(rounds) > 1


def test_index_follows_updates_and_deletes(store: Store) -> None:
    story = add(store, "Ceasefire holds", "Quiet night on the line.")
    assert titles(store, "ceasefire") == ["Ceasefire holds"]
    with store.write() as s:
        s.execute(
            text(
                "UPDATE stories SET title = 'Truce holds', search_text = 'truce holds' WHERE id = :i"
            ),
            {"i": story},
        )
    assert titles(store, "ceasefire") == []
    assert titles(store, "truce") == ["Truce holds"]
    with store.write() as s:
        s.execute(text("DELETE FROM stories WHERE id = :i"), {"i": story})
    assert titles(store, "truce") == []
    if store.is_sqlite:
        with store.write() as s:  # raises if the index disagrees with the table
            s.execute(text("INSERT INTO stories_fts(stories_fts) VALUES ('integrity-check')"))


def test_missing_triggers_are_recreated_and_the_index_rebuilt(store: Store) -> None:
    """What an Alembic batch migration (copy, drop, rename `stories`) leaves behind."""
    if not store.is_sqlite:
        pytest.skip("SQLite only: triggers")
    add(store, "Before the copy", "Shusha.")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER stories_fts_ai"))
    add(store, "During the copy", "Shusha.")  # not indexed: no trigger
    ensure_search(store.engine)
    assert sorted(titles(store, "shusha")) == ["Before the copy", "During the copy"]
    add(store, "After the copy", "Shusha.")
    assert len(titles(store, "shusha")) == 3


def test_install_search_rebuilds_what_is_missing(store: Store) -> None:
    """A batch migration on SQLite drops the triggers with the copied table; stories saved
    before search existed have no search_text. install_search repairs both."""
    add(store, "Before the index", "Armenpress reports on Lachin.")
    with store.engine.begin() as conn:
        drop_search(conn)
        conn.execute(text("UPDATE stories SET search_text = ''"))
    ensure_search(store.engine)
    ensure_search(store.engine)  # idempotent
    assert titles(store, "lachin") == ["Before the index"]
    add(store, "After the index", "Lachin corridor.")
    assert sorted(titles(store, "lachin")) == ["After the index", "Before the index"]


def test_result_json_shape(wires: Store) -> None:
    (result,) = search(wires, compile_search("negotiat*"))
    data = result_json(result)
    assert data["title"] == "Peace talks resume in Brussels"
    assert data["feed"] == "rferl"
    assert data["first_seen_at"] == "2026-11-01T12:00:00Z"
    assert data["terms"] == ["negotiat*"]
    assert data["snippet"] == "«Negotiations» on a treaty continue."
    assert data["hits"][0]["mark"] == [0, 12]


# -- PostgreSQL, even in the SQLite pass ---------------------------------------------------


def test_postgresql_search_uses_the_gin_index(pg_url: str) -> None:
    st = Store(pg_url)
    st.create_schema()
    try:
        add(st, *RUSSIAN, feed="interfax")
        add(st, *AZERBAIJANI, feed="apa")
        add(st, "Peace talks resume in Brussels", "Negotiations continue.", feed="rferl")
        assert titles(st, "Karabakh") == [RUSSIAN[0]]
        assert titles(st, '"peace talks" NOT qarabag') == ["Peace talks resume in Brussels"]
        assert titles(st, "Qarabağ*") == [AZERBAIJANI[0]]
        statement = candidate_query(False, compile_search("karabakh NOT football"), None, ())
        with st.engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))
            compiled = statement.compile(dialect=conn.dialect)
            rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
            plan = "\n".join(r[0] for r in rows)
        assert PG_INDEX in plan
    finally:
        st.close()


# -- the command line ----------------------------------------------------------------------


def _config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "watcher.yaml"
    path.write_text(
        f"database: {database_url}\nterms:\n  kb: [Karabakh, Qarabağ, Ղարաբաղ]\n", encoding="utf-8"
    )
    return path


def test_cli_json_output(wires: Store, database_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url)
    done = run_watcher("search", "-c", str(config), "@kb NOT football", "--json", "--limit", "5")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert {r["feed"] for r in rows} == {"interfax", "armenpress", "apa"}
    assert rows[0]["score"] >= rows[-1]["score"]
    for row in rows:
        assert set(row) >= {
            "id",
            "title",
            "url",
            "feed",
            "terms",
            "hits",
            "snippet",
            "score",
            "rank",
        }
        assert "«" in row["snippet"]


def test_cli_text_output_and_filters(wires: Store, database_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url)
    done = run_watcher("search", "-c", str(config), "Karabakh", "--feed", "apa")
    assert done.returncode == 0, done.stderr
    assert "[apa]  Football results" in done.stdout
    assert "body: Qarabağ beat Neftçi 2-0 in the «Karabakh» derby." in done.stdout
    assert "interfax" not in done.stdout


def test_cli_bad_query_exits_2_with_position(database_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url)
    done = run_watcher("search", "-c", str(config), "karabakh AND (talks")
    assert done.returncode == 2
    assert "search: expected ')' to close '(' opened (at character 14)" in done.stderr
    assert done.stderr.splitlines()[-1] == "  " + " " * 13 + "^"
