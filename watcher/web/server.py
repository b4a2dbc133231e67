"""The daemon's one HTTP server: uvicorn serving the app as a task on the daemon's event loop.

Routes that read the database are plain functions, which Starlette runs in its thread pool, so
a slow query never stalls polling. The socket is bound here, before the task starts, so an
address in use is a WatcherError at start-up (uvicorn would exit the process instead), and
uvicorn's own signal handling is switched off: the daemon owns SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from watcher import __version__, metrics
from watcher.clock import Clock, utcnow
from watcher.config import Config
from watcher.errors import WatcherError
from watcher.store import Store
from watcher.store.views import outbox_backlog, ping
from watcher.web.auth import Guard, GuardMiddleware
from watcher.web.cache import TtlCache

log = logging.getLogger("watcher.web")

HERE = Path(__file__).parent


@dataclass(frozen=True)
class WebState:
    """What the routes read: the daemon's current config (it changes on reload), its store and
    clock, and named liveness checks of the daemon's parts for /readyz."""

    config: Callable[[], Config]
    store: Store
    clock: Clock = utcnow
    checks: Mapping[str, Callable[[], bool]] = field(default_factory=dict)
    counts: TtlCache = field(default_factory=TtlCache)

    def per_day(self, what: str, days: int) -> dict[str, dict[str, int]]:
        """Counts per day (cached briefly: see web.cache)."""
        from datetime import timedelta

        from watcher.store.views import per_day

        since = self.clock() - timedelta(days=days)
        return self.counts.get((what, days), lambda: per_day(self.store, what, since))

    def match_totals(self) -> dict[str, int]:
        from watcher.store.views import match_totals

        return self.counts.get("totals", lambda: match_totals(self.store))


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def build_app(state: WebState) -> FastAPI:
    from watcher.web import api, atom, ui

    app = FastAPI(
        title="watcher",
        version=__version__,
        description="Matches, stories, feeds, rules and deliveries of a watcher daemon.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN; the CSP forbids that
        redoc_url=None,
    )
    app.state.web = state
    app.add_middleware(GuardMiddleware, guard=Guard(state.config().http.token))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/feeds/")) or exc.status_code != 404:
            return JSONResponse({"error": str(exc.detail)}, exc.status_code)
        return ui.not_found(request)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        ]
        return JSONResponse({"error": "; ".join(problems), "problems": problems}, 400)

    @app.get("/healthz", tags=["health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Ready: database reachable, scheduler running, config loaded, workers alive",
        responses={503: {"description": "Not ready; `failing` names the checks that failed"}},
    )
    async def readyz() -> JSONResponse:
        checks = await readiness(state)
        failing = [name for name, ok in checks.items() if not ok]
        body: dict[str, Any] = {"status": "ready" if not failing else "not ready", "checks": checks}
        if failing:
            body["failing"] = failing
        return JSONResponse(body, 503 if failing else 200)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics (text exposition format)",
        response_class=PlainTextResponse,
    )
    async def metrics_text() -> Response:
        backlog, oldest = await asyncio.to_thread(outbox_backlog, state.store, state.clock())
        metrics.set_outbox(backlog, oldest)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.include_router(api.router)
    app.include_router(atom.router)
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app


async def readiness(state: WebState) -> dict[str, bool]:
    try:
        await asyncio.wait_for(asyncio.to_thread(ping, state.store), 5.0)
        database = True
    except Exception as exc:  # any failure to answer is "not ready", with the reason logged
        log.warning("readiness: database check failed: %s", exc)
        database = False
    checks = {"database": database, "config": _config_loaded(state)}
    for name, check in state.checks.items():
        try:
            checks[name] = bool(check())
        except Exception:
            checks[name] = False
    return checks


def _config_loaded(state: WebState) -> bool:
    try:
        return state.config() is not None
    except Exception:
        return False


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the daemon handles signals; uvicorn's handlers would replace its own


class WebServer:
    """Started by the daemon after its scheduler, stopped before it drains."""

    def __init__(self, state: WebState, host: str, port: int) -> None:
        self.state = state
        self._sock = bind(host, port)
        self.port: int = self._sock.getsockname()[1]
        self.host = host
        config = uvicorn.Config(
            build_app(state),
            lifespan="off",
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[self._sock]), name="web"
        )
        log.info("web UI and API at %s", self.url)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 5.0)
        except (TimeoutError, Exception):
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        self._sock.close()


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # two processes binding at the same moment both pass bind (SO_REUSEADDR: neither
        # listens yet); the second learns the port is taken only here
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WatcherError(f"http.listen {host}:{port}: cannot listen: {exc.strerror}") from exc
    sock.setblocking(False)
    return sock


def start_web(
    config: Config, store: Store, current: Callable[[], Config], clock: Clock, **checks: Any
) -> WebServer | None:
    """The daemon's hook: a running server, or None when `http.enabled` is false."""
    if not config.http.enabled:
        return None
    try:
        server = WebServer(
            WebState(config=current, store=store, clock=clock, checks=checks),
            config.http.host,
            config.http.port,
        )
    except WatcherError as exc:
        # Polling and alerting matter more than the UI: keep them running, say so loudly.
        log.error("web server not started: %s; polling and alerts go on without it", exc)
        return None
    server.start()
    return server
