"""`wm serve` answers as its OpenAPI document says, and the document describes every route.

A real `wm serve` process over a store holding data of every kind: every
operation of the document it serves is called with and without its query
parameters, with bad ones (400), without or with a wrong token (401), over the
body and line limits (413), cross-origin (403), with a body of another type
(415) and, on PostgreSQL, with the store taken away (503); each response's
status, media type and body must be what the document declares for it
(`tests/openapi_contract.py`).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest
import requests
from click.testing import CliRunner
from openapi_spec_validator import validate

from tests.openapi_contract import Contract, api_literals, media_type, operations, route_table
from tests.services import TCPProxy, free_port, terminate_cleanly, wm_process
from website_monitor.cli import main
from website_monitor.deadletters.store import DeadLetter
from website_monitor.probes.codec import ProbeResult
from website_monitor.store import open_store
from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.transport.writer import store_events

UTC = timezone.utc
URLS = ("https://alpha.example/health", "https://beta.example/?q=caf%C3%A9")
SOURCE = "web-contract"
STATIONS = ("dock-a", "checkout.latency", "orders", "queue.depth")
TOKEN = "contract-token-5f1c"
#: `wm serve --max-body` and `--max-lines` for the 413 checks (the smallest allowed body).
MAX_BODY = 1024
MAX_LINES = 20
COMBINED = '10.0.0.{host} - alice [{stamp}] "GET {path} HTTP/1.1" {status} {size} "-" "curl/8"'


def log_line(at: datetime, i: int) -> str:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    path = ("/api/users", "/shop/cart?id=7", "/")[i % 3]
    status = (200, 200, 304, 404, 503)[i % 5]
    return COMBINED.format(host=i % 250, stamp=stamp, path=path, status=status, size=100 + i)


# --- a store with data of every kind -----------------------------------------------------


def store_every_kind(url: str, folder: Path, now: datetime) -> None:
    """Probes (failures, 5xx, phases), telemetry of every type, dead letters with bytes
    that are not UTF-8, and, through `wm tail`, hits and an alert that recovered."""
    probes = []
    for i in range(60):
        at = now - timedelta(minutes=50) + timedelta(seconds=50 * i)
        if i % 13 == 5:
            probes.append(
                ProbeResult(URLS[i % 2], at, None, None, error="timeout", error_detail="read")
            )
            continue
        phases = {"dns_ms": 1.5, "connect_ms": 3.0, "tls_ms": 9.0} if i % 4 == 0 else {}
        status = 503 if i % 11 == 3 else 200
        probes.append(
            ProbeResult(URLS[i % 2], at, status, 20.0 + i * 3.5, ttfb_ms=15.0 + i, **phases)
        )
    bucket = now.replace(second=0, microsecond=0)
    telemetry = [
        TelemetryBucket(
            name=name,
            metric_type=kind,
            bucket_start=start,
            bucket_seconds=60,
            emitted_at=now,
            arrivals=4 if kind == "station" else 0,
            departures=3 if kind == "station" else 0,
            samples=3,
            sum_value=60.0,
            sumsq_value=1400.0,
            min_value=10.0,
            max_value=30.0,
            first_value=10.0,
            first_at=start.timestamp() + 1,
            last_value=30.0,
            last_at=start.timestamp() + 50,
            total=6.0 if kind == "counter" else 0.0,
            status="ok" if kind == "station" else None,
            status_at=start.timestamp() + 2 if kind == "station" else None,
            p50=20.0 if kind == "timer" else None,
            p95=29.0 if kind == "timer" else None,
            p99=29.8 if kind == "timer" else None,
        )
        for name, kind in zip(STATIONS, ("station", "timer", "counter", "gauge"))
        for start in (bucket - timedelta(minutes=10), bucket)
    ]
    letters = [
        DeadLetter("probes", 0, 7, b"\xff\xfe not UTF-8", "value is not valid UTF-8", b"\x80"),
        DeadLetter("probes", 1, 8, None, "empty message (no value)", b"key"),
        DeadLetter("probes", 1, 9, b'{"kind": "probe"}', "field 'url' is missing"),
    ]
    with open_store(url) as repository:
        store_events(repository, [*probes, *telemetry], letters)

    start = now - timedelta(minutes=40)
    lines = [log_line(start + timedelta(seconds=i // 4), i) for i in range(160)]  # 4 hits/s
    lines += [log_line(start + timedelta(seconds=40 + 5 * i), i) for i in range(40)]  # quiet
    log = folder / "access.log"
    log.write_text("\n".join(lines) + "\n")
    tail = ["tail", "--from-start", "--exit-at-eof", "--publish", "--no-json", "--source", SOURCE]
    alerts = ["--threshold", "2", "--alert-window", "20s"]
    result = CliRunner().invoke(main, [*tail, *alerts, "-d", url, str(log)])
    assert result.exit_code == 0, result.output


# --- wm serve ------------------------------------------------------------------------------


@contextlib.contextmanager
def wm_serve(url: str, token: str | None = None) -> Iterator[str]:
    """`wm serve` in its own process on a free loopback port; its base URL."""
    port = free_port()
    args = ["serve", "-d", url, "--bind", f"127.0.0.1:{port}"]
    args += ["--max-body", str(MAX_BODY), "--max-lines", str(MAX_LINES)]
    env = {"WM_SERVE_TOKEN": token} if token else None
    with wm_process(*args, env=env) as process:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.communicate()[1]
            with contextlib.suppress(requests.ConnectionError):
                requests.get(base + "/api/openapi.json", timeout=2)
                break
            assert time.monotonic() < deadline, "wm serve never answered"
            time.sleep(0.1)
        yield base
        terminate_cleanly(process)


# --- calling the operations -----------------------------------------------------------------


@dataclass
class Caller:
    """Calls operations of a running server and checks each answer against the contract."""

    base: str
    contract: Contract
    token: str | None = None
    events: tuple[str, ...] = ()
    #: How many answers each (method, path) gave, by status.
    answers: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] = (),
        *,
        body: tuple[str, bytes] | None = None,
        headers: dict[str, str] | None = None,
        token: str | bool | None = True,
    ) -> tuple[int, Any]:
        """Send one request; its status and body, once checked."""
        sent = dict(headers or {})
        bearer = self.token if token is True else token or None
        if bearer:
            sent["Authorization"] = f"Bearer {bearer}"
        if body is None and method == "post":
            body = default_body(path, params)
        if body is not None:
            sent["Content-Type"] = body[0]
        operation = self.contract.operation(method, path)
        streaming = "text/event-stream" in self.contract.resolve(
            operation["responses"].get("200", {})
        ).get("content", {})
        response = requests.request(
            method.upper(),
            self.base + path,
            params=list(params),
            data=body[1] if body else None,
            headers=sent,
            timeout=15,
            stream=streaming,
        )
        with response:
            text = None
            if streaming and response.status_code == 200:
                text = read_first_event(response)
            value = self.contract.check(method, path, response, text)
        counts = self.answers.setdefault((method, path), {})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        return response.status_code, value


def read_first_event(response: requests.Response) -> str:
    """What a live stream sends up to its first event (`hello`); the stream never ends."""
    assert media_type(response) == "text/event-stream"
    text = ""
    for chunk in response.iter_content(chunk_size=None, decode_unicode=True):
        text += chunk
        if "event: hello" in text and text.endswith("\n\n"):
            return text
    raise AssertionError(f"the live stream ended before its hello: {text!r}")


def default_body(path: str, params: Sequence[tuple[str, str]]) -> tuple[str, bytes]:
    """A request body for POST `path`: JSON, or text/plain lines when the query names the
    source (as `wm tail --ship` sends them)."""
    assert path == "/api/logs", f"no request body known for POST {path}: add one to the test"
    lines = [log_line(datetime.now(UTC) - timedelta(seconds=30 - i), i) for i in range(3)]
    if any(name == "source" for name, _ in params):
        return "text/plain", ("\n".join(lines) + "\n").encode()
    return "application/json", json.dumps({"source": SOURCE, "lines": lines}).encode()


#: Valid values of every query parameter the document names, by name: each list holds the
#: alternatives to try (a list value is a repeated parameter). The test fails for a
#: parameter missing here, so a new one is tried as soon as it is described.
def valid_values(now: datetime, caller: Caller) -> dict[str, list[Any]]:
    cursor = ",".join(f"{event}:0" for event in caller.events)
    return {
        "url": [list(URLS), [URLS[1]]],
        "since": ["2h", (now - timedelta(hours=1)).isoformat()],
        "until": [(now + timedelta(minutes=1)).isoformat(), "1m"],
        "by": None,  # the enum the document gives
        "bucket": ["60s", "auto", "5m"],
        "source": [SOURCE],
        "station": [list(STATIONS[:2]), [STATIONS[3]]],
        "format": None,
        "batch": ["retry-batch-1"],
        "after": [cursor],
        "access_token": [caller.token or "unused"],
        "state": None,
        "kind": [["down", "traffic"], ["slo_burn"]],
    }


#: Values the server must refuse with 400, by parameter name (none: any string is valid).
BAD_VALUES: dict[str, list[str]] = {
    "since": ["last tuesday", "2026-13-45T00:00:00"],
    "until": ["soon"],
    "by": ["colour"],
    "bucket": ["0s", "fast"],
    "format": ["xml"],
    "batch": ["x" * 201],
    "state": ["closed"],
    "kind": ["nope"],
}


def parameter_sets(
    operation: dict[str, Any], values: dict[str, list[Any] | None]
) -> list[list[tuple[str, str]]]:
    """None, then every parameter at once, then each further alternative of each one."""
    chosen: dict[str, list[Any]] = {}
    for parameter in operation.get("parameters", []):
        name = parameter["name"]
        assert parameter["in"] == "query", f"{name}: only query parameters are used"
        assert name in values, f"no valid value known for the parameter {name!r}: add it here"
        options = values[name] or list(parameter["schema"]["enum"])
        chosen[name] = options

    def query(pick: dict[str, Any]) -> list[tuple[str, str]]:
        return [
            (name, item)
            for name, value in pick.items()
            for item in (value if isinstance(value, list) else [value])
        ]

    sets = [[], query({name: options[0] for name, options in chosen.items()})] if chosen else [[]]
    for name, options in chosen.items():
        for option in options[1:]:
            sets.append(query({**{n: o[0] for n, o in chosen.items()}, name: option}))
    return sets


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture
def stored(store_url: str, tmp_path: Path) -> datetime:
    now = datetime.now(UTC)
    store_every_kind(store_url, tmp_path, now)
    return now


def document_of(base: str, token: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = requests.get(base + "/api/openapi.json", headers=headers, timeout=10)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    validate(document)  # OpenAPI 3.1, with its schemas (openapi-spec-validator)
    return document


def test_every_operation_answers_as_described(store_url: str, stored: datetime) -> None:
    with wm_serve(store_url) as base:
        document = document_of(base)
        contract = Contract(document)
        caller = Caller(base, contract)
        sections = caller.call("get", "/api/sections")[1]
        caller.events = tuple(sections["events"])
        values = valid_values(stored, caller)
        described = list(operations(document))
        assert len(described) >= 14
        for method, path, operation in described:
            for params in parameter_sets(operation, values):
                status, _ = caller.call(method, path, params)
                assert status == 200, f"{method.upper()} {path} {params}: {status}"
            for parameter in operation.get("parameters", []):
                for bad in BAD_VALUES.get(parameter["name"], []):
                    status, answer = caller.call(method, path, [(parameter["name"], bad)])
                    assert status == 400, f"{method.upper()} {path} {parameter['name']}={bad!r}"
                    assert parameter["name"] in answer["error"]
        never = [(m, p) for m, p, _ in described if 200 not in caller.answers[(m, p)]]
        assert not never, f"operations that never answered 200: {never}"
        refused = {(m, p) for (m, p, status) in contract.seen if status == 400}
        with_bad = {
            (m, p)
            for m, p, op in described
            if any(x["name"] in BAD_VALUES for x in op.get("parameters", []))
        }
        assert with_bad <= refused
        assert len(with_bad) >= 6

        # What the API returned is what was stored: the routes did not answer empty.
        stats = caller.call("get", "/api/stats")[1]["stats"]
        assert sorted(entry["url"] for entry in stats) == sorted(URLS)
        assert caller.call("get", "/api/deadletters")[1]["count"] == 3
        assert caller.call("get", "/api/alerts")[1]["alerts"]
        stations = caller.call("get", "/api/stations")[1]["stations"]
        assert {s["name"] for s in stations} == set(STATIONS)


def test_the_log_ingest_answers_its_declared_errors(sqlite_url: str, tmp_path: Path) -> None:
    with wm_serve(sqlite_url) as base:
        caller = Caller(base, Contract(document_of(base)))
        declared = set(caller.contract.operation("post", "/api/logs")["responses"])
        line = log_line(datetime.now(UTC), 1)
        good = {"source": SOURCE, "lines": [line]}
        schema = caller.contract.resolve(
            caller.contract.operation("post", "/api/logs")["requestBody"]
        )["content"]["application/json"]["schema"]
        assert not caller.contract.errors(schema, good), "the test's own body is valid"

        def post(kind: str, payload: bytes, **options: Any) -> tuple[int, Any]:
            return caller.call("post", "/api/logs", body=(kind, payload), **options)

        assert post("application/json", json.dumps(good).encode())[0] == 200
        cases: list[tuple[int, Callable[[], tuple[int, Any]]]] = [
            (400, lambda: post("application/json", b'{"source": "x", "lines": ["a"')),
            (400, lambda: post("application/json", json.dumps({"lines": [line]}).encode())),
            (400, lambda: post("application/json", b'["not", "an", "object"]')),
            (403, lambda: post("text/plain", b"x\n", headers={"Origin": "http://evil.example"})),
            (413, lambda: post("application/json", json.dumps({**good, "pad": "x" * MAX_BODY}).encode())),
            (413, lambda: post("application/json", json.dumps({**good, "lines": [line] * (MAX_LINES + 1)}).encode())),
            (415, lambda: post("application/xml", b"<lines/>")),
        ]  # fmt: skip
        for expected, send in cases:
            status, answer = send()
            assert status == expected, answer
            assert answer["error"].startswith("Error: ")
        assert {"400", "403", "413", "415"} <= declared


def test_a_token_is_asked_for_where_the_document_says(sqlite_url: str, tmp_path: Path) -> None:
    store_every_kind(sqlite_url, tmp_path, datetime.now(UTC))
    with wm_serve(sqlite_url, token=TOKEN) as base:
        document = document_of(base, TOKEN)
        assert document["security"] == [{"bearer": []}]
        caller = Caller(base, Contract(document), token=TOKEN)
        for method, path, operation in operations(document):
            assert caller.call(method, path)[0] == 200, f"{method.upper()} {path} with the token"
            needs = operation.get("security", document["security"]) != []
            for wrong in (False, "not-the-token"):
                status, answer = caller.call(method, path, token=wrong)
                if needs:
                    assert status == 401, f"{method.upper()} {path} without the token: {status}"
                    assert "bearer token" in answer["error"]
        status, _ = caller.call("get", "/api/events", [("access_token", TOKEN)], token=False)
        assert status == 200  # EventSource sends no header; the query parameter stands in


def test_a_store_outage_answers_503_where_declared(pg_url: str, tmp_path: Path) -> None:
    store_every_kind(pg_url, tmp_path, datetime.now(UTC))
    parts = urlsplit(pg_url)
    proxy = TCPProxy(parts.port or 5432)
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    try:
        with wm_serve(through_proxy) as base:
            document = document_of(base)
            caller = Caller(base, Contract(document))
            proxy.cut()
            declaring = []
            for method, path, operation in operations(document):
                status, _ = caller.call(method, path)  # checked against the document
                if "503" in operation["responses"]:
                    declaring.append((method, path))
                    assert status == 503, f"{method.upper()} {path} with the store away: {status}"
            assert len(declaring) >= 10
            proxy.restore()
    finally:
        proxy.close()


# --- the routes the document must describe -------------------------------------------------

#: Routes that are not the API: the page and its static files.
NOT_API = {("get", "/"), ("get", "/static/panels/{name}.js"), ("*", "/static/{path}")}


def test_every_route_of_the_app_is_described(sqlite_url: str) -> None:
    from website_monitor.web.app import create_app

    with open_store(sqlite_url) as repository:
        app = create_app(repository)
        with wm_serve(sqlite_url) as base:
            document = document_of(base)
    served = route_table(app)
    described = {(method, path) for method, path, _ in operations(document)}
    missing = sorted(served - described - NOT_API)
    assert not missing, f"routes the OpenAPI document lacks: {missing}"
    assert not described - served, "described operations the app does not serve"
    assert served >= NOT_API


def test_every_api_path_the_page_uses_is_described(sqlite_url: str) -> None:
    with wm_serve(sqlite_url) as base:
        document = document_of(base)
        page = requests.get(base + "/", timeout=10).text
        panels = requests.get(base + "/api/sections", timeout=10).json()["sections"]
        waiting = [
            urljoin(base + "/", src) for src in re.findall(r'<script[^>]+src="([^"]+)"', page)
        ]
        waiting += [f"{base}/static/panels/{s['panel']}.js" for s in panels if s["panel"]]
        read: set[str] = set()
        used: set[str] = set()
        while waiting:  # the page's scripts and the modules they import
            script = waiting.pop()
            if script in read or "/vendor/" in script:
                continue
            read.add(script)
            response = requests.get(script, timeout=10)
            assert response.status_code == 200, script
            used |= api_literals(response.text)
            imports = re.findall(r"""(?:from|import)\s*["'](\.{1,2}/[^"']+)["']""", response.text)
            waiting += [urljoin(script, name) for name in imports]
    assert len(read) > len(panels), read
    assert len(used) >= 8, used
    assert not used - set(document["paths"]), "paths the page uses that the document lacks"


# --- the contract itself refuses what the document does not allow -----------------------------


def fake_response(status: int, body: bytes, media: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body
    response.headers["Content-Type"] = media
    response.request = requests.Request("GET", "http://127.0.0.1/x").prepare()
    return response


def test_the_contract_refuses_what_the_document_does_not_allow(sqlite_url: str) -> None:
    with wm_serve(sqlite_url) as base:
        document = document_of(base)
    contract = Contract(document)
    good = {"alerts": []}
    assert contract.check("get", "/api/alerts", fake_response(200, json.dumps(good).encode()))
    wrong = [
        (200, {"alerts": [{"id": 1}]}, "application/json"),  # a field of another type
        (200, {"alerts": [], "extra": True}, "application/json"),  # a key not described
        (200, {}, "application/json"),  # a required key missing
        (500, {"error": "Error: boom"}, "application/json"),  # a status not declared
        (200, good, "text/html"),  # a media type not declared
        (400, {"message": "no"}, "application/json"),  # an error not in the Error shape
    ]
    for status, body, media in wrong:
        with pytest.raises(AssertionError):
            contract.check(
                "get", "/api/alerts", fake_response(status, json.dumps(body).encode(), media)
            )
    with pytest.raises(AssertionError):
        contract.operation("get", "/api/undescribed")
