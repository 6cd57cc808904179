"""The parts of the server that grow with the engines: the promise API and the tracking
page's promise and delay, wired where those engines exist."""

from __future__ import annotations

from typing import Any

from ..runner.runtime import Runtime


def parts(rt: Runtime) -> dict[str, Any]:
    """``create_app`` keyword arguments for the parts that exist (none yet)."""
    return {}
