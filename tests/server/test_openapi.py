"""The server against its own OpenAPI document (schemathesis): every documented operation
answers with a documented status and body, whatever it is sent, and never a 500."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings


def test_every_operation_conforms_to_the_document(served_module):
    base = served_module.server.url
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case):
            case.call_and_validate(base_url=base)

        conforms()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert {"GET /healthz", "POST /webhooks/{instance}", "GET /t/{token}", "GET /api/v1/promise"} <= set(checked)
