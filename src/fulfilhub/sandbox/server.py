"""Serve the registered simulators on loopback with uvicorn, in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs
import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from ..clock import SimClock
from .faults import FaultMiddleware
from .simulator import SandboxContext, Simulator


class _ClientGone:
    """A client that hangs up while a simulator reads its request (a test's timeout, a kill)
    needs no answer and no traceback in the log: the simulator's request simply ends.

    Without this, uvicorn logs "Exception in ASGI application" with a full traceback from
    its thread, in the middle of whatever the test process is doing."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            return


class SandboxServer:
    """Builds every simulator, mounts it at ``/<name>`` and serves on 127.0.0.1.

    ``with SandboxServer(simulators, context) as sandbox: sandbox.url_for("shopify")``.
    ``sandbox.simulators["shopify"]`` is the simulator object (its state, for tests).
    Each record's factory is loaded here (:meth:`Simulator.load`), not before.
    """

    def __init__(
        self,
        simulators: Mapping[str, Simulator],
        context: SandboxContext,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.context = context
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.simulators: dict[str, Any] = {}
        mounts = [
            Route("/_sandbox/clock", self._clock, methods=["GET", "POST"]),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST", "DELETE"]),
        ]
        for name, sim in sorted(simulators.items()):
            sim_context = attrs.evolve(context, base_url=self.url_for(name), name=name)
            built = sim.load()(sim_context)
            self.simulators[name] = built
            mounts.append(Mount(f"/{name}", app=built.app))
        self.app = _ClientGone(FaultMiddleware(Starlette(routes=mounts), context.faults, disruptions=context.disruptions,
                                               clock=context.clock))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._webhook_client: Any = None
        self._undelivered: dict[str, list[tuple[dict[str, str], bytes]]] = {}

    def url_for(self, name: str) -> str:
        return f"{self.url}/{name}"

    def deliver_webhooks(self, targets: Mapping[str, str], *, timeout: float = 10.0) -> dict[int | str, int]:
        """POST each simulator's pending webhooks (``pending_webhooks()``) to its target URL.

        ``targets`` maps a simulator name to the URL it delivers to (``fulfilhub serve``'s
        ``/webhooks/INSTANCE``). Returns how many answers of each status (``"error"`` for
        no answer). A delivery without an answer or answered 5xx is sent again on the next
        call, as vendors retry (the last 1000 per simulator are kept); one refused with a
        4xx is not.
        """
        import httpx

        if self._webhook_client is None:  # one client: building one costs more than a delivery
            self._webhook_client = httpx.Client(timeout=timeout)
        client = self._webhook_client
        counts: dict[int | str, int] = {}
        for name, url in targets.items():
            pending = getattr(self.simulators.get(name), "pending_webhooks", None)
            queue = self._undelivered.pop(name, []) + (list(pending()) if pending else [])
            again = []
            for headers, body in queue:
                try:
                    status: int | str = client.post(url, headers=headers, content=body).status_code
                except httpx.HTTPError:
                    status = "error"
                if status == "error" or (isinstance(status, int) and status >= 500):
                    again.append((headers, body))
                counts[status] = counts.get(status, 0) + 1
            if again:
                self._undelivered[name] = again[-1000:]
        return counts

    # -- admin endpoints

    async def _clock(self, request: Request) -> JSONResponse:
        clock = self.context.clock
        if request.method == "POST":
            if not isinstance(clock, SimClock):
                return JSONResponse({"error": "this sandbox runs on the wall clock"}, status_code=409)
            body = await request.json()
            clock.advance(timedelta(seconds=float(body.get("seconds", 0))))
        return JSONResponse({"now": clock.now().isoformat()})

    async def _faults(self, request: Request) -> JSONResponse:
        plan = self.context.faults
        if request.method == "POST":
            body = await request.json()
            try:
                plan.add(**body)
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
        elif request.method == "DELETE":
            plan.clear()
        return JSONResponse({"faults": plan.pending()})

    # -- lifecycle

    def start(self) -> SandboxServer:
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="fulfilhub-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"sandbox server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until interrupted (for ``fulfilhub sandbox``).

        uvicorn leaves logging as the caller set it up (its loggers are "foreign
        libraries" to the CLI: quiet unless ``--debug-http``).
        """
        config = uvicorn.Config(self.app, log_config=None, lifespan="off")
        self._server = uvicorn.Server(config)
        self._server.run(sockets=[self._sock])

    def stop(self) -> None:
        if self._webhook_client is not None:
            self._webhook_client.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
