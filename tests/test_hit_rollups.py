"""Access-log hits' rollups: `wm stats --hits` from them matches the raw rows."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from website_monitor.cli import main
from website_monitor.logs import rollups
from website_monitor.logs.codec import Hit
from website_monitor.logs.queries import hit_stats
from website_monitor.store import open_store
from website_monitor.transport.direct import StoreWriter
from website_monitor.transport.writer import store_events

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SECTIONS = ("/", "/api", "/static", "/" + "s" * 3000)


def hits(count: int, start: datetime, seed: int = 1, step_s: float = 41.0) -> list[Hit]:
    rng = random.Random(seed)
    made = []
    for i in range(count):
        section = SECTIONS[i % len(SECTIONS)]
        made.append(
            Hit(
                timestamp=start + timedelta(seconds=i * step_s),
                source=f"web-{i % 3}",
                remote_host="10.0.0.1",
                user=None,
                method="GET",
                path=section + "/x",
                section=section,
                status=rng.choice((200, 200, 200, 404, 503)),
                size=0 if i % 50 == 0 else int(rng.lognormvariate(8, 1.2)),
            )
        )
    return made


def assert_close(exact: list[dict[str, object]], approx: list[dict[str, object]]) -> None:
    assert len(exact) == len(approx)
    for e, a in zip(exact, approx, strict=True):
        for name in ("section", "hits", "errors", "error_rate", "bytes"):
            assert e[name] == a[name], name
        for name in ("bytes_p50", "bytes_p95", "bytes_p99"):
            e_value, a_value = float(e[name]), float(a[name])  # type: ignore[arg-type]
            assert abs(a_value - e_value) <= 0.01 * e_value + 1e-9, (name, e_value, a_value)


def stats(store_url: str, *options: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(main, ["stats", "--hits", "-d", store_url, *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["hits"]  # type: ignore[no-any-return]


def test_hit_stats_from_the_rollups_match_the_raw_rows(store_url: str) -> None:
    start = NOW - timedelta(days=20, hours=3)
    with open_store(store_url) as repository:
        store_events(repository, hits(4000, start))
        assert rollups.catch_up(repository) == 4000
        store_events(repository, hits(300, NOW - timedelta(hours=2), seed=2, step_s=7))
        assert rollups.pending(repository) == 300
    exact = stats(store_url, "--exact")
    assert_close(exact, stats(store_url, "--rollups"))
    assert sum(int(e["hits"]) for e in exact) == 4300  # type: ignore[call-overload]
    since = (NOW - timedelta(days=9, minutes=13)).isoformat()
    assert_close(
        stats(store_url, "--exact", "--since", since),
        stats(store_url, "--rollups", "--since", since),
    )
    with open_store(store_url) as repository:
        rollups.rebuild(repository)
        assert rollups.pending(repository) == 0
        assert [r["hits"] for r in rollups.totals(repository)] == [1434, 1433, 1433]
        assert len(hit_stats(repository, source="rollups")) == len(SECTIONS)


def test_the_direct_writer_keeps_hit_rollups_current(sqlite_url: str) -> None:
    with open_store(sqlite_url) as repository:
        writer = StoreWriter(repository)
        writer.publish(hits(120, NOW - timedelta(days=1)))
        assert rollups.pending(repository) == 0
        totals = {r["source"]: int(r["hits"]) for r in rollups.totals(repository)}
    assert totals == {"web-0": 40, "web-1": 40, "web-2": 40}
