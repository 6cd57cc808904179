"""The server (``fulfilhub serve``): signed webhooks in, the customer's tracking page,
health and metrics, over the same store and engines as the runner.

:func:`build_app` is the app of a runtime; :class:`ServerThread` runs it on loopback in a
background thread (tests, ``fulfilhub demo --serve``); :func:`serve` runs it in the
foreground until SIGINT/SIGTERM, finishing requests in flight.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from ..errors import ConfigError
from ..runner.runtime import Runtime
from .app import create_app


def build_app(rt: Runtime) -> Any:
    """The app ``fulfilhub serve`` runs over ``rt``: every part that exists today."""
    from . import extras

    return create_app(rt, **extras.parts(rt))


def _config(app: Any, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=30,
                          **kwargs)


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
    if listening is not None:
        listening()
    try:
        _Server(_config(app)).run(sockets=[sock])
    finally:
        sock.close()
        app.state.close()


class ServerThread:
    """The server on ``127.0.0.1`` and a free port, in a background thread: ``with ServerThread(rt) as s: s.url``."""

    def __init__(self, rt: Runtime, app: Any | None = None):
        self.app = app if app is not None else build_app(rt)
        self._sock = _socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        self._server = uvicorn.Server(_config(self.app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
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
        close = getattr(getattr(self.app, "state", None), "close", None)
        if close is not None:
            close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["ServerThread", "build_app", "create_app", "serve"]
