"""The server (``fulfilhub serve``): signed webhooks in, the customer's tracking page,
health and metrics, over the same store and engines as the runner.

:func:`build_app` is the app of a runtime; :class:`ServerThread` runs it on loopback in a
background thread (tests, ``fulfilhub demo --serve``); :func:`serve` runs it in the
foreground until SIGINT/SIGTERM, finishing requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..config import ServerConfig
from ..errors import ConfigError
from ..runner.runtime import Runtime
from .app import create_app

log = logging.getLogger("fulfilhub.server")


def build_app(rt: Runtime) -> Any:
    """The app ``fulfilhub serve`` runs over ``rt``: every part that exists today."""
    from . import tracking_parts

    return create_app(rt, **tracking_parts.parts(rt))


def _config(app: Any, **kwargs: Any) -> uvicorn.Config:
    """uvicorn's settings: the ``[server]`` limits (read times, connections) and the proxies
    whose forwarded headers are believed (none unless configured: uvicorn itself would
    believe any from loopback)."""
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    settings = runtime.config.server if runtime is not None else ServerConfig()
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=30,
                          http=limited_protocol(settings),
                          # uvicorn answers 503 once this many are open: the cap itself is enforced as they arrive
                          limit_concurrency=settings.max_connections + 1,
                          proxy_headers=bool(trusted), forwarded_allow_ips=trusted or [], server_header=False,
                          **kwargs)


def limited_protocol(settings: ServerConfig) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with read times and connections bounded.

    uvicorn bounds only the idle time between requests (keep-alive). Here a connection
    must also send a request's head within ``header_timeout_seconds`` of opening (or of
    its first byte after a keep-alive pause), and the body within ``body_timeout_seconds``
    of the head; otherwise it is closed. A connection beyond ``max_connections`` is
    closed as it arrives. So half-sent requests (slowloris) neither pile up nor hold a
    graceful shutdown.
    """

    class Limited(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _phase: str | None = None

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > settings.max_connections:
                log.warning("over max_connections (%d): a connection from %s closed", settings.max_connections,
                            (self.client or ("?",))[0])
                self.transport.close()
                return
            self._watch(fresh=True)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            self._arm(None)
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._arm(None)
            super().connection_lost(exc)

        def _watch(self, fresh: bool = False) -> None:
            state = self.conn.their_state
            if state is h11.IDLE and (fresh or self.timeout_keep_alive_task is None):
                if self._phase != "head":
                    self._arm("head")
            elif state is h11.SEND_BODY:
                if self._phase != "body":
                    self._arm("body")
            elif state is not h11.IDLE:
                self._arm(None)

        def _arm(self, phase: str | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._phase = phase
            if phase is not None:
                seconds = settings.header_timeout_seconds if phase == "head" else settings.body_timeout_seconds
                self._deadline = self.loop.call_later(seconds, self._expired, phase, seconds)

        def _expired(self, phase: str, seconds: int) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            log.info("closed a connection from %s: its request %s took longer than %ds", (self.client or ("?",))[0],
                     "head" if phase == "head" else "body", seconds)
            self.transport.close()

    return Limited


class _Server(uvicorn.Server):
    """uvicorn's server, but a signal ends it cleanly (exit 0) once requests in flight are
    done, instead of being raised again at the end as uvicorn does."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _socket(host: str, port: int) -> socket.socket:
    """A listening socket whose connections send at once (no 40 ms Nagle stalls between
    uvicorn's writes of a response's head and body)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def serve(rt: Runtime, host: str, port: int, *, listening: Callable[[], None] | None = None) -> None:
    """Serve in the foreground; SIGINT/SIGTERM stop taking connections and finish those in
    flight (a second signal forces the end). ConfigError when it cannot listen there."""
    try:
        sock = _socket(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another with --host/--port "
                          f"or [server] host/port", key="server.port") from None
    app = build_app(rt)
    sockets = [sock, *_metrics_socket(rt, app)]
    if listening is not None:
        listening()
    try:
        _Server(_config(app)).run(sockets=sockets)
    finally:
        for one in sockets:
            one.close()
        app.state.close()


def _metrics_socket(rt: Runtime, app: Any) -> list[socket.socket]:
    """The metrics listener's socket (``[server] metrics_host``/``metrics_port``), if configured."""
    settings = rt.config.server
    if settings.metrics_port is None:
        return []
    try:
        sock = _socket(settings.metrics_host, settings.metrics_port)
    except OSError as exc:
        raise ConfigError(f"cannot listen for metrics on {settings.metrics_host}:{settings.metrics_port}: "
                          f"{exc.strerror or exc}", key="server.metrics_port") from None
    app.state.metrics_ports.add(sock.getsockname()[1])
    return [sock]


class ServerThread:
    """The server on ``127.0.0.1`` and a free port, in a background thread: ``with ServerThread(rt) as s: s.url``."""

    def __init__(self, rt: Runtime, app: Any | None = None):
        self.app = app if app is not None else build_app(rt)
        self._sock = _socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._extra = _metrics_socket(rt, self.app) if hasattr(getattr(self.app, "state", None), "metrics_ports") else []
        #: The metrics listener's URL, when ``[server] metrics_port`` is set.
        self.metrics_url = f"http://{rt.config.server.metrics_host}:{rt.config.server.metrics_port}" if self._extra else None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        self._server = uvicorn.Server(_config(self.app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock, *self._extra]},
                                        name="fulfilhub-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"fulfilhub server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        for sock in self._extra:
            sock.close()
        close = getattr(getattr(self.app, "state", None), "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ServerThread", "build_app", "create_app", "serve"]
