"""The dashboard on a large store: a million probes in PostgreSQL (a month of 10 URLs every
30 s, made by bench/views.py's generator in SQL), and the default view still shows the
API's numbers in headless Chromium, with nothing logged as an error."""

from __future__ import annotations

import time
from typing import Any

import pytest

from bench import views
from tests.test_serve_browser import (
    assert_plots_the_api_series,
    browser,  # noqa: F401 (the fixture)
    plotted,
    save_full_page,
    summary_row,
    wait_for,
)
from tests.webserver import serving
from website_monitor import housekeeping
from website_monitor.store import open_store

ROWS = 1_000_000


@pytest.mark.slow
def test_default_view_on_a_million_probes(browser: Any, pg_url: str) -> None:  # noqa: F811
    with open_store(pg_url) as repository:
        views.fill(repository, ROWS, hits=False)
        housekeeping.rebuild(repository)
        repository.execute("ANALYZE")
    with serving(pg_url) as served:
        started = time.monotonic()
        browser.get(served.base + "/")
        wait_for(
            lambda: browser.execute_script("return document.body.dataset.ready") == "true",
            30,
            "the page to load",
        )
        loaded = time.monotonic() - started
        urls = sorted(s["url"] for s in served.get("/api/probes/latest").json()["latest"])
        assert len(urls) == views.URLS
        charts = wait_for(lambda: plotted(browser), 10, "the charts")
        assert sorted(charts) == urls
        stats = {
            s["url"]: s for s in served.get("/api/stats", params={"since": "1h"}).json()["stats"]
        }
        for url in urls:
            assert_plots_the_api_series(charts[url], served, url)
            assert len(charts[url][0]) >= 55, "an hour of 1-minute buckets"
            row = summary_row(browser, url)
            assert row["probes"] == str(stats[url]["probes"])
            for name in ("p50_ms", "p95_ms", "p99_ms"):
                assert row[name] == f"{stats[url][name]:.1f} ms"
            assert row["availability"] == f"{stats[url]['availability'] * 100:.1f} %"
        store = browser.find_element("css selector", '#section-store [data-field="probes"]')
        assert store.text == str(ROWS) == str(served.get("/api/store").json()["probes"])
        save_full_page(browser, "serve-dashboard-1m.png", max_height=6000)
    # Not a timing test (bench/views.py measures it): a page that takes this long is broken.
    assert loaded < 20, f"the default view took {loaded:.1f} s on {ROWS:,} probes"
