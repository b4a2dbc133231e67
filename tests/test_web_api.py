"""The JSON API, /healthz and /readyz, against a store the real pipeline filled."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import FeedServer, Receiver
from tests.web_support import Site, all_routes, build_site, site_fixture  # noqa: F401  (the `site` fixture)


def test_healthz_and_readyz(site: Site) -> None:
    c = site.client()
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert ready.status == 200
    assert ready.json()["checks"] == {
        "database": True,
        "config": True,
        "scheduler": True,
        "workers": True,
    }


def test_readyz_names_the_failing_check(site: Site) -> None:
    from tests.web_support import ServerThread
    from watcher.web.server import WebState

    thread = ServerThread(
        WebState(
            config=lambda: site.config,
            store=site.store,
            checks={"scheduler": lambda: False, "workers": lambda: True},
        )
    )
    try:
        from tests.web_support import Client

        r = Client(thread.port).get("/readyz")
    finally:
        thread.stop()
    assert r.status == 503
    assert r.json()["failing"] == ["scheduler"]


def test_matches_one_per_cluster_with_filters_and_cursor(site: Site) -> None:
    c = site.client()
    items = c.get("/api/v1/matches").json()["items"]
    titles = {(m["rule"], m["title"]) for m in items}
    assert ("leaders", "Pashinyan and Aliyev meet on the sidelines") in titles
    assert ("karabakh-talks", "Karabakh peace talks resume in Brussels") in titles
    assert all("Qarabağ FK" not in t for _, t in titles)  # NOT football
    talks = next(m for m in items if m["title"] == "Karabakh peace talks resume in Brussels")
    assert "talks" in [t.lower() for t in talks["terms"]]
    assert talks["hits"] and talks["matched_at"].endswith("Z")

    only = c.get("/api/v1/matches?rule=leaders").json()["items"]
    assert {m["rule"] for m in only} == {"leaders"}
    assert c.get("/api/v1/matches?feed=wire-two").json()["items"]
    assert {m["feed"] for m in c.get("/api/v1/matches?feed=wire-two").json()["items"]} == {
        "wire-two"
    }
    # text is folded as rules fold it: "QARABAG" finds "Qarabag"
    found = c.get("/api/v1/matches?text=QARABAG").json()["items"]
    assert [m["title"] for m in found] == ["Qarabag: negotiators agree on a border commission"]
    assert len(c.get("/api/v1/matches?since=3650d").json()["items"]) == len(items)
    assert c.get("/api/v1/matches?since=2999-01-01T00:00:00Z").json()["items"] == []
    # paging: one at a time walks every row exactly once
    seen, cursor = [], None
    while True:
        page = c.get("/api/v1/matches?limit=1" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [m["id"] for m in items]


def test_bad_parameters_say_what_to_fix(site: Site) -> None:
    c = site.client()
    r = c.get("/api/v1/matches?since=yesterday")
    assert r.status == 400 and "since" in r.json()["error"] and "2h" in r.json()["error"]
    r = c.get("/api/v1/matches?limit=0")
    assert r.status == 400 and r.json()["error"].startswith("limit:")
    r = c.get("/api/v1/matches?cursor=abc")
    assert r.status == 400 and "next_cursor" in r.json()["error"]
    r = c.get("/api/v1/search?q=" + "(karabakh")
    assert r.status == 400 and r.json()["error"].startswith("q:")
    r = c.get("/api/v1/nothing-here")
    assert r.status == 404 and "error" in r.json()
    r = c.get("/api/v1/stories/999999")
    assert r.status == 404 and "999999" in r.json()["error"]


def test_stories_and_story_detail_with_timeline(site: Site) -> None:
    c = site.client()
    stories = c.get("/api/v1/stories?limit=200").json()["items"]
    assert len(stories) >= 8
    talks = next(s for s in stories if s["title"] == "Karabakh peace talks resume in Brussels")
    d = c.get(f"/api/v1/stories/{talks['id']}").json()
    assert d["feed"] == "wire-one" and "Brussels" in d["body"]
    assert [m["rule"] for m in d["matches"]] == ["karabakh-talks"]
    assert d["deliveries"] and d["deliveries"][0]["status"] == "sent"
    assert d["timeline"][0]["delay_seconds"] == 0.0
    assert talks["id"] in [t["id"] for t in d["timeline"]]


def test_feeds_rules_deliveries(site: Site) -> None:
    c = site.client()
    feeds = c.get("/api/v1/feeds").json()["items"]
    assert [f["name"] for f in feeds] == ["wire-one", "wire-two", "hostile"]
    assert all(f["status"] == "ok" for f in feeds)
    assert sum(sum(f["new_per_day"].values()) for f in feeds) >= 8
    rules = {r["name"]: r for r in c.get("/api/v1/rules").json()["items"]}
    assert rules["leaders"]["matches"] >= 1 and rules["leaders"]["any"]
    assert sum(rules["karabakh-talks"]["matches_per_day"].values()) >= 2
    deliveries = c.get("/api/v1/deliveries").json()["items"]
    assert deliveries and {d["status"] for d in deliveries} == {"sent"}
    assert c.get("/api/v1/deliveries?status=dead").json()["items"] == []
    assert c.get("/api/v1/deliveries?status=bogus").status == 400


def test_retry_requeues_dead_never_sent(site: Site) -> None:
    from sqlmodel import col, select, update

    from watcher.store.tables import DeliveryRow

    with site.store.write() as s:
        first = s.exec(select(DeliveryRow).order_by(col(DeliveryRow.id))).first()
        assert first is not None
        s.execute(update(DeliveryRow).where(col(DeliveryRow.id) == first.id).values(status="dead"))
    c = site.client()
    token = c.csrf()
    r = c.post(
        "/api/v1/deliveries/retry", body={"ids": [first.id]}, headers={"X-CSRF-Token": token}
    )
    assert r.status == 200 and r.json() == {"requeued": 1}
    again = c.post(
        "/api/v1/deliveries/retry", body={"all_dead": True}, headers={"X-CSRF-Token": token}
    )
    assert again.json() == {"requeued": 0}
    sent = c.get("/api/v1/deliveries?status=sent").json()["items"]
    r = c.post(
        "/api/v1/deliveries/retry", body={"ids": [sent[0]["id"]]}, headers={"X-CSRF-Token": token}
    )
    assert r.json() == {"requeued": 0}  # a sent delivery is never sent again
    r = c.post("/api/v1/deliveries/retry", body={}, headers={"X-CSRF-Token": token})
    assert r.status == 400 and "all_dead" in r.json()["error"]


def test_search_and_backtest(site: Site) -> None:
    c = site.client()
    found = c.get("/api/v1/search?q=commission").json()["items"]
    assert [r["title"] for r in found] == ["Qarabag: negotiators agree on a border commission"]
    bt = c.get("/api/v1/backtest?query=Karabakh%20AND%20Brussels&days=365").json()
    assert bt["hits"] == 1 and bt["hit_samples"][0]["title"].startswith("Karabakh peace talks")
    # stories with Karabakh but not Brussels are near misses, with the reason
    assert bt["near_misses"] >= 1
    assert all("Brussels" not in s["title"] for s in bt["near_samples"])
    assert all(s["reason"] for s in bt["near_samples"])
    bad = c.get("/api/v1/backtest?query=karabakh%20and%20talks")
    assert bad.status == 400 and bad.json()["error"].startswith("query:")


def test_openapi_is_valid_and_covers_every_route(site: Site) -> None:
    from openapi_spec_validator import validate

    doc = site.client().get("/api/v1/openapi.json").json()
    validate(doc)
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    for path, methods, in_schema in all_routes():
        if in_schema or path.startswith(("/api/", "/feeds/", "/metrics")):
            for method in methods - {"HEAD"}:
                assert (path, method) in documented, path
    assert ("/api/v1/matches", "GET") in documented
    assert ("/feeds/rule/{name}.atom", "GET") in documented
    assert ("/api/v1/deliveries/retry", "POST") in documented
    assert len(documented) >= 15


def test_the_api_on_postgresql(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, pg_url: str
) -> None:
    """The same reads on PostgreSQL (dates per day, LIKE with escapes, cluster timelines)."""
    for pg in build_site(tmp_path, feed_server, receiver, db=pg_url):
        c = pg.client()
        items = c.get("/api/v1/matches?text=50%25_off%20qarabag").json()["items"]
        assert items == []  # % and _ are literal, not wildcards
        items = c.get("/api/v1/matches").json()["items"]
        assert len(items) >= 4
        detail = c.get(f"/api/v1/stories/{items[0]['story_id']}").json()
        assert detail["timeline"] and detail["matches"]
        feeds = c.get("/api/v1/feeds").json()["items"]
        assert sum(sum(f["new_per_day"].values()) for f in feeds) >= 8
        rules = c.get("/api/v1/rules").json()["items"]
        assert all(len(day) == 10 for r in rules for day in r["matches_per_day"])
        assert c.get("/readyz").status == 200
        assert "watcher_outbox_backlog 0.0" in c.get("/metrics").text
        assert c.get("/api/v1/search?q=commission").json()["items"]
        assert c.get("/feeds/all.atom").status == 200
