"""An OpenAPI 3.1 document used as a contract: each real response is checked against it.

`Contract.check` fails when a response's status is not declared for its
operation, when its media type is not declared for that status, or when its
body does not validate (JSON Schema 2020-12, `$ref`s resolved in the document,
formats checked). The document's objects are read as closed: a key the
description does not name fails too, since the description is generated from
the types the routes return, and a key outside them is one the description
lacks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

import requests
from jsonschema import Draft202012Validator

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def closed(schema: Any) -> Any:
    """A copy of `schema` in which every object that lists its properties allows no others."""
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


def operations(document: dict[str, Any]) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation the document describes."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


def media_type(response: requests.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


class Contract:
    """What a document allows each operation to answer."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = closed(document.get("components", {}))
        #: (method, path, status) of every response checked.
        self.seen: set[tuple[str, str, int]] = set()

    def resolve(self, item: dict[str, Any]) -> dict[str, Any]:
        """Follow local `$ref`s (`#/components/responses/…`) to what they name."""
        while "$ref" in item:
            reference = item["$ref"]
            assert reference.startswith("#/"), f"only local references are used: {reference}"
            target: Any = self.document
            for part in reference[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            item = target
        return item

    def operation(self, method: str, path: str) -> dict[str, Any]:
        item = self.document["paths"].get(path)
        assert item is not None and method in item, f"{method.upper()} {path} is not described"
        return dict(item[method])

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        root = {"$schema": DIALECT, **closed(schema), "components": self.components}
        return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        return [
            f"at {error.json_path}: {error.message}"
            for error in self.validator(schema).iter_errors(instance)
        ]

    def check(self, method: str, path: str, response: requests.Response, body: Any = None) -> Any:
        """The response's body, once its status, media type and body are what the document
        declares for `method path`; `body` replaces the text of a response read in part."""
        what = f"{method.upper()} {path} ({response.request.url})"
        status = response.status_code
        text = response.text if body is None else body
        responses = self.operation(method, path)["responses"]
        declared = responses.get(str(status), responses.get(f"{str(status)[0]}XX"))
        declared = declared or responses.get("default")
        assert declared is not None, (
            f"{what} answered {status}, which its description does not declare"
            f" (it declares {sorted(responses)}): {text[:300]!r}"
        )
        content = self.resolve(declared).get("content", {})
        media = media_type(response)
        assert media in content, (
            f"{what} answered {status} as {media!r}; its description declares {sorted(content)}"
        )
        value: Any = text
        if media == "application/json" or media.endswith("+json"):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise AssertionError(f"{what} answered {status} with bad JSON: {exc}") from None
        schema = content[media].get("schema")
        if schema is not None:
            problems = self.errors(schema, value)
            assert not problems, (
                f"{what} answered {status} with a body its description does not allow:\n  "
                + "\n  ".join(problems[:10])
            )
        self.seen.add((method, path, status))
        return value


# --- the routes an app serves ------------------------------------------------------------


def route_table(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route of a Starlette app, under whatever middleware wraps it,
    with path converters left out (`/static/panels/{name}.js`)."""
    inner = app
    while not hasattr(inner, "routes"):
        inner = inner.app  # middleware keep the app they wrap as `app`
    found: set[tuple[str, str]] = set()
    _walk(inner.routes, "", found)
    return found


def _walk(routes: Iterable[Any], prefix: str, found: set[tuple[str, str]]) -> None:
    for route in routes:
        path = prefix + re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        inner = getattr(route, "routes", None)
        if inner:  # a Mount of routes
            _walk(inner, path, found)
        elif hasattr(route, "routes"):  # a Mount of an app: everything below its path
            found.add(("*", path + "/{path}"))
        else:
            methods = route.methods or {"GET"}
            found.update((m.lower(), path) for m in methods if m != "HEAD")


def api_literals(script: str) -> set[str]:
    """The `/api/…` paths a page script names, without their query strings."""
    return {m.rstrip("/") for m in re.findall(r"[\"'`](/api/[A-Za-z0-9_./-]*)", script)}
