"""The OpenAPI 3.1 document at ``/openapi.json`` (schemathesis tests the server against it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import __version__
from ..runner.runtime import Runtime

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"},
                                                                  "detail": {"type": "string"}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def document(rt: Runtime, *, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    instances = sorted(set(rt.config.channels) | set(rt.config.carriers))
    paths: dict[str, Any] = {
        "/healthz": {"get": {
            "summary": "Store reachable and migrations current",
            "operationId": "healthz",
            "responses": {
                "200": _json({"type": "object", "required": ["status"], "properties": {
                    "status": {"const": "ok"}, "schema": {"type": "string"}}}, "Healthy"),
                "503": _json({"type": "object", "required": ["status"], "properties": {
                    "status": {"enum": ["unavailable", "migrations_pending"]}}}, "Not healthy"),
            },
        }},
        "/webhooks/{instance}": {"post": {
            "summary": "A signed webhook from a channel or carrier; stored and answered at once",
            "operationId": "receiveWebhook",
            "parameters": [{"name": "instance", "in": "path", "required": True,
                            "schema": {"type": "string", "examples": instances[:1] or ["my-shop"]}}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {}}, "application/octet-stream": {"schema": {}}}},
            "responses": {
                "202": _json({"type": "object", "required": ["status", "delivery"], "properties": {
                    "status": {"const": "accepted"}, "delivery": {"type": "string"}}}, "Stored in the inbox"),
                "200": _json({"type": "object", "required": ["status", "delivery"], "properties": {
                    "status": {"const": "duplicate"}, "delivery": {"type": "string"}}}, "Seen before; not processed again"),
                "400": _json(_ERROR, "Malformed or stale delivery"),
                "401": _json(_ERROR, "Missing or wrong signature"),
                "404": _json(_ERROR, "No configured instance of that name takes webhooks"),
                "413": _json(_ERROR, "Body larger than [server] max_body_bytes"),
                "503": _json(_ERROR, "The instance has no webhook secret configured"),
            },
        }},
        "/t/{token}": {"get": {
            "summary": "The customer's tracking page",
            "operationId": "trackingPage",
            "parameters": [
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                {"name": "lang", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "The page", "content": {"text/html": {"schema": {"type": "string"}}}},
                "404": {"description": "No such order (the same answer for any unknown token)",
                        "content": {"text/html": {"schema": {"type": "string"}}}},
                "429": _json(_ERROR, "Too many requests from this client"),
            },
        }},
    }
    paths.update(extra or {})
    return {
        "openapi": "3.1.0",
        "info": {"title": "fulfilhub server", "version": __version__},
        "paths": paths,
    }
