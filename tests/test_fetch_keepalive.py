"""Connections kept between polls, against a real loopback HTTP/1.1 server that counts them:
a host polled again reuses its connection, the idle pool is capped, and a kept connection the
server has closed meanwhile costs nothing but a new one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from watcher.ingest.fetch import Fetcher, FetchLimits, idle_cap

LIMITS = FetchLimits(timeout=5, allow_private_addresses=True)


@dataclass
class Counts:
    opened: int = 0
    closed: int = 0
    requests: int = 0
    heads: list[bytes] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)


async def serve(counts: Counts, hosts: int = 1, close_after: int = 0) -> list[asyncio.Server]:
    """`hosts` servers on their own ports (a host each, as aiohttp keys its pool by host and
    port), answering 304 on keep-alive connections; `close_after` > 0: the server closes a
    connection after that many answers, as a server's own idle timeout does."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        counts.opened += 1
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"GET "):
                    break
                counts.requests += 1
                counts.heads.append(head)
                closing = b"\r\nConnection: close\r\n" in head  # as real servers honour it
                writer.write(
                    b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 0\r\n'
                    + (b"Connection: close\r\n\r\n" if closing else b"\r\n")
                )
                await writer.drain()
                answered += 1
                if closing or (close_after and answered >= close_after):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            counts.closed += 1
            writer.close()

    servers = []
    for _ in range(hosts):
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        counts.ports.append(server.sockets[0].getsockname()[1])
        servers.append(server)
    return servers


def test_a_host_polled_again_reuses_its_connection() -> None:
    async def go() -> tuple[Counts, int]:
        counts = Counts()
        servers = await serve(counts)
        url = f"http://127.0.0.1:{counts.ports[0]}/feed"
        async with Fetcher(LIMITS) as f:
            for _ in range(5):
                resp = await f.get(url, etag='"v1"')
                assert resp.not_modified
            idle = f.idle_connections
        for s in servers:
            s.close()
        return counts, idle

    counts, idle = asyncio.run(go())
    assert counts.requests == 5
    assert counts.opened == 1
    assert idle == 1


def test_no_keepalive_opens_a_connection_per_request() -> None:
    async def go() -> Counts:
        counts = Counts()
        servers = await serve(counts)
        url = f"http://127.0.0.1:{counts.ports[0]}/feed"
        async with Fetcher(FetchLimits(timeout=5, allow_private_addresses=True, keepalive=0)) as f:
            for _ in range(3):
                await f.get(url)
            assert f.idle_connections == 0
        for s in servers:
            s.close()
        return counts

    counts = asyncio.run(go())
    assert counts.requests == 3 and counts.opened == 3


def test_a_connection_not_wanted_again_is_not_kept() -> None:
    """A feed polled less often than connections are kept asks the server to close: nothing
    is left in the idle pool."""

    async def go() -> tuple[Counts, int]:
        counts = Counts()
        servers = await serve(counts)
        url = f"http://127.0.0.1:{counts.ports[0]}/feed"
        async with Fetcher(LIMITS) as f:
            for _ in range(3):
                assert (await f.get(url, keep_alive=False)).not_modified
            idle = f.idle_connections
        for s in servers:
            s.close()
        return counts, idle

    counts, idle = asyncio.run(go())
    assert counts.requests == 3 and counts.opened == 3 and idle == 0
    assert all(b"\r\nConnection: close\r\n" in head for head in counts.heads)


def test_idle_pool_is_capped_and_keeps_the_oldest() -> None:
    """Five hosts, room for two idle connections: the first two polled keep theirs (they come
    round first in the next cycle), the other three are closed once answered."""

    async def go() -> tuple[Counts, list[int]]:
        counts = Counts()
        servers = await serve(counts, hosts=5)
        limits = FetchLimits(timeout=5, allow_private_addresses=True, max_idle=2)
        idle = []
        async with Fetcher(limits) as f:
            for _cycle in range(2):
                for port in counts.ports:
                    await f.get(f"http://127.0.0.1:{port}/feed")
                    idle.append(f.idle_connections)
            await asyncio.sleep(0.1)  # the server sees the closed ones go
            closed_in_cycles = counts.closed
        for s in servers:
            s.close()
        return counts, [*idle, closed_in_cycles]

    counts, seen = asyncio.run(go())
    *idle, closed = seen
    assert max(idle) == 2
    assert counts.requests == 10
    # cycle 1 opens five and keeps two; cycle 2 reuses those two and opens three again
    assert counts.opened == 8
    assert closed == 6


def test_a_kept_connection_the_server_closed_is_replaced_without_error() -> None:
    async def go() -> Counts:
        counts = Counts()
        servers = await serve(counts, close_after=1)
        url = f"http://127.0.0.1:{counts.ports[0]}/feed"
        async with Fetcher(LIMITS) as f:
            for _ in range(3):
                assert (await f.get(url)).not_modified
                await asyncio.sleep(0.05)  # the server's close reaches the pool
        for s in servers:
            s.close()
        return counts

    counts = asyncio.run(go())
    assert counts.requests == 3 and counts.opened == 3


def test_an_expired_connection_is_not_reused() -> None:
    async def go() -> Counts:
        counts = Counts()
        servers = await serve(counts)
        url = f"http://127.0.0.1:{counts.ports[0]}/feed"
        async with Fetcher(
            FetchLimits(timeout=5, allow_private_addresses=True, keepalive=0.2)
        ) as f:
            await f.get(url)
            await asyncio.sleep(0.6)
            await f.get(url)
        for s in servers:
            s.close()
        return counts

    counts = asyncio.run(go())
    assert counts.requests == 2 and counts.opened == 2


def test_idle_cap_leaves_most_file_descriptors_free() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = idle_cap()
    assert 0 < cap <= 4096
    if soft != resource.RLIM_INFINITY:
        assert cap <= soft // 4
