"""The only module that speaks HTTP: feeds and article pages.

Every request is bounded: one total deadline covering redirects and the body (a server that
trickles a byte a second cannot hold a slot past it), a cap on decoded bytes (so a gzip bomb
stops at the cap), at most five redirects over http(s) only, and a guard that refuses private,
loopback, link-local and similar addresses after DNS resolution, on every hop, at connect time.
aiohttp was chosen for its low CPU cost per request (DESIGN.md: ~0.1-0.5 ms against httpx's 2-4).

Politeness: at most `per_host` requests in flight to one host and a minimum gap (`host_gap`)
between the starts of two requests to it, plus a global limit. A request waits for its slots
*before* its deadline starts, so a thousand feeds queued behind one slow host time out only
for their own slowness, never for the queue's.
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import ResolveResult

from watcher import __version__
from watcher.errors import BlockedAddressError, FetchError

MAX_REDIRECTS = 5
# Seconds an idle connection is kept for the next poll of its host: under common servers' own
# idle timeouts (nginx 75 s), so we close first and rarely meet one closed under a request
# (aiohttp retries a GET once when we do), and under the few minutes after which NAT and
# firewalls drop idle connections silently (a request on one would wait out its deadline).
KEEPALIVE = 60.0
# Idle connections kept at most, whatever the number of hosts: about 8 KB of memory each (and a
# file descriptor), so 32 MB at most. Only feeds polled again within KEEPALIVE keep theirs
# (the poll asks with keep_alive): 10,000 feeds every 5 minutes keep none, 4,000 feeds every
# 15 s keep all of theirs.
MAX_IDLE = 4096
DEFAULT_USER_AGENT = (
    f"watcher/{__version__} (news-wire monitor; +https://github.com/watcher-news/watcher)"
)


@dataclass(frozen=True)
class FetchLimits:
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    concurrency: int = 20
    per_host: int = 2
    allow_private_addresses: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    host_gap: float = 0.0  # seconds between the starts of two requests to one host
    keepalive: float = KEEPALIVE  # seconds an idle connection is kept (0: none)
    max_idle: int | None = None  # idle connections kept at most (None: idle_cap())


@dataclass(frozen=True)
class Response:
    url: str  # final URL after redirects
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    redirected_permanently: bool = False  # every hop was 301/308

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def is_blocked_address(ip: str) -> bool:
    """True for addresses a feed has no business pointing us at."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or addr in ipaddress.ip_network("100.64.0.0/10")  # CGNAT
        or not addr.is_global
    )


def idle_cap(max_idle: int = MAX_IDLE) -> int:
    """Idle connections to keep: MAX_IDLE, but never more than a quarter of the process's file
    descriptors (a service manager's soft limit is often 1,024), which the database, article
    pages and the polls in flight need more."""
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return min(max_idle, 256)
    if soft == resource.RLIM_INFINITY:
        return max_idle
    return max(0, min(max_idle, soft // 4))


class _IdleBounded(aiohttp.TCPConnector):
    """aiohttp's pool with a cap on idle connections. A poll on a kept connection costs a
    fraction of one on a new one (no connect, no socket set-up: about 0.15-0.3 ms of CPU against
    0.75), but aiohttp keeps every idle connection until its keep-alive timeout, however many
    hosts there are: at 10,000 hosts that is as many sockets. Past the cap a released
    connection is closed rather than kept, so the connections kept are the oldest, which are
    those whose feeds are due first when feeds come round in a cycle (evicting the oldest
    instead would keep none of them once the cycle is longer than the cap).

    The count follows aiohttp's own pool (`_conns`): taken from, added to, and recounted when
    aiohttp sweeps out expired or closed connections."""

    def __init__(self, *args: Any, max_idle: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._max_idle = max_idle
        self._idle = 0

    @property
    def idle(self) -> int:
        return self._idle

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        before = len(self._conns.get(key, ()))
        if self._idle >= self._max_idle:
            should_close = True
        super()._release(key, protocol, should_close=should_close)
        self._idle += len(self._conns.get(key, ())) - before

    async def _get(self, key: Any, *args: Any, **kwargs: Any) -> Any:
        before = len(self._conns.get(key, ()))
        try:
            return await super()._get(key, *args, **kwargs)
        finally:
            self._idle -= before - len(self._conns.get(key, ()))

    def _cleanup(self) -> None:
        super()._cleanup()
        self._idle = sum(len(c) for c in self._conns.values())


class _GuardedConnector(_IdleBounded):
    """Filters resolved addresses at connect time, so redirects and DNS tricks cannot dodge it."""

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Any] | None = None
    ) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces)
        allowed = [r for r in results if not is_blocked_address(r["host"])]
        if not allowed:
            shown = ", ".join(sorted({r["host"] for r in results}))
            raise BlockedAddressError(
                f"refused to connect to {host} ({shown}): private, loopback or reserved address; "
                "set polling.allow_private_addresses: true only for trusted local feeds"
            )
        return allowed


class _Hosts:
    """Per-host slots and pacing. Keyed by host and port, as aiohttp's own connection pool is."""

    def __init__(self, per_host: int, gap: float) -> None:
        self.per_host = per_host
        self.gap = gap
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}
        self._next_start: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, key: str) -> AsyncIterator[None]:
        sem = self._slots.get(key)
        if sem is None:
            sem = self._slots[key] = asyncio.Semaphore(self.per_host)
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with sem:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:  # forget idle hosts: article links reach many of them
                del self._users[key], self._slots[key]

    async def pace(self, key: str) -> None:
        """Wait for this host's next start time and book the one after it (no lock needed:
        nothing awaits between reading and booking)."""
        if self.gap <= 0:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next_start.get(key, 0.0))
        self._next_start[key] = start + self.gap
        if len(self._next_start) > 4096:
            self._next_start = {k: t for k, t in self._next_start.items() if t > now}
        if start > now:
            await asyncio.sleep(start - now)


@lru_cache(maxsize=8192)
def _host_key(url: str) -> str:
    """Cached: the same feed URLs come back every cycle, and a 304 costs little else."""
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return url


class Fetcher:
    """One HTTP client for the process: keep-alive, global and per-host concurrency limits."""

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._hosts = _Hosts(limits.per_host, limits.host_gap)
        self._global: asyncio.Semaphore | None = None

    async def __aenter__(self) -> Fetcher:
        connector_cls = _IdleBounded if self.limits.allow_private_addresses else _GuardedConnector
        limits = self.limits
        keep = limits.keepalive > 0
        connector = connector_cls(
            limit=limits.concurrency,
            limit_per_host=limits.per_host,
            ttl_dns_cache=300,
            max_idle=(idle_cap() if limits.max_idle is None else limits.max_idle) if keep else 0,
            **({"keepalive_timeout": limits.keepalive} if keep else {"force_close": True}),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.limits.user_agent or DEFAULT_USER_AGENT},
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        self._global = asyncio.Semaphore(self.limits.concurrency)
        return self

    @property
    def idle_connections(self) -> int:
        """Connections kept open for the next request to their host."""
        connector = self._session.connector if self._session is not None else None
        return connector.idle if isinstance(connector, _IdleBounded) else 0

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str = "*/*",
        keep_alive: bool = True,
    ) -> Response:
        """GET with one deadline over the whole exchange. Raises FetchError on any failure.
        `keep_alive=False` asks the server to close the connection after its answer, for a host
        not asked again before the connection would expire: kept, it would only hold a socket
        and a place in the idle pool. (aiohttp has put a 304's connection back in the pool
        before the response is seen here, so the server's answer decides; one that keeps it
        anyway is bounded by MAX_IDLE and KEEPALIVE like any other.)"""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        request_headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if not keep_alive:
            request_headers["Connection"] = "close"
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        key = _host_key(url)
        assert self._global is not None
        # Host slot first, then a global one: a request holding a global slot while it waits
        # for a busy host would starve every other host.
        async with self._hosts.slot(key), self._global:
            await self._hosts.pace(key)
            return await self._get_within_deadline(url, request_headers, dict(headers or {}))

    async def _get_within_deadline(
        self, url: str, request_headers: dict[str, str], own: dict[str, str]
    ) -> Response:
        try:
            async with asyncio.timeout(self.limits.timeout):
                return await self._follow(url, request_headers, own)
        except TimeoutError as exc:
            raise FetchError(
                f"no complete response within {self.limits.timeout:g}s", url=url
            ) from exc
        except BlockedAddressError as exc:
            raise BlockedAddressError(str(exc), url=url) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, BlockedAddressError):
                raise BlockedAddressError(str(exc.os_error), url=url) from None
            raise FetchError(f"cannot connect: {exc.os_error or exc}", url=url) from exc
        except aiohttp.ClientError as exc:
            raise FetchError(f"HTTP error: {type(exc).__name__}: {exc}", url=url) from exc
        except (OSError, ValueError) as exc:
            raise FetchError(f"request failed: {exc}", url=url) from exc

    async def _follow(self, url: str, base: dict[str, str], own: dict[str, str]) -> Response:
        """`own` are the feed's configured headers (credentials, cookies): they go only to the
        feed's own origin, never to another host or port, nor in clear text after https."""
        assert self._session is not None
        permanent = True
        origin = _origin(url)
        for _hop in range(MAX_REDIRECTS + 1):
            _check_scheme(url)
            if _hop:
                await self._hosts.pace(_host_key(url))
            headers = {**base, **own} if _origin(url) == origin else base
            async with self._session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                    permanent = permanent and resp.status in (301, 308)
                    url = urljoin(url, resp.headers["Location"])
                    continue
                body = b"" if resp.status == 304 else await self._read(resp, url)
                return Response(
                    url=url,
                    status=resp.status,
                    body=body,
                    headers={k: v for k, v in resp.headers.items()},
                    redirected_permanently=permanent and _hop > 0,
                )
        raise FetchError(f"more than {MAX_REDIRECTS} redirects", url=url)

    async def _read(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        cap = self.limits.max_bytes
        declared = resp.content_length
        if declared is not None and declared > cap and "Content-Encoding" not in resp.headers:
            raise FetchError(f"body of {declared} bytes exceeds the {cap}-byte limit", url=url)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > cap:
                raise FetchError(f"body exceeds the {cap}-byte limit (after decoding)", url=url)
            chunks.append(chunk)
        return b"".join(chunks)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _check_scheme(url: str) -> None:
    if url[:8].lower().startswith(("http://", "https://")):
        return
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(f"refused non-http(s) URL scheme {scheme!r}", url=url)


def status_error(resp: Response) -> FetchError:
    """The error a non-success status means, worded for `watcher feeds` and logs."""
    reason = {
        404: "not found (404)",
        410: "gone (410): the publisher removed this feed",
        401: "unauthorised (401): the feed needs credentials (feeds[].headers)",
        403: "forbidden (403)",
        429: "rate limited (429)",
        503: "service unavailable (HTTP status 503)",
    }.get(resp.status)
    if reason is None:
        kind = "server error" if resp.status >= 500 else "unexpected answer"
        reason = f"{kind} (HTTP status {resp.status})"
    return FetchError(reason, url=resp.url, status=resp.status)


__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchLimits",
    "Fetcher",
    "Response",
    "is_blocked_address",
    "status_error",
]
