"""Watcher engine throughput, CPU per check and memory per watcher.

10,000 watchers at a 5 s interval under ``on_change``, each checking a no-op tool that
returns a small dict, on the real clock: the sustained checks per second (2,000/s
means no watcher falls behind), the ticks skipped, and the process CPU time per check
against calling the check directly in the same run. Then memory per watcher with a
full history (100 checks each), measured with tracemalloc on a fake clock, for a
result that never changes and for one that changes at every check.

    .venv/bin/python benchmarks/bench_watchers.py [--backend asyncio|trio|both]
        [-n 10000] [--interval 5] [--seconds 20] [--memory-watchers 2000]

Targets (issue 6): the full 2,000 checks/s (no skipped tick), engine CPU <= 50 us per
check, <= 8 KB per watcher with a full history.
"""

from __future__ import annotations

import argparse
import gc
import logging
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import anyio.lowlevel

import digitorn_notify as dn
from digitorn_notify.watchers import HISTORY_SIZE, WatcherEngine

APP = "bench"

Check = Callable[[str, Mapping[str, Any]], Awaitable[dict[str, Any]]]


async def noop_check(tool_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The watched tool: does nothing, returns a small dict."""
    return {"status": "ok", "code": 200, "items": 3}


async def waiting_check(tool_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The same, but it waits once (like any tool doing I/O), so the check needs a task."""
    await anyio.lowlevel.checkpoint()
    return {"status": "ok", "code": 200, "items": 3}


def counting_check() -> Check:
    calls = 0

    async def check(tool_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"status": "ok", "code": 200, "items": calls}

    return check


async def baseline_us(check: Check, calls: int = 100_000) -> float:
    """Calling the check directly, in CPU microseconds per call (best of 5)."""
    params = {"url": "http://127.0.0.1/health"}
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(calls):
            await check("http.get", params)
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


async def throughput(check: Check, n: int, interval: float, seconds: float) -> dict[str, float]:
    registry = dn.ChannelRegistry(load_plugins=False)
    async with WatcherEngine(registry, check, max_concurrent_checks=100) as engine:
        started = time.perf_counter()
        for i in range(n):
            await engine.start(
                "http.get", {"url": f"http://127.0.0.1/health/{i}"}, interval=interval, app_id=APP
            )
        start_seconds = time.perf_counter() - started
        # One interval to let every watcher take its baseline, then measure.
        await anyio.sleep(interval)
        before = engine.stats()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await anyio.sleep(seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        after = engine.stats()
    checks = after.checks - before.checks
    return {
        "start_us": start_seconds / n * 1e6,
        "checks": checks,
        "rate": checks / (wall1 - wall0),
        "target_rate": n / interval,
        "skipped": after.skipped_checks - before.skipped_checks,
        "cpu_us": (cpu1 - cpu0) / max(checks, 1) * 1e6,
        "cpu_share": (cpu1 - cpu0) / (wall1 - wall0),
        "tasks": after.tasks,
    }


async def fill(n: int, check: Check, *, traced: bool) -> tuple[int, int]:
    """Run ``n`` watchers until each has a full history; the bytes that grew, the checks."""
    clock = dn.FakeClock()
    registry = dn.ChannelRegistry(clock=clock, load_plugins=False)
    gc.collect()
    if traced:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    async with WatcherEngine(registry, check, clock=clock) as engine:
        for i in range(n):
            await engine.start(
                "http.get", {"url": f"http://127.0.0.1/health/{i}"}, interval=5, app_id=APP
            )
        for _ in range(HISTORY_SIZE + 5):
            await clock.advance(5)
        gc.collect()
        # Registry, store and buffered notifications are shared, not per watcher, but
        # they are counted in: this is everything the engine made grow.
        used = tracemalloc.get_traced_memory()[0] - base
        checks = engine.stats().checks
    if traced:
        tracemalloc.stop()
    return used, checks


async def memory(n: int, *, changing: bool) -> dict[str, float]:
    # A first, untraced run imports what the backends import lazily (trio's first
    # run loads modules worth megabytes), which is not memory per watcher.
    await fill(20, counting_check() if changing else noop_check, traced=False)
    used, checks = await fill(n, counting_check() if changing else noop_check, traced=True)
    assert checks >= n * HISTORY_SIZE, checks
    return {"bytes": used / n, "checks_each": checks / n}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "baseline_us": await baseline_us(noop_check),
        "throughput": await throughput(noop_check, args.n, args.interval, args.seconds),
        "waiting_baseline_us": await baseline_us(waiting_check),
        "waiting": await throughput(waiting_check, args.n, args.interval, args.seconds),
    }
    if args.memory_watchers:
        figures["memory_same"] = await memory(args.memory_watchers, changing=False)
        figures["memory_changing"] = await memory(args.memory_watchers, changing=True)
    return figures


def report(backend: str, figures: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"== {backend}: {args.n} watchers every {args.interval:g}s, on_change")
    for label, key, base_key in (
        ("no-op check", "throughput", "baseline_us"),
        ("check that waits once", "waiting", "waiting_baseline_us"),
    ):
        t, base = figures[key], figures[base_key]
        print(f"  {label}:")
        print(f"    calling the check directly (baseline): {base:8.2f} us CPU per call")
        print(
            f"    sustained checks/s over {args.seconds:g}s:       {t['rate']:8.0f}"
            f"  (target {t['target_rate']:.0f}; ticks skipped: {t['skipped']:.0f})"
        )
        print(
            f"    process CPU per check:                 {t['cpu_us']:8.1f} us"
            f"  (engine: {t['cpu_us'] - base:.1f} us after the baseline; target <= 50;"
            f" {t['cpu_share']:.0%} of one core; {t['tasks']:.0f} tasks)"
        )
        print(f"    start():                               {t['start_us']:8.1f} us per watcher")
    if "memory_same" in figures:
        same, changing = figures["memory_same"], figures["memory_changing"]
        print(
            f"  memory per watcher, full history:        {same['bytes']:8.0f} B"
            f"  (same result each check; target <= 8192;"
            f" {args.memory_watchers} watchers x {same['checks_each']:.0f} checks)"
        )
        print(f"  memory per watcher, result changing:     {changing['bytes']:8.0f} B")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio", "both"], default="asyncio")
    parser.add_argument("-n", type=int, default=10_000, help="watchers (default 10,000)")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument(
        "--memory-watchers", type=int, default=2_000, help="0 skips the memory figures"
    )
    args = parser.parse_args()
    # A full llm_notification buffer warns at every baseline notification; that
    # logging is not the engine's cost.
    logging.getLogger("digitorn_notify").setLevel(logging.ERROR)
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    for backend in backends:
        figures = anyio.run(run, args, backend=backend)
        report(backend, figures, args)


if __name__ == "__main__":
    main()
