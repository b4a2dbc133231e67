"""The token rule and CSRF: 401 without the token, 200 with it, a login form for the UI, every
POST refused without proof that it came from our own pages, and the security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FeedServer, Receiver, run_watcher
from tests.web_support import TOKEN, Client, Site, all_routes, build_site, config_text

PROTECTED = [
    "/",
    "/feeds",
    "/rules",
    "/search",
    "/deliveries",
    "/story/1",
    "/metrics",
    "/api/v1/matches",
    "/api/v1/stories",
    "/api/v1/stories/1",
    "/api/v1/feeds",
    "/api/v1/rules",
    "/api/v1/deliveries",
    "/api/v1/search?q=karabakh",
    "/api/v1/backtest?query=karabakh",
    "/api/v1/openapi.json",
    "/feeds/all.atom",
    "/feeds/rule/leaders.atom",
]


@pytest.fixture(scope="module", name="locked")
def locked_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server with `http.token` set."""
    feeds, receiver = FeedServer(), Receiver()
    feeds.thread.start()
    receiver.thread.start()
    try:
        yield from build_site(tmp_path_factory.mktemp("locked"), feeds, receiver, token=TOKEN)
    finally:
        for s in (feeds, receiver):
            s.httpd.shutdown()
            s.httpd.server_close()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", PROTECTED)
def test_401_without_the_token_200_with_it(locked: Site, path: str) -> None:
    c = locked.client()
    anonymous = c.get(path)
    if path.startswith(("/api/", "/metrics", "/feeds/")):
        assert anonymous.status == 401
        assert "Bearer" in anonymous.json()["error"]
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
    else:
        assert anonymous.status == 303
        assert anonymous.headers["location"].startswith("/login?next=")
    assert c.get(path, headers=bearer("wrong-token-wrong-token")).status in (401, 303)
    assert c.get(path, headers=bearer()).status == 200


def test_health_needs_no_token(locked: Site) -> None:
    c = locked.client()
    assert c.get("/healthz").status == 200
    assert c.get("/readyz").status == 200


def test_login_form_sets_a_signed_cookie(locked: Site) -> None:
    c = locked.client()
    form = c.get("/login?next=%2Ffeeds")
    assert form.status == 200 and 'name="token"' in form.text
    csrf = c.cookies["watcher_csrf"]
    wrong = c.post("/login", form={"token": "nope", "csrf_token": csrf, "next": "/feeds"})
    assert wrong.status == 401 and "watcher_session" not in c.cookies
    ok = c.post("/login", form={"token": TOKEN, "csrf_token": csrf, "next": "/feeds"})
    assert ok.status == 303 and ok.headers["location"] == "/feeds"
    assert "httponly" in ok.headers["set-cookie"].lower()
    assert c.get("/feeds").status == 200
    assert c.get("/api/v1/matches").status == 200  # the session works for the API too
    # a forged cookie is refused
    forged = Client(locked.thread.port)
    forged.cookies["watcher_session"] = "99999999999." + "0" * 64
    assert forged.get("/feeds").status == 303
    # the login never redirects off this server
    ok = c.post("/login", form={"token": TOKEN, "csrf_token": csrf, "next": "//evil.example/"})
    assert ok.headers["location"] == "/"
    c.post("/logout", form={"csrf_token": csrf})
    assert c.get("/feeds").status == 303


def post_routes() -> list[str]:
    return sorted(path for path, methods, _ in all_routes() if "POST" in methods)


def test_the_post_routes_are_the_ones_tested_below() -> None:
    assert post_routes() == ["/api/v1/deliveries/retry", "/deliveries/retry", "/login", "/logout"]


@pytest.mark.parametrize("path", post_routes())
def test_every_post_needs_csrf(locked: Site, path: str) -> None:
    c = locked.client()
    c.get("/login")  # a session and a CSRF cookie, as a browser would have
    csrf = c.cookies["watcher_csrf"]
    c.post("/login", form={"token": TOKEN, "csrf_token": csrf})
    assert "watcher_session" in c.cookies
    form = {"ids": "1", "token": TOKEN}
    for bad in ({}, {"csrf_token": "forged-value"}):
        r = c.post(path, form={**form, **bad})
        assert r.status == 403, (path, bad)
        assert "forgery" in r.json()["error"]
    assert c.post(path, form=form, headers={"X-CSRF-Token": "forged"}).status == 403
    # without the cookie, a matching field is no proof either
    bare = Client(locked.thread.port)
    bare.cookies["watcher_session"] = c.cookies["watcher_session"]
    assert bare.post(path, form={**form, "csrf_token": "x"}).status == 403
    good = c.post(path, form={**form, "csrf_token": csrf})
    assert good.status in (200, 303, 400), (path, good.status, good.text)
    # the bearer token is proof enough (no browser sends it cross-site)
    api = Client(locked.thread.port)
    assert api.post(path, form=form, headers=bearer()).status in (200, 303, 400)


def test_security_headers_on_every_answer(locked: Site) -> None:
    c = locked.client()
    for path in ("/healthz", "/login", "/static/style.css", "/api/v1/matches"):
        h = c.get(path).headers
        assert "script-src 'self'" in h["content-security-policy"]
        assert "default-src 'none'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"


def test_daemon_refuses_a_public_listen_without_a_token(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    cfg = tmp_path / "watcher.yaml"
    text = config_text(tmp_path, feed_server, receiver).replace("127.0.0.1:0", "0.0.0.0:0")
    cfg.write_text(text, encoding="utf-8")
    r = run_watcher("run", "-c", str(cfg), timeout=60)
    assert r.returncode == 2
    assert "http.listen: required when http.listen (0.0.0.0:0) is not a loopback" in r.stderr
    assert "WATCHER_TOKEN" in r.stderr
    # with the token from the environment the config is accepted
    cfg.write_text(
        text.replace(
            "http: {listen: '0.0.0.0:0'}", "http: {listen: '0.0.0.0:0', token: '${WATCHER_TOKEN}'}"
        ),
        encoding="utf-8",
    )
    ok = run_watcher("check", "-c", str(cfg), env={"WATCHER_TOKEN": TOKEN})
    assert ok.returncode == 0, ok.stderr
    short = run_watcher("check", "-c", str(cfg), env={"WATCHER_TOKEN": "short"})
    assert short.returncode == 2 and "http.token: must be at least 16 characters" in short.stderr


@pytest.mark.parametrize(
    ("text", "host", "port", "loopback"),
    [
        ("127.0.0.1:8080", "127.0.0.1", 8080, True),
        ("localhost:9000", "localhost", 9000, True),
        ("[::1]:8080", "::1", 8080, True),
        (":8080", "0.0.0.0", 8080, False),
        ("192.168.1.5:80", "192.168.1.5", 80, False),
    ],
)
def test_listen_addresses(text: str, host: str, port: int, loopback: bool) -> None:
    from watcher.config.http import is_loopback, parse_listen
    from watcher.config.model import HttpConfig

    assert parse_listen(text) == (host, port)
    assert is_loopback(host) is loopback
    http = HttpConfig(listen=text, token=TOKEN)
    assert (http.host, http.port, http.loopback) == (host, port, loopback)


@pytest.mark.parametrize("bad", ["127.0.0.1:99999", "127.0.0.1:http", "", True])
def test_bad_listen_addresses_say_what_to_write(bad: object) -> None:
    from watcher.config.http import parse_listen

    with pytest.raises(ValueError, match=r"127\.0\.0\.1:8080"):
        parse_listen(bad)


def test_session_cookie_expires_and_is_bound_to_the_token() -> None:
    from watcher.web.auth import Guard

    guard = Guard(TOKEN)
    cookie = guard.new_session(now=1000.0)
    assert guard.session_ok(cookie, now=1001.0)
    assert not guard.session_ok(cookie, now=1000.0 + 8 * 86400)
    assert not Guard(TOKEN + "-rotated").session_ok(cookie, now=1001.0)
    assert not guard.session_ok(cookie.replace(".", ".0"), now=1001.0)
