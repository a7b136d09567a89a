"""docs/metrics.md documents exactly what `/metrics` exports: every metric with its type and
labels, and the duration buckets' bounds, read from a real scrape of a store that holds
every kind of data."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from tests import traffic
from tests.webserver import sample_probes, serving, write

DOCS = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"
ROW = re.compile(r"^\| `(wm_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|", re.MULTILINE)
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", re.MULTILINE)
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="')
#: Series of a histogram family, named after it.
SUFFIXES = ("_bucket", "_sum", "_count")


def documented() -> dict[str, tuple[str, set[str]]]:
    """name -> (type, labels) from the table of docs/metrics.md."""
    return {
        name: (kind, set(re.findall(r"`([a-z_]+)`", labels)))
        for name, kind, labels in ROW.findall(DOCS.read_text())
    }


def exported(body: str) -> dict[str, tuple[str, set[str] | None]]:
    """name -> (type, label names of its samples, None when it has no sample), from the
    `# TYPE` lines and samples of a scrape."""
    families: dict[str, tuple[str, set[str] | None]] = {}
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            families[name] = (kind, None)
    for name, labels in SAMPLE.findall(body):
        family = name
        if family not in families:
            family = next(name[: -len(s)] for s in SUFFIXES if name.endswith(s))
        kind, seen = families[family]
        names = set(LABEL.findall(labels)) - {"le"}
        families[family] = (kind, (seen or set()) | names)
    return families


def test_every_exported_metric_is_documented_and_every_documented_one_exported(
    sqlite_url: str, tmp_path: Path
) -> None:
    write(sqlite_url, sample_probes())
    log = tmp_path / "access.log"
    traffic.access_log(log)
    traffic.tail_publish(sqlite_url, log)
    traffic.telemetry(sqlite_url)
    with serving(sqlite_url) as served:
        body = served.get("/metrics").text

    found = exported(body)
    docs = documented()
    assert sorted(set(found) - set(docs)) == [], "exported by /metrics, missing in the docs"
    assert sorted(set(docs) - set(found)) == [], "in the docs, not exported by /metrics"
    for name, (kind, labels) in found.items():
        assert docs[name][0] == kind, name
        if labels is not None:  # a family without samples shows no labels
            assert docs[name][1] == labels, name
    # This store has a sample of each kind of data: most families are checked for labels.
    assert sum(1 for _, labels in found.values() if labels is not None) >= 20


def test_the_documented_bucket_bounds_are_those_exported(sqlite_url: str) -> None:
    write(sqlite_url, sample_probes())
    with serving(sqlite_url) as served:
        body = requests.get(served.base + "/metrics", timeout=10).text
    bounds: list[str] = []
    for line in body.splitlines():
        if line.startswith("wm_probe_duration_seconds_bucket{"):
            bound = re.search(r'le="([^"]+)"', line)
            assert bound is not None
            if bound.group(1) not in bounds:
                bounds.append(bound.group(1))
    assert f"le: {', '.join(bounds)}\n" in DOCS.read_text()
