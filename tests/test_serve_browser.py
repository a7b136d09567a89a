"""The dashboard in headless Chromium (Debian's chromium + chromium-driver, driven by selenium).

Nothing is installed here: `scripts/check` installs chromium and chromium-driver.
A screenshot is saved to $WM_ARTIFACTS (default tests/artifacts/) for a person to look at.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from tests import services, traffic
from tests.conftest import unavailable
from tests.webserver import URLS, Served, sample_probes, serving, write
from website_monitor.probes.codec import ProbeResult

ARTIFACTS = Path(os.environ.get("WM_ARTIFACTS") or Path(__file__).parent / "artifacts")


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    try:
        with services.chromium(tmp_path / "chromium-profile") as driver:
            yield driver
    except services.ServiceUnavailable as exc:
        unavailable(str(exc))


def save_full_page(driver: Any, name: str, *, max_height: int) -> Path:
    """Screenshot the whole page for a person to look at; the console must hold no error."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / name
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(900, min(int(height) + 40, max_height)))
    time.sleep(0.5)
    assert driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    errors = [
        entry
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon" not in entry["message"]
    ]
    assert errors == []
    return shot


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def plotted(driver: Any) -> dict[str, list[list[Any]]]:
    """What uPlot was given, per URL: [t, p50, p95, p99, availability %]."""
    return {
        card.get_attribute("data-url"): json.loads(card.get_attribute("data-plotted"))
        for card in driver.find_elements("css selector", ".chart-card")
    }


def expected_plot(served: Served, url: str) -> list[list[Any]]:
    """The API's series for the page's default range (1h, 1-minute buckets)."""
    series = served.get("/api/probes/series", params={"since": "1h", "bucket": "1m"}).json()
    points = next(s["points"] for s in series["series"] if s["url"] == url)
    return [
        [datetime.fromisoformat(p["t"]).timestamp() for p in points],
        [p["p50_ms"] for p in points],
        [p["p95_ms"] for p in points],
        [p["p99_ms"] for p in points],
        [round(p["availability"] * 100, 4) for p in points],
    ]


def assert_plots_the_api_series(chart: list[list[Any]], served: Served, url: str) -> None:
    """The chart is what the API answers for the same range. The page asked a moment
    earlier: if a minute began in between, the page's hour starts one bucket earlier, and
    that older bucket is the one difference allowed."""
    expected = expected_plot(served, url)
    if chart[0] and expected[0] and chart[0][0] < expected[0][0]:
        assert chart[0][1] == expected[0][0], "more than one bucket apart"
        chart = [column[1:] for column in chart]
    assert chart == expected


def summary_row(driver: Any, url: str) -> dict[str, str]:
    rows = driver.find_elements("css selector", f'#probe-summary tr[data-url="{url}"]')
    if not rows:
        return {}
    return {
        cell.get_attribute("data-field"): cell.text
        for cell in rows[0].find_elements("css selector", "td[data-field]")
    }


def painted_pixels(driver: Any, url: str) -> int:
    """Non-transparent pixels on the chart canvas: proves something was drawn."""
    return int(
        driver.execute_script(
            """
            const card = [...document.querySelectorAll('.chart-card')]
                .find((c) => c.dataset.url === arguments[0]);
            const canvas = card.querySelector('canvas');
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let n = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
            return n;
            """,
            url,
        )
    )


def test_dashboard_shows_the_numbers_and_updates_live(browser: Any, sqlite_url: str) -> None:
    write(sqlite_url, sample_probes())
    with serving(sqlite_url, poll_interval=0.3) as served:
        browser.get(served.base + "/")
        wait_for(
            lambda: browser.execute_script("return document.body.dataset.ready") == "true",
            15,
            "the page to load",
        )
        wait_for(lambda: len(plotted(browser)) == len(URLS), 10, "one chart per URL")
        wait_for(
            lambda: browser.find_element("id", "live-status").get_attribute("data-state") == "live",
            10,
            "the live stream",
        )
        browser.execute_script("window.__sameDocument = 'yes'")

        charts = plotted(browser)
        for card in browser.find_elements("css selector", ".chart-card"):
            assert card.get_attribute("data-bucket-seconds") == "60"
        for url in URLS:
            assert_plots_the_api_series(charts[url], served, url)
            assert painted_pixels(browser, url) > 1000
        stats = {
            s["url"]: s for s in served.get("/api/stats", params={"since": "1h"}).json()["stats"]
        }
        for url in URLS:
            row = summary_row(browser, url)
            assert row["probes"] == str(stats[url]["probes"])
            for name in ("p50_ms", "p95_ms", "p99_ms"):
                assert row[name] == f"{stats[url][name]:.1f} ms"
            assert row["availability"] == f"{stats[url]['availability'] * 100:.1f} %"
        store = browser.find_element("css selector", '#section-store [data-field="probes"]')
        assert store.text == str(len(sample_probes()))

        fresh = ProbeResult("https://gamma.example/live", datetime.now(timezone.utc), 200, 77.7)
        write(sqlite_url, [fresh])
        live = wait_for(
            lambda: browser.find_elements(
                "css selector", f'#live-results tr[data-url="{fresh.url}"]'
            ),
            5,
            "the new result in the live list",
        )
        assert "77.7 ms" in live[0].text
        assert "200" in live[0].text
        wait_for(lambda: summary_row(browser, fresh.url), 5, "the new URL in the summary")
        assert summary_row(browser, fresh.url)["p50_ms"] == "77.7 ms"
        wait_for(lambda: fresh.url in plotted(browser), 5, "a chart for the new URL")
        assert_plots_the_api_series(plotted(browser)[fresh.url], served, fresh.url)
        assert browser.execute_script("return window.__sameDocument") == "yes", "page reloaded"

        save_full_page(browser, "serve-dashboard.png", max_height=4000)
        assert requests.get(served.base + "/static/vendor/uplot/LICENSE", timeout=5).ok


def test_dashboard_asks_for_the_token(browser: Any, sqlite_url: str) -> None:
    write(sqlite_url, sample_probes())
    with serving(sqlite_url, token="page-token", poll_interval=0.3) as served:
        browser.get(served.base + "/")
        form = browser.find_element("id", "token-form")
        wait_for(form.is_displayed, 10, "the token form")
        assert "needs a token" in browser.find_element("id", "error").text
        browser.find_element("id", "token").send_keys("page-token")
        form.submit()
        wait_for(lambda: len(plotted(browser)) == len(URLS), 10, "the charts after the token")
        wait_for(
            lambda: browser.find_element("id", "live-status").get_attribute("data-state") == "live",
            10,
            "the live stream with the token",
        )
        fresh = ProbeResult("https://epsilon.example/", datetime.now(timezone.utc), 200, 5.5)
        write(sqlite_url, [fresh])
        wait_for(
            lambda: browser.find_elements(
                "css selector", f'#live-results tr[data-url="{fresh.url}"]'
            ),
            5,
            "the new result through the token-protected stream",
        )


def _cards(driver: Any, selector: str, key: str) -> dict[str, dict[str, Any]]:
    return {
        card.get_attribute(key): {
            "plotted": json.loads(card.get_attribute("data-plotted") or "null"),
            "threshold": card.get_attribute("data-threshold"),
            "alerts": json.loads(card.get_attribute("data-alerts") or "null"),
        }
        for card in driver.find_elements("css selector", selector)
    }


def expected_hits_plot(served: Served) -> dict[str, list[list[Any]]]:
    body = served.get("/api/hits/series", params={"since": "1h", "bucket": "1m"}).json()
    return {
        s["source"]: [
            [datetime.fromisoformat(p["t"]).timestamp() for p in s["points"]],
            [p["hits_per_second"] for p in s["points"]],
            [s["threshold"] for _ in s["points"]],
        ]
        for s in body["series"]
    }


def expected_station_plot(served: Served) -> dict[str, list[list[Any]]]:
    buckets = served.get("/api/stations", params={"since": "1h"}).json()["stations"]
    plots: dict[str, list[list[Any]]] = {}
    for b in buckets:
        columns = plots.setdefault(b["name"], [[], [], [], [], [], []])
        std = b["variance"] ** 0.5
        for column, value in zip(
            columns,
            (
                datetime.fromisoformat(b["bucket_start"]).timestamp(),
                b["mean"],
                b["mean"] - std,
                b["mean"] + std,
                b["arrivals"],
                b["departures"],
            ),
        ):
            column.append(value)
    return plots


def test_dashboard_shows_traffic_alerts_and_stations(
    browser: Any, sqlite_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    traffic.access_log(log)
    traffic.tail_follow(sqlite_url, log)
    traffic.telemetry(sqlite_url)
    write(sqlite_url, sample_probes())
    with serving(sqlite_url, poll_interval=0.3) as served:
        browser.get(served.base + "/")
        wait_for(
            lambda: browser.execute_script("return document.body.dataset.ready") == "true",
            15,
            "the page to load",
        )
        hits = wait_for(lambda: _cards(browser, ".hit-card", "data-source"), 10, "the hits chart")
        expected = expected_hits_plot(served)
        assert set(hits) == {traffic.SOURCE}
        assert hits[traffic.SOURCE]["plotted"] == expected[traffic.SOURCE]
        assert hits[traffic.SOURCE]["threshold"] == str(traffic.THRESHOLD).rstrip("0").rstrip(".")
        alerts = served.get("/api/alerts").json()["alerts"]
        assert hits[traffic.SOURCE]["alerts"] == [
            [
                datetime.fromisoformat(a["started_at"].replace("Z", "+00:00")).timestamp(),
                None
                if a["ended_at"] is None
                else datetime.fromisoformat(a["ended_at"].replace("Z", "+00:00")).timestamp(),
            ]
            for a in alerts
        ]

        sections = {
            row.get_attribute("data-section"): {
                cell.get_attribute("data-field"): cell.text
                for cell in row.find_elements("css selector", "td[data-field]")
            }
            for row in browser.find_elements("css selector", "#hit-sections tr[data-section]")
        }
        for entry in served.get("/api/hits", params={"since": "1h"}).json()["hits"]:
            shown = sections[entry["section"]]
            assert shown["hits"] == str(entry["hits"])
            assert shown["errors"] == str(entry["errors"])
            assert shown["error_rate"] == f"{entry['error_rate'] * 100:.1f} %"

        rows = browser.find_elements("css selector", "#alert-list tr[data-id]")
        assert [r.get_attribute("data-state") for r in rows] == ["open", "ended"]
        assert rows[0].get_attribute("data-id") == alerts[1]["id"]
        assert browser.find_element("id", "alerts-open").get_attribute("data-open") == "1"

        stations = wait_for(
            lambda: _cards(browser, ".station-card", "data-name"), 10, "the station charts"
        )
        want = expected_station_plot(served)
        assert set(stations) == set(traffic.STATIONS)
        for name, columns in want.items():
            got = stations[name]["plotted"]
            assert got[0] == columns[0]
            assert got[4:] == columns[4:]
            for mine, theirs in zip(got[1:4], columns[1:4]):
                assert mine == pytest.approx(theirs, abs=1e-5)

        # New lines posted to the ingest show up on the chart without a reload.
        browser.execute_script("window.__sameDocument = 'yes'")
        now = datetime.now(timezone.utc)
        lines = [traffic.clf(now, "/fresh", 200, 9)] * 30
        answer = requests.post(
            served.base + "/api/logs", json={"source": "edge2", "lines": lines}, timeout=10
        )
        assert answer.json()["stored"] == 30
        fresh = wait_for(
            lambda: _cards(browser, ".hit-card", "data-source").get("edge2"),
            10,
            "a chart for the new source",
        )
        assert fresh["plotted"] == expected_hits_plot(served)["edge2"]
        assert browser.execute_script("return window.__sameDocument") == "yes", "page reloaded"

        save_full_page(browser, "serve-views.png", max_height=5000)


def test_public_status_page_with_badges(browser: Any, sqlite_url: str) -> None:
    """The status page opens without the token the server has, shows the chosen checks with
    the uptime `wm stats` computes, and its badges draw as images."""
    from click.testing import CliRunner

    from website_monitor.cli import main
    from website_monitor.probes.uptime import percent

    write(sqlite_url, sample_probes())
    with serving(sqlite_url, token="private", status_urls=URLS) as served:
        browser.get(served.base + "/status")
        rows = wait_for(
            lambda: browser.find_elements("css selector", "#checks tbody tr"), 10, "the checks"
        )
        assert [row.get_attribute("data-url") for row in rows] == list(URLS)
        for row, url in zip(rows, URLS):
            result = CliRunner().invoke(main, ["stats", "-d", sqlite_url, "--url", url])
            entry = json.loads(result.stdout)["stats"][0]
            shown = row.find_element("css selector", 'td[data-window="24h"]').text
            assert shown == percent(entry["availability"]), url
            state = row.find_element("css selector", ".state").get_attribute("data-state")
            assert state in ("up", "down"), state
        # the sample data ends with alpha failing
        assert rows[0].find_element("css selector", ".state").text == "down"
        assert "down" in browser.find_element("id", "overall").text
        browser.execute_script(
            "for (const [i, u] of arguments[0].entries()) {"
            " const img = document.createElement('img'); img.id = 'badge' + i;"
            " img.src = '/badge/uptime.svg?window=24h&url=' + encodeURIComponent(u);"
            " document.body.appendChild(img); }",
            list(URLS),
        )
        for i in range(len(URLS)):
            wait_for(
                lambda i=i: browser.execute_script(
                    "const b = document.getElementById(arguments[0]);"
                    " return b.complete && b.naturalWidth > 0 ? b.naturalWidth : 0;",
                    f"badge{i}",
                ),
                10,
                "the uptime badge to draw",
            )
        save_full_page(browser, "status-page.png", max_height=1200)
