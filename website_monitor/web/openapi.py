"""The OpenAPI 3.1 description of `wm serve`, generated from the sections' types.

Each endpoint's parameters come from the fields of its parameter struct and
its response schema from its document type (`msgspec.json.schema_components`),
so the description is what the code does. Routes that are not plain reads
bring their path items; the types those refer to are added as components.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from website_monitor import __version__
from website_monitor.web.section import Endpoint, Section

REF = "#/components/schemas/{name}"

_ERROR = {
    "description": "An `Error: … (hint: …)` line",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


class Error(msgspec.Struct):
    """Every error: one `Error: … (hint: …)` line."""

    error: str


def _parameters(endpoint: Endpoint, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    if endpoint.params is None:
        return []
    _, components = msgspec.json.schema_components([endpoint.params], ref_template=REF)
    own = components.pop(endpoint.params.__name__)
    schemas.update(components)
    parameters = []
    for name, field in own.get("properties", {}).items():
        field = dict(field)
        description = field.pop("description", None)
        if "anyOf" in field:  # optional: `X | None`; a query parameter is absent instead
            options = [o for o in field.pop("anyOf") if o != {"type": "null"}]
            field.update(options[0] if len(options) == 1 else {"anyOf": options})
        field.pop("default", None)
        parameter: dict[str, Any] = {"name": name, "in": "query", "schema": field}
        if description:
            parameter["description"] = description
        if field.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _operation(endpoint: Endpoint, tag: str, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.operation_id,
        "tags": [tag],
        "parameters": _parameters(endpoint, schemas),
        "responses": {
            "200": {
                "description": endpoint.response.__doc__ or endpoint.summary,
                "content": {
                    "application/json": {
                        "schema": {"$ref": REF.format(name=endpoint.response.__name__)}
                    }
                },
            },
            "400": {"$ref": "#/components/responses/BadRequest"},
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "503": {"$ref": "#/components/responses/StoreUnavailable"},
        },
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    if not operation["parameters"]:
        del operation["parameters"]
    return operation


def _server_paths(sections: Sequence[Section]) -> dict[str, Any]:
    """The server's own routes: sections, live events, this document, metrics."""
    events = ", ".join(f"`{s.event}`" for section in sections for s in section.streams)
    return {
        "/api/sections": {
            "get": {
                "summary": "What this server shows: sections, page panels and live event names",
                "operationId": "getSections",
                "tags": ["server"],
                "responses": {
                    "200": {
                        "description": "Sections",
                        "content": {
                            "application/json": {"schema": {"$ref": REF.format(name="Sections")}}
                        },
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                },
            }
        },
        "/api/events": {
            "get": {
                "summary": "Live updates as server-sent events, one event per new row",
                "description": f"Event names: {events}; `hello` on connect, `store` when the"
                " store fails or recovers. Each event's id is a cursor; reconnecting with"
                " Last-Event-ID (or `after=`) resumes from it. With a token, `access_token=`"
                " may replace the header (EventSource sends none).",
                "operationId": "getEvents",
                "tags": ["server"],
                "parameters": [
                    {
                        "name": "after",
                        "in": "query",
                        "description": "Resume after this cursor, e.g. probe:12,dead_letter:0",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "access_token",
                        "in": "query",
                        "description": "The bearer token, for clients that cannot send headers",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "An endless text/event-stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    # The stream starts from the rows stored when it opens, read from the store.
                    "503": {"$ref": "#/components/responses/StoreUnavailable"},
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "getOpenAPI",
                "tags": ["server"],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus text exposition",
                "operationId": "getMetrics",
                "tags": ["server"],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": {"$ref": "#/components/responses/Unauthorized"},
                    "503": {"$ref": "#/components/responses/StoreUnavailable"},
                },
            }
        },
    }


def document(
    sections: Sequence[Section], token_required: bool, server_types: Sequence[type] = ()
) -> dict[str, Any]:
    """OpenAPI 3.1 description of the API, assembled from the sections."""
    paths = _server_paths(sections)
    types: list[type] = [Error, *server_types]
    for section in sections:
        types.extend(endpoint.response for endpoint in section.endpoints)
        types.extend(section.openapi_types)
    _, schemas = msgspec.json.schema_components(types, ref_template=REF)
    for section in sections:
        for endpoint in section.endpoints:
            paths[endpoint.path] = {"get": _operation(endpoint, section.name, schemas)}
        paths.update(section.openapi_paths)
    result: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "website-monitor",
            "version": __version__,
            "description": "The JSON API behind `wm serve`.",
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": "server"}] + [{"name": s.name} for s in sections],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "BadRequest": {**_ERROR, "description": "A query parameter is invalid"},
                "Unauthorized": {**_ERROR, "description": "The bearer token is missing or wrong"},
                "StoreUnavailable": {**_ERROR, "description": "The store cannot be reached"},
                "TooLarge": {**_ERROR, "description": "Body or line count over the limit"},
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if token_required:
        result["security"] = [{"bearer": []}]
        description = result["paths"]["/api/openapi.json"]["get"]
        description["security"] = [{"bearer": []}]
        description["responses"]["401"] = {"$ref": "#/components/responses/Unauthorized"}
    return result
