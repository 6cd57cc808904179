"""Fault injection for the sandbox: an ASGI middleware driven by a thread-safe plan."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import attrs

KINDS = ("422", "429", "500", "502", "503", "timeout", "malformed")


@attrs.define(kw_only=True)
class Fault:
    """Answer the next ``times`` requests whose path contains ``path`` with ``kind``.

    ``kind``: ``"429"`` (with ``Retry-After: retry_after``), ``"500"``/``"502"``/``"503"``,
    ``"timeout"`` (answer only after ``delay`` real seconds), ``"malformed"`` (HTTP 200
    with a truncated JSON body).
    ``method`` limits it to one HTTP method.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    path: str = ""
    times: int = 1
    method: str | None = None
    retry_after: float = 1.0
    delay: float = 2.0
    hits: int = 0


class FaultPlan:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.injected = 0

    def add(self, kind: str, path: str = "", times: int = 1, **kwargs: Any) -> Fault:
        fault = Fault(kind=str(kind), path=path, times=times, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path in path and (fault.method is None or fault.method == method):
                    fault.hits += 1
                    if fault.hits >= fault.times:
                        self._faults.remove(fault)
                    self.injected += 1
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [attrs.asdict(f) for f in self._faults]


class FaultMiddleware:
    """Applies a FaultPlan before the wrapped app sees the request, and the scripted
    ``api_outage`` disruptions of ``disruptions`` on ``clock`` (503 while one lasts)."""

    def __init__(self, app: Any, plan: FaultPlan, *, disruptions: Any = None, clock: Any = None):
        self.app = app
        self.plan = plan
        self.disruptions = disruptions
        self.clock = clock

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.disruptions is not None and self.clock is not None:
            outage = self.disruptions.api_down(scope["path"], self.clock.now())
            if outage is not None:
                body = {"error": f"service unavailable (scripted outage of {outage.service}"
                                 f"{': ' + outage.cause if outage.cause else ''})"}
                await _send(send, 503, json.dumps(body).encode(), {"content-type": "application/json"})
                return
        fault = self.plan.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "timeout":
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
            return
        if fault.kind == "malformed":
            await _send(send, 200, b'{"data": [{"id": 1, "name": "truncat', {"content-type": "application/json"})
            return
        headers = {"content-type": "application/json"}
        if fault.kind == "429":
            headers["retry-after"] = f"{fault.retry_after:g}"
            body = {"error": "rate limited (sandbox fault)"}
        elif fault.kind == "422":
            body = {"error": "unprocessable: refused (sandbox fault)"}
        else:
            body = {"error": "server error (sandbox fault)"}
        await _send(send, int(fault.kind), json.dumps(body).encode(), headers)


async def _send(send: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
