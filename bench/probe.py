"""Probe: `wm probe`'s Prober against 1,000 local URLs, against two baselines.

The Prober runs its checks as tasks on one asyncio event loop (aiohttp, one
connection pool for its life) and records per-check timings and phases. The
server is aiohttp.web in its own process on 127.0.0.1 (routes /d<ms>/<n>:
answer "ok" after <ms> milliseconds), so it does not share the client's
interpreter lock.

(a) the server answers after 20 ms: checks/s of `Prober.run` over the 1,000
    URLs at several concurrencies, against the original tool's way (one
    `requests.get` per URL, sequential, a new connection each time; timed on a
    sample of the URLs to keep the run short); and the median response_time_ms
    the Prober recorded, which should stay close to the server's 20 ms. Two
    references from the same run tell bookkeeping from real latency: a bare
    aiohttp client one request at a time (the note), and a bare aiohttp loop
    timing its own requests at the same concurrency (the machine and the
    server under that load).
(b) no delay: checks/s of `Prober.run` against a bare asyncio loop (aiohttp,
    50 requests in flight, one connection pool, no timing or bookkeeping) over
    the same URLs, run just before and just after each row: the cost of the
    Prober's own work per check.

Usage: python -m bench.probe [--urls N] [--concurrency C ...]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench._common import Result, Timer, log, services, table
from website_monitor.probes.check import CheckOptions, Prober

RECOMMENDED_CONCURRENCY = 50


def _serve(port: int) -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.Response:
        delay = int(request.match_info["delay"])
        if delay:
            await asyncio.sleep(delay / 1000)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/d{delay:\\d+}/{n}", handle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, handle_signals=True)


@contextmanager
def server() -> Iterator[str]:
    port = services.free_port()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,))
    process.start()
    try:
        services.wait_for_port("127.0.0.1", port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.join(10)


def sequential_requests(urls: list[str]) -> float:
    """The original tool's way: requests.get per URL, one after the other, new connections."""
    import requests

    with Timer() as timer:
        for url in urls:
            response = requests.get(url, timeout=10)
            response.raise_for_status()
    return len(urls) / timer.elapsed


async def _aiohttp_loop(urls: list[str], in_flight: int, times: list[float] | None = None) -> None:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        semaphore = asyncio.Semaphore(in_flight)

        async def one(url: str) -> None:
            async with semaphore:
                started = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    response.raise_for_status()
                if times is not None:
                    times.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(one(url) for url in urls))


async def _aiohttp_latency(urls: list[str]) -> list[float]:
    import aiohttp

    times = []
    async with aiohttp.ClientSession() as session:
        for url in urls:
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
            times.append((time.perf_counter() - started) * 1000)
    return times


def reference_latency(urls: list[str]) -> float:
    """Median ms of one request at a time (aiohttp, kept-alive): what the server path costs."""
    return statistics.median(asyncio.run(_aiohttp_latency(urls)))


def aiohttp_loop(urls: list[str], in_flight: int = 50) -> float:
    with Timer() as timer:
        asyncio.run(_aiohttp_loop(urls, in_flight))
    return len(urls) / timer.elapsed


def loaded_latency(urls: list[str], in_flight: int) -> float:
    """Median ms a bare aiohttp client times with `in_flight` requests at once.

    What the server and the machine really answer in under that load, to tell
    the Prober's bookkeeping apart from latency that is really there.
    """
    times: list[float] = []
    asyncio.run(_aiohttp_loop(urls, in_flight, times))
    return statistics.median(times)


def prober(urls: list[str], concurrency: int, rounds: int = 2) -> tuple[float, float]:
    """Checks/s over `rounds` rounds (the first opens the connections) and the median time."""
    times: list[float] = []
    with Prober(CheckOptions(timeout=10), concurrency=concurrency) as p, Timer() as timer:
        for _ in range(rounds):
            results = p.run(urls)
            bad = [r for r in results if not r.ok]
            if bad:
                raise RuntimeError(f"{len(bad)} checks failed, e.g. {bad[0]}")
            times.extend(r.response_time_ms for r in results if r.response_time_ms is not None)
    return rounds * len(urls) / timer.elapsed, statistics.median(times)


def run(count: int, concurrencies: list[int], sample: int) -> list[Result]:
    results = []
    with server() as base:
        slow = [f"{base}/d20/{n}" for n in range(count)]
        fast = [f"{base}/d0/{n}" for n in range(count)]
        aiohttp_loop(fast[:200])  # warm up the server process
        reference = reference_latency(slow[:100])
        log(f"probe: sequential requests.get on {sample} URLs")
        sequential = sequential_requests(slow[:sample])
        for concurrency in concurrencies:
            rate, median = prober(slow, concurrency)
            loaded = loaded_latency(slow, concurrency)
            log(
                f"probe: 20 ms, concurrency {concurrency}: {rate:,.0f} checks/s, median {median}"
                f" (bare aiohttp at the same concurrency: {loaded:.2f})"
            )
            results.append(
                Result(
                    "probe (a)",
                    f"asyncio Prober, 20 ms server, {count} URLs x2, concurrency {concurrency}"
                    f" (median recorded {median:.1f} ms; bare aiohttp at the same"
                    f" concurrency times {loaded:.1f} ms)",
                    rate,
                    "checks/s",
                    "sequential requests.get, new connection each",
                    sequential,
                    target=10 if concurrency == RECOMMENDED_CONCURRENCY else None,
                    note=(
                        f"concurrency {RECOMMENDED_CONCURRENCY} is the default target row; median "
                        f"response_time_ms {median:.2f} for a 20 ms server delay (a bare aiohttp"
                        f" client, one request at a time, sees {reference:.2f} ms)"
                        if concurrency == RECOMMENDED_CONCURRENCY
                        else ""
                    ),
                )
            )
        for concurrency in concurrencies:
            # the baseline runs just before and just after each row, so load from
            # other work on a shared machine hits both sides of the ratio alike
            before = aiohttp_loop(fast)
            rate, _ = prober(fast, concurrency)
            baseline = (before + aiohttp_loop(fast)) / 2
            log(
                f"probe: no delay, concurrency {concurrency}: {rate:,.0f} checks/s"
                f" (bare aiohttp loop around it: {baseline:,.0f})"
            )
            results.append(
                Result(
                    "probe (b)",
                    f"asyncio Prober, no delay, {count} URLs x2, concurrency {concurrency}",
                    rate,
                    "checks/s",
                    "bare aiohttp loop, 50 in flight (mean of runs just before and after)",
                    baseline,
                    target=0.5 if concurrency == RECOMMENDED_CONCURRENCY else None,
                )
            )
    return results


def run_size(size: str) -> list[Result]:
    """What `python -m bench --size SIZE` runs."""
    return run(1000, [10, RECOMMENDED_CONCURRENCY, 100], 200)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=["small", "large"], default="small")
    parser.add_argument("--urls", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=200, help="URLs for the sequential run")
    parser.add_argument(
        "--concurrency", type=int, action="append", help="repeatable; default 10, 50, 100"
    )
    args = parser.parse_args(argv)
    concurrencies = args.concurrency or [10, RECOMMENDED_CONCURRENCY, 100]
    results = run(args.urls, concurrencies, args.sample)
    print(table(results))
    return results


if __name__ == "__main__":
    main()
