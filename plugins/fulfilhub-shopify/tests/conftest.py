"""Fixtures shared by the Shopify plugin's tests: golden payloads and a scenario clock."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from fulfilhub import SimClock

PAYLOADS = Path(__file__).parent / "payloads"


@pytest.fixture
def payload():
    """``payload("order_two_lines")``: a fresh copy of a golden Shopify payload."""

    def load(name: str) -> Any:
        return copy.deepcopy(json.loads((PAYLOADS / f"{name}.json").read_text()))

    return load


@pytest.fixture
def clock() -> SimClock:
    return SimClock()
