"""The alert receiver: an aiohttp server on loopback that takes apprise `json://` posts and
records when each arrived, so detection latency is measured where an alert ends up."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    title: str
    body: str
    at: float  # time.time(), comparable with the daemon's stored UTC times
    mono: float  # time.monotonic(), for intervals within the harness


class Receiver:
    """Runs its own event loop in a daemon thread; `url` is the apprise target."""

    def __init__(self) -> None:
        from aiohttp import web

        self.arrivals: list[Arrival] = []
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        port: list[int] = []

        async def hook(request: web.Request) -> web.Response:
            payload = await request.json()
            self.arrivals.append(
                Arrival(
                    str(payload.get("title", "")),
                    str(payload.get("message", "")),
                    time.time(),
                    time.monotonic(),
                )
            )
            return web.Response(status=200)

        async def start() -> None:
            app = web.Application(client_max_size=16 * 1024 * 1024)
            app.router.add_post("/{tail:.*}", hook)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(start())
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait(10)
        self.url = f"json://127.0.0.1:{port[0]}/alerts"
