"""Who may use the web server, and which POSTs are really the user's.

Access: with `http.token` set (required beyond loopback), everything but /healthz, /readyz,
/login and /static needs it: `Authorization: Bearer TOKEN` for the API, /metrics and the Atom
feeds, or the session cookie that the login form sets (an expiry signed with a key derived from
the token, so changing the token logs everyone out and nothing is stored server-side).

CSRF: every POST must prove it comes from our own pages (double-submit: a random `watcher_csrf`
cookie, SameSite=Strict, repeated in the form field `csrf_token` or the `X-CSRF-Token` header)
or carry the bearer token (a header no other site can make a browser send). This applies with
or without a token: a loopback UI is reachable from any page the user opens.

Every response carries a strict Content-Security-Policy (only our own scripts and styles,
no inline code), X-Content-Type-Options, Referrer-Policy and frame denial.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SESSION_COOKIE = "watcher_session"
CSRF_COOKIE = "watcher_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_SECONDS = 7 * 86400
MAX_FORM_BYTES = 64 * 1024
OPEN_PATHS = ("/healthz", "/readyz", "/login", "/static/")
MACHINE_PATHS = ("/api/", "/metrics", "/feeds/")  # answered 401, not sent to the login form

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class Guard:
    """The token rule for one server; `token` "" means no token (loopback only)."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._key = hashlib.sha256(b"watcher-session:" + token.encode()).digest()

    @property
    def required(self) -> bool:
        return bool(self.token)

    def bearer_ok(self, header: str | None) -> bool:
        if not self.token or not header:
            return False
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self.token.encode()
        )

    def token_ok(self, value: str) -> bool:
        return bool(self.token) and hmac.compare_digest(value.encode(), self.token.encode())

    def new_session(self, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + SESSION_SECONDS)
        return f"{expiry}.{self._sign(str(expiry))}"

    def session_ok(self, value: str | None, now: float | None = None) -> bool:
        if not value or "." not in value:
            return False
        expiry, _, sig = value.partition(".")
        if not expiry.isdigit() or not hmac.compare_digest(sig, self._sign(expiry)):
            return False
        return int(expiry) > (time.time() if now is None else now)

    def _sign(self, text: str) -> str:
        return hmac.new(self._key, b"session." + text.encode(), hashlib.sha256).hexdigest()


def cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is the client's problem
                continue
    return {k: m.value for k, m in jar.items()}


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


class GuardMiddleware:
    """Security headers, the token rule and CSRF, in front of every route."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        jar = cookies(scope)
        bearer = self.guard.bearer_ok(header(scope, b"authorization"))
        csrf_cookie = jar.get(CSRF_COOKIE)
        issue_csrf = None if csrf_cookie else new_csrf()
        scope.setdefault("state", {})["csrf"] = csrf_cookie or issue_csrf

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                if issue_csrf:
                    headers.append(
                        (
                            b"set-cookie",
                            f"{CSRF_COOKIE}={issue_csrf}; Path=/; HttpOnly; "
                            "SameSite=Strict".encode(),
                        )
                    )
                message["headers"] = headers
            await send(message)

        authed = (
            not self.guard.required
            or bearer
            or self.guard.session_ok(jar.get(SESSION_COOKIE))
            or path.startswith(OPEN_PATHS)
        )
        if not authed:
            if path.startswith(MACHINE_PATHS):
                await _json(
                    send_secured,
                    401,
                    "this server needs its token: send the header 'Authorization: Bearer TOKEN' "
                    "(the value of http.token)",
                    [(b"www-authenticate", b'Bearer realm="watcher"')],
                )
            else:
                target = path + (
                    ("?" + scope["query_string"].decode()) if scope["query_string"] else ""
                )
                await _redirect(send_secured, "/login?next=" + quote(target, safe=""))
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            receive, ok = await _check_csrf(scope, receive, csrf_cookie, bearer)
            if not ok:
                await _json(
                    send_secured,
                    403,
                    "this request was refused as a possible cross-site request forgery: send the "
                    f"{CSRF_COOKIE} cookie's value in the form field {CSRF_FIELD!r} or the "
                    "X-CSRF-Token header (GET /api/v1/csrf gives one), or use a bearer token",
                )
                return
        await self.app(scope, receive, send_secured)


async def _check_csrf(
    scope: Scope, receive: Receive, cookie: str | None, bearer: bool
) -> tuple[Receive, bool]:
    """Whether the POST is ours; the body is read (bounded) and replayed to the route."""
    if bearer:
        return receive, True
    if not cookie:
        return receive, False
    sent = header(scope, CSRF_HEADER.encode())
    if sent is not None:
        return receive, hmac.compare_digest(sent.encode(), cookie.encode())
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return receive, False
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > MAX_FORM_BYTES:
            return receive, False
    form = parse_qs(body.decode("utf-8", "replace"))
    value = form.get(CSRF_FIELD, [""])[0]
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    return replay, bool(value) and hmac.compare_digest(value.encode(), cookie.encode())


async def _json(
    send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
