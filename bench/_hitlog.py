"""A realistic nginx Combined access log for bench/hits.py, and the same rows for baselines.

The log ends a minute ago and runs at about 200 requests a second (with jitter):
thousands of clients, pages, API calls with ids, static files, searches, a few
bots; statuses and sizes drawn per kind of request (304s and HEADs send nothing).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

from website_monitor.logs.codec import Hit
from website_monitor.logs.formats import LineParser
from website_monitor.logs.monitor import hit_from_record
from website_monitor.logs.store import hit_row
from website_monitor.store.copytext import copy_text

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "Prometheus/2.42.0",
)
AGENT_WEIGHTS = (30, 15, 10, 15, 12, 5, 3, 3, 3, 4)
STATIC = ("app.js", "vendor.js", "style.css", "logo.svg", "hero.jpg", "font.woff2")
WORDS = ("monitor", "latency", "nginx", "kafka", "status", "uptime", "alert", "probe")
REFERERS = (
    "-",
    "https://shop.example.org/",
    "https://www.google.com/",
    "https://shop.example.org/cart",
)


def _request(rng: random.Random) -> tuple[str, str, str]:
    """(method, path, kind) of one request."""
    r = rng.random()
    if r < 0.30:
        return "GET", f"/static/{rng.choice(STATIC)}?v={rng.randrange(20)}", "static"
    if r < 0.50:
        item = int(rng.paretovariate(1.2)) % 50_000
        return "GET", f"/product/{item}", "page"
    if r < 0.62:
        method = "POST" if rng.random() < 0.3 else "GET"
        resource = rng.choice(("cart", "user", "orders"))
        return method, f"/api/v1/{resource}/{rng.randrange(10**6)}", "api"
    if r < 0.70:
        query = f"q={rng.choice(WORDS)}+{rng.choice(WORDS)}&page={rng.randrange(5)}"
        return "GET", f"/search?{query}", "page"
    if r < 0.78:
        return "GET", "/", "page"
    if r < 0.86:
        year = 2020 + rng.randrange(7)
        return "GET", f"/blog/{year}/{rng.choice(WORDS)}-{rng.randrange(300)}", "page"
    if r < 0.90:
        return "HEAD", "/health", "api"
    if r < 0.94:
        return "GET", f"/images/{rng.randrange(10**5)}.png", "static"
    if r < 0.97:
        return "GET", rng.choice(("/favicon.ico", "/robots.txt", "/sitemap.xml")), "static"
    return rng.choice(("GET", "POST")), f"/login?next=/account/{rng.randrange(999)}", "page"


def _status(rng: random.Random, kind: str) -> int:
    r = rng.random()
    if kind == "static" and r < 0.25:
        return 304
    if r < 0.85:
        return 200
    if r < 0.90:
        return 404
    if r < 0.93:
        return rng.choice((301, 302))
    if r < 0.96:
        return rng.choice((401, 403))
    if r < 0.975:
        return 499
    return rng.choice((500, 502, 503, 504))


def _size(rng: random.Random, method: str, kind: str, status: int) -> int:
    if method == "HEAD" or status in (204, 304):
        return 0
    if status >= 300:
        return int(rng.lognormvariate(5.5, 0.4))
    median = {"static": 10.5, "page": 9.5, "api": 7.0}[kind]
    return int(rng.lognormvariate(median, 1.0))


def generate(path: Path, lines: int, seed: int = 15, rate: float = 200.0) -> None:
    """`lines` Combined-format lines, increasing timestamps ending a minute ago."""
    rng = random.Random(seed)
    end = time.time() - 60
    moment = end - lines / rate
    clients = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(5000)
    ]
    users = ("-",) * 20 + ("alice", "bob", "carol")
    stamp_second = -1
    stamp = ""
    out: list[str] = []
    with path.open("w") as fh:
        for i in range(lines):
            moment += rng.expovariate(rate)
            second = int(moment)
            if second != stamp_second:
                t = time.gmtime(second)
                stamp = (
                    f"{t.tm_mday:02d}/{MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
                    f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
                )
                stamp_second = second
            method, target, kind = _request(rng)
            status = _status(rng, kind)
            client = clients[min(int(rng.paretovariate(0.8)) - 1, 4999)]
            out.append(
                f'{client} - {rng.choice(users)} [{stamp}] "{method} {target} HTTP/1.1" '
                f'{status} {_size(rng, method, kind, status)} "{rng.choice(REFERERS)}" '
                f'"{rng.choices(AGENTS, AGENT_WEIGHTS)[0]}"\n'
            )
            if len(out) >= 10_000 or i == lines - 1:
                fh.write("".join(out))
                out = []


def hits(path: Path, source: str, chunk: int = 50_000) -> Iterator[list[Hit]]:
    """The file's hits as `wm tail` builds them, a chunk at a time (memory stays flat)."""
    parser = LineParser("combined")
    batch: list[Hit] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            record = parser.parse(line.rstrip("\n"))
            if record is None:
                continue
            batch.append(hit_from_record(record, source))
            if len(batch) >= chunk:
                yield batch
                batch = []
    if batch:
        yield batch


def write_copy_text(path: Path, source: str, out: Path) -> int:
    """The file's hits in COPY text format (HIT_COLUMNS order) in `out`; how many."""
    count = 0
    with out.open("w") as fh:
        for batch in hits(path, source):
            fh.write(copy_text([hit_row(hit) for hit in batch]))
            count += len(batch)
    return count
