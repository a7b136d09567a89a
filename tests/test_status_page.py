"""The public status page and badges of `wm serve --status-page`, against a real store."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from tests.webserver import Served, serving, write
from website_monitor.cli import main
from website_monitor.probes.codec import ProbeResult

SHOWN = "https://shown.example/health"
LEGACY = "https://legacy.example/"
SECRET = "https://internal.example/admin"  # stored, never chosen
EMPTY = "https://empty.example/"  # chosen, never checked
TOKEN = "s3cret-token"


def history(now: datetime) -> list[ProbeResult]:
    """41 days of SHOWN from two locations (one failing at the end), LEGACY without
    locations, and SECRET; no check within minutes of a window's edge."""
    probes = []
    for i in range(200):
        timestamp = now - timedelta(hours=5 * i, minutes=7)
        failed = i % 7 == 3 or i == 1
        probes.append(
            ProbeResult(
                SHOWN,
                timestamp,
                None if failed else 200,
                None if failed else 40.0 + (i * 13) % 300,
                error="timeout" if failed else None,
                location="eu-west" if i % 2 == 0 else "us-east",
            )
        )
        probes.append(ProbeResult(LEGACY, timestamp, 200, 80.0 + i % 50))
        probes.append(ProbeResult(SECRET, timestamp, 500, 10.0))
    return probes


@pytest.fixture
def public(store_url: str) -> Iterator[Served]:
    write(store_url, history(datetime.now(timezone.utc)))
    with serving(store_url, token=TOKEN, status_urls=(SHOWN, LEGACY, EMPTY)) as served:
        yield served


def anonymous(served: Served, path: str, **params: str) -> requests.Response:
    return requests.get(served.base + path, params=params, timeout=10)


def stats(store_url: str, url: str, since: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["stats", "-d", store_url, "--url", url, "--since", since])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)["stats"]
    assert len(entries) == 1
    return dict(entries[0])


def test_public_routes_need_no_token_and_the_rest_still_does(public: Served) -> None:
    for path, params in (
        ("/status", {}),
        ("/status.json", {}),
        ("/badge/status.svg", {"url": SHOWN}),
        ("/badge/uptime.svg", {"url": SHOWN, "window": "30d"}),
        ("/badge/p95.svg", {"url": SHOWN, "window": "7d"}),
        ("/badge/uptime.json", {"url": SHOWN, "window": "30d"}),
    ):
        response = anonymous(public, path, **params)
        assert response.status_code == 200, (path, response.text)
    for path in ("/api/stats", "/api/probes/latest", "/metrics", "/api/openapi.json"):
        assert anonymous(public, path).status_code == 401, path


def test_only_chosen_urls_are_answered(public: Served) -> None:
    missing_route = anonymous(public, "/badge/nothing-here")
    never_stored = anonymous(public, "/badge/status.svg", url="https://never.example/")
    assert missing_route.status_code == never_stored.status_code == 404
    for kind in ("status.svg", "uptime.svg", "p95.svg", "uptime.json"):
        hidden = anonymous(public, f"/badge/{kind}", url=SECRET)
        # the same answer as for a URL never stored: nothing tells the two apart
        assert (hidden.status_code, hidden.content) == (404, never_stored.content), kind
        assert "internal" not in hidden.text
    assert anonymous(public, "/badge/status.svg").status_code == 404  # no url at all
    page = anonymous(public, "/status").text + anonymous(public, "/status.json").text
    assert "internal.example" not in page
    assert "us-east" not in page and "eu-west" not in page  # locations' names stay private


def test_no_status_page_unless_urls_are_chosen(store_url: str) -> None:
    write(store_url, history(datetime.now(timezone.utc))[:30])
    with serving(store_url) as served:
        assert anonymous(served, "/status").status_code == 404
        assert anonymous(served, "/badge/status.svg", url=SHOWN).status_code == 404


def test_state_and_uptime_match_wm_stats(public: Served) -> None:
    document = anonymous(public, "/status.json").json()
    checks = {check["url"]: check for check in document["checks"]}
    assert list(checks) == [SHOWN, LEGACY, EMPTY]
    shown = checks[SHOWN]
    # the newest check of us-east failed, that of eu-west did not
    assert (shown["state"], shown["locations"], shown["failing_locations"]) == ("degraded", 2, 1)
    assert (checks[LEGACY]["state"], checks[LEGACY]["locations"]) == ("up", 1)
    assert (checks[EMPTY]["state"], checks[EMPTY]["checked_at"]) == ("unknown", None)
    assert document["state"] == "degraded"
    assert document["incidents"] == []  # no incident recorded
    for url in (SHOWN, LEGACY):
        windows = {w["window"]: w for w in checks[url]["uptime"]}
        assert list(windows) == ["24h", "7d", "30d", "90d"]
        for window, entry in windows.items():
            expected = stats(public.store_url, url, window)
            assert entry["uptime"] == expected["availability"], (url, window)
            assert entry["checks"] == expected["probes"], (url, window)
    assert [w["uptime"] for w in checks[EMPTY]["uptime"]] == [None] * 4
    assert 0 < checks[SHOWN]["uptime"][2]["uptime"] < 1  # some failures in 30 days


def _message(svg_text: str) -> tuple[str, str]:
    root = ET.fromstring(svg_text)
    title = root.find("{http://www.w3.org/2000/svg}title")
    assert title is not None and title.text is not None
    label, _, message = title.text.partition(": ")
    return label, message


@pytest.mark.parametrize("window", ["24h", "7d", "30d", "90d", "36h"])
def test_badge_numbers_are_those_of_wm_stats(public: Served, window: str) -> None:
    expected = stats(public.store_url, SHOWN, window)
    availability = float(expected["availability"])  # type: ignore[arg-type]
    p95 = float(expected["p95_ms"])  # type: ignore[arg-type]

    label, message = _message(anonymous(public, "/badge/uptime.svg", url=SHOWN, window=window).text)
    assert label == f"uptime {window}"
    shown = float(message.rstrip("%"))
    # two decimals, truncated: never more than the real figure, never 0.01 below it
    assert shown <= availability * 100 + 1e-9 and availability * 100 - shown < 0.01

    endpoint = anonymous(public, "/badge/uptime.json", url=SHOWN, window=window)
    assert endpoint.headers["content-type"].startswith("application/json")
    body = endpoint.json()
    assert set(body) == {"schemaVersion", "label", "message", "color"}
    assert (body["schemaVersion"], body["label"], body["message"]) == (1, label, message)
    assert body["color"] in {"brightgreen", "green", "yellow", "orange", "red", "lightgrey"}

    label, message = _message(anonymous(public, "/badge/p95.svg", url=SHOWN, window=window).text)
    assert label == f"p95 {window}"
    number, unit = message.split()
    assert unit == "ms" and int(number) == math.floor(p95 + 0.5)


def test_status_badge(public: Served) -> None:
    response = anonymous(public, "/badge/status.svg", url=SHOWN)
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert _message(response.text) == ("status", "degraded")
    assert _message(anonymous(public, "/badge/status.svg", url=LEGACY).text) == ("status", "up")
    assert _message(anonymous(public, "/badge/status.svg", url=EMPTY).text) == (
        "status",
        "unknown",
    )
    assert anonymous(public, "/badge/status.json", url=SHOWN).json()["color"] == "yellow"


@pytest.mark.parametrize("window", ["0", "5m", "400d", "soon", "-1d", "3601s", "8d", "x" * 100_000])
def test_bad_windows_are_refused(public: Served, window: str) -> None:
    """Only the documented windows: each is a cached answer, and the badges are public."""
    response = anonymous(public, "/badge/uptime.svg", url=SHOWN, window=window)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error.startswith("Error: window")
    assert len(error) < 300  # what was sent is not echoed whole


def test_a_window_may_be_written_otherwise(public: Served) -> None:
    day = anonymous(public, "/badge/uptime.json", url=SHOWN, window="1d").json()
    assert day == anonymous(public, "/badge/uptime.json", url=SHOWN, window="24h").json()


def test_the_page(public: Served) -> None:
    page = anonymous(public, "/status")
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text
    assert re.search(r'<p class="banner degraded" id="overall">', page.text)
    assert "failing in 1 of 2 locations" in page.text
    assert SHOWN in page.text and LEGACY in page.text


def test_open_incidents_of_the_chosen_urls_from_wm_alert(store_url: str, tmp_path: Path) -> None:
    """`wm alert` opens incidents for a chosen URL and one not chosen: the page shows the
    first, by its rule's name, and nothing of its errors; once resolved, none."""
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    failing = [
        ProbeResult(url, start + timedelta(seconds=i), None, None, error="timeout")
        for url in (SHOWN, SECRET)
        for i in range(3)
    ]
    write(store_url, failing)
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text(
        f"""
[[notifier]]
name = "nobody"
type = "command"
command = ["true"]

[[alert]]
name = "Health check failing"
urls = ["{SHOWN}", "{SECRET}"]
failure_threshold = 3
notify = ["nobody"]
"""
    )
    alert = ["alert", "--once", "-d", store_url, "--config", str(wm_toml)]
    assert CliRunner().invoke(main, alert).exit_code == 0
    with serving(store_url, status_urls=(SHOWN,)) as served:
        document = anonymous(served, "/status.json").json()
        page = anonymous(served, "/status").text
    write(
        store_url,
        [ProbeResult(SHOWN, start + timedelta(seconds=10 + i), 200, 5.0) for i in range(2)],
    )
    assert CliRunner().invoke(main, alert).exit_code == 0  # SECRET's stays open
    with serving(store_url, status_urls=(SHOWN,)) as served:  # (answers are cached for 30 s)
        after = anonymous(served, "/status.json").json()
    assert document["incidents"] == [
        {"url": SHOWN, "title": "Health check failing", "started_at": start.isoformat()}
    ]
    assert "Health check failing" in page and "timeout" not in page and SECRET not in page
    assert after["incidents"] == []


def test_passwords_in_urls_are_masked(store_url: str) -> None:
    url = "https://monitor:hunter2@private.example/health"
    write(store_url, [ProbeResult(url, datetime.now(timezone.utc), 200, 12.0)])
    with serving(store_url, status_urls=(url,)) as served:
        text = anonymous(served, "/status").text + anonymous(served, "/status.json").text
        assert "hunter2" not in text and "monitor:***@private.example" in text
        assert anonymous(served, "/badge/status.svg", url=url).status_code == 200


def test_public_routes_answer_as_the_openapi_document_says(public: Served) -> None:
    from openapi_spec_validator import validate

    from tests.openapi_contract import Contract, operations

    document = public.get("/api/openapi.json").json()
    validate(document)
    contract = Contract(document)
    public_paths = [
        (method, path, op) for method, path, op in operations(document) if op.get("security") == []
    ]
    assert {path for _, path, _ in public_paths} == {
        "/status",
        "/status.json",
        *(
            f"/badge/{kind}.{form}"
            for kind in ("status", "uptime", "p95")
            for form in ("svg", "json")
        ),
    }
    for method, path, operation in public_paths:
        names = {p["name"] for p in operation["parameters"]}
        cases: list[tuple[dict[str, str], int]] = [({}, 200 if not names else 404)]
        if names:
            cases += [({"url": SHOWN}, 200), ({"url": SECRET}, 404)]
        if "window" in names:
            cases += [({"url": SHOWN, "window": "36h"}, 200), ({"url": SHOWN, "window": "x"}, 400)]
        for params, expected in cases:
            response = anonymous(public, path, **params)
            assert response.status_code == expected, (path, params, response.text)
            contract.check(method, path, response)


def test_public_routes_are_not_described_when_not_served(store_url: str) -> None:
    with serving(store_url) as served:
        paths = served.get("/api/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/status", "/badge/"))]


def test_a_failing_store_is_not_described_to_the_public(
    pg_url: str, pg_admin_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The store's error names its host, database and user: the API says it (behind the
    token), the public routes only that the status is unavailable; the log has the rest."""
    import psycopg2

    write(pg_url, history(datetime.now(timezone.utc))[:30])
    database = pg_url.rsplit("/", 1)[1]
    with serving(pg_url, token=TOKEN, status_urls=(SHOWN,)) as served:
        admin = psycopg2.connect(pg_admin_url)
        admin.autocommit = True
        try:
            with admin.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (database,),
                )
            answers = [
                anonymous(served, "/status"),
                anonymous(served, "/status.json"),
                anonymous(served, "/badge/status.svg", url=SHOWN),
                anonymous(served, "/badge/uptime.json", url=SHOWN),
            ]
            api = served.get("/api/stats")
        finally:
            with admin.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
            admin.close()
    assert api.status_code == 503 and database in api.text  # the operator's view
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json() == {
            "error": "Error: the status is unavailable right now (hint: try again in a minute)"
        }
        assert "cache-control" not in answer.headers
    assert database in caplog.text


def test_secrets_in_a_urls_query_are_masked(store_url: str) -> None:
    url = "https://private.example/health?token=hunter2&region=eu"
    write(store_url, [ProbeResult(url, datetime.now(timezone.utc), 200, 12.0)])
    with serving(store_url, status_urls=(url,)) as served:
        text = anonymous(served, "/status").text + anonymous(served, "/status.json").text
        assert "hunter2" not in text and "health?token=***&amp;region=eu" in text
        assert anonymous(served, "/badge/status.svg", url=url).status_code == 200
