"""`wm serve`'s incidents and SLOs: /api/incidents and /api/slo are what the commands print,
/metrics has the alerting families, the page shows both panels (headless Chromium)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from tests.alerting import URL, Receiver, Script, Timeline, alert_once, config, run, store
from tests.services import free_port, terminate_cleanly, wm_process
from tests.test_serve_api import EventReader
from tests.test_serve_browser import browser as browser
from tests.test_serve_browser import save_full_page, wait_for
from tests.webserver import Served, serving, wait_until_answering
from website_monitor.alerts import rules

OTHER = "https://other.example/"


def setup(store_url: str, tmp_path: Path, receiver: Receiver) -> Path:
    """An incident resolved and one open (its notification failed), and an SLO."""
    wm_toml = config(
        tmp_path / "wm.toml",
        f"""
[[notifier]]
name = "ops"
type = "webhook"
url = "{receiver.url}/hook"

[[alert]]
name = "site down"
urls = ["{URL}", "{OTHER}"]
notify = ["ops"]

[[slo]]
name = "checkout"
urls = ["{URL}"]
objective = 99.5
window = "7d"
""",
    )
    site, other = Timeline(), Timeline(url=OTHER)
    store(store_url, site([False] * 3 + [True] * 2) + other([True] * 4 + [False] * 3))
    run(
        "alert", "--once", "--max-attempts", "1", "-d", store_url, "--config", str(wm_toml),
        code=1,
    )  # fmt: skip
    return wm_toml


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    with Receiver(Script(fail=1)) as receiver:
        wm_toml = setup(store_url, tmp_path, receiver)
    rules.use_config_file(wm_toml)
    try:
        with serving(store_url) as server:
            yield server, wm_toml
    finally:
        rules.use_config_file(None)


def test_incidents_and_slo_are_what_the_cli_prints(served: tuple[Served, Path]) -> None:
    server, wm_toml = served
    url = server.store_url
    for params in (
        [],
        [("state", "open")],
        [("kind", "down"), ("kind", "traffic")],
        [("url", OTHER)],
        [("since", "1h")],
    ):
        flags = [arg for name, value in params for arg in (f"--{name}", value)]
        body = server.get("/api/incidents", params=params).json()
        assert body == json.loads(run("incidents", "-d", url, *flags)), params
    listed = server.get("/api/incidents", params={"kind": "down"}).json()["incidents"]
    assert [(i["url"], i["state"]) for i in listed] == [(URL, "resolved"), (OTHER, "open")]
    burning = server.get("/api/incidents", params={"kind": "slo_burn"}).json()["incidents"]
    assert {(i["alert"], i["severity"], i["state"]) for i in burning} == {
        ("checkout", "page", "open"),
        ("checkout", "notify", "open"),
    }
    failed = [n for i in listed for n in i["notified"] if n["state"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"].endswith("answered HTTP 503: busy")
    slos = server.get("/api/slo").json()
    assert slos == json.loads(run("slo", "-d", url, "--config", str(wm_toml)))
    assert slos["slos"][0]["total"] == 5
    bad = server.get("/api/incidents", params={"kind": "nope"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("Error: query parameter kind")
    document = server.get("/api/openapi.json").json()
    validate(document)
    assert "get" in document["paths"]["/api/incidents"]
    assert "get" in document["paths"]["/api/slo"]


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def test_metrics(served: tuple[Served, Path]) -> None:
    server, _ = served
    found = samples(server.get("/metrics").text)
    assert found["wm_incident_open"] == [
        ({"alert": "checkout", "url": "", "kind": "slo_burn"}, 2.0),  # page and notify
        ({"alert": "site down", "url": OTHER, "kind": "down"}, 1.0),
    ]
    assert found["wm_notifications_failed_total"] == [({"notifier": "ops"}, 1.0)]
    slo = json.loads(json.dumps(server.get("/api/slo").json()))["slos"][0]
    assert found["wm_slo_sli"] == [({"slo": "checkout"}, slo["sli"])]
    assert found["wm_slo_error_budget_remaining_ratio"] == [
        ({"slo": "checkout"}, slo["error_budget_remaining"])
    ]
    burns = {labels["window"]: value for labels, value in found["wm_slo_burn_rate"]}
    assert set(burns) == {"5m", "30m", "1h", "6h", "1d", "3d"}
    for window in ("1h", "6h", "1d", "3d"):
        assert burns[window] == slo["burn_rates"][window]


def test_a_live_event_when_an_incident_opens(store_url: str, tmp_path: Path) -> None:
    wm_toml = config(tmp_path / "wm.toml", f'[[alert]]\nname = "site down"\nurls = ["{URL}"]\n')
    with (
        serving(store_url, poll_interval=0.2) as server,
        server.get("/api/events", stream=True) as stream,
    ):
        events = EventReader(stream)
        events.until("hello", 5)
        store(store_url, Timeline()([False] * 3))
        alert_once(store_url, wm_toml)
        event = events.until("incidents", 10)["data"]
    assert [(i["url"], i["state"]) for i in event["open"]] == [(URL, "open")]  # type: ignore[index]


def test_wm_serve_shows_the_slos_of_its_config_file(sqlite_url: str, tmp_path: Path) -> None:
    with Receiver(Script(fail=1)) as receiver:
        wm_toml = setup(sqlite_url, tmp_path, receiver)
    port = free_port()
    with wm_process(
        "serve", "--bind", f"127.0.0.1:{port}", "-d", sqlite_url, "--config", str(wm_toml)
    ) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(base)
        slos = requests.get(base + "/api/slo", timeout=10).json()
        terminate_cleanly(process)
    assert [s["name"] for s in slos["slos"]] == ["checkout"]


def test_the_page_shows_incidents_and_slos(
    browser: Any, served: tuple[Served, Path], tmp_path: Path
) -> None:
    server, _ = served
    browser.get(server.base + "/")
    wait_for(
        lambda: browser.execute_script("return document.body.dataset.ready") == "true",
        15,
        "the page to load",
    )
    listed = server.get("/api/incidents", params={"since": "1h"}).json()["incidents"]
    rows = wait_for(
        lambda: browser.find_elements("css selector", "#incident-list tr[data-id]"),
        10,
        "the incidents",
    )
    # open first, then the resolved ones, newest first
    opened = [i["id"] for i in listed if i["state"] == "open"]
    resolved = [i["id"] for i in listed if i["state"] == "resolved"][::-1]
    assert [r.get_attribute("data-id") for r in rows] == opened + resolved
    assert [r.get_attribute("data-state") for r in rows] == ["open"] * 3 + ["resolved"]
    assert browser.find_element("id", "incidents-open").get_attribute("data-open") == "3"
    rows = [r for r in rows if r.get_attribute("data-kind") == "down"]
    first = {
        cell.get_attribute("data-field"): cell.text
        for cell in rows[0].find_elements("css selector", "td[data-field]")
    }
    assert first["url"] == OTHER and first["failures"] == "3"
    assert first["notified"] == "1 sent"
    last = {
        cell.get_attribute("data-field"): cell.text
        for cell in rows[-1].find_elements("css selector", "td[data-field]")
    }
    assert (last["url"], last["notified"]) == (URL, "1 failed, 1 sent")
    slo = server.get("/api/slo").json()["slos"][0]
    card = wait_for(
        lambda: browser.find_element("css selector", ".slo-card[data-name='checkout']"),
        10,
        "the SLO card",
    )
    assert float(card.get_attribute("data-sli")) == slo["sli"]
    assert float(card.get_attribute("data-budget")) == slo["error_budget_remaining"]
    shown = {
        cell.get_attribute("data-window"): cell.text
        for cell in card.find_elements("css selector", "td[data-window]")
    }
    assert set(shown) == {"1h", "6h", "1d", "3d"}
    time.sleep(0.2)
    save_full_page(browser, "alerting.png", max_height=3000)
