"""Scheduler benchmarks (issue 5): each figure next to a baseline measured in the same run.

    .venv/bin/python benchmarks/bench_scheduler.py [-n 10000] [--repeat 3] [--rate 2000]
        [--sqlite-jobs 5000] [--memory-jobs 100000] [--backend asyncio|trio] [--no-apscheduler]
    .venv/bin/python benchmarks/bench_scheduler.py --breakdown [-n 10000] [--repeat 7]

No-op action (a ``notification`` job delivered to a channel whose ``deliver`` only
takes a timestamp), memory store unless said otherwise, system clock:

(a) n one-shot jobs all due now: time from the last add until all have fired.
    Baseline: the same n deliveries made with ``registry.deliver`` directly.
(b) n jobs each due 1 s after being added, added at a steady ``--rate`` per second:
    lateness (fire time minus due time) p50/p99. Baseline: one bare anyio task per
    job sleeping 1 s (the event loop's own timer lateness under the same load).
    Also shown, without a target: the same jobs added in one burst.
(c) n jobs due at the same instant: lateness p50/p99. Baseline: n bare tasks
    sleeping until that instant.
(d) SQLite store: fires per second for jobs already due when the scheduler starts.
    Baseline: ``SQLiteStore.save_job`` calls per second (one write each).
(e) memory per idle job (due tomorrow), measured with tracemalloc over
    ``--memory-jobs`` jobs. Baseline: the store's records alone.

``--breakdown`` instead shows where a run's time goes: (a) again, with parts of a run
replaced by nothing in turn (the registry's delivery, the MemoryStore's JSON copies,
the payload and its metadata), each variant's minimum over ``--repeat`` interleaved
rounds; the differences are what those parts cost.

Each scenario runs ``--repeat`` times; the best run is reported (the machine is
shared and noisy; the median is shown too). When APScheduler 3 is installed (the
``bench`` dependency group), (a), (b), (c) and (e) also run against its
``AsyncIOScheduler`` with a ``MemoryJobStore`` in the same process, and the ratios
are printed. Targets (issue 5, 2-core machine): (a) <= 0.5 s, (b) p99 <= 10 ms,
(c) p99 <= 500 ms, (d) >= 2,000 fires/s, (e) <= 2 KB per job.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import anyio

import digitorn_notify as dn
from digitorn_notify.scheduler import Scheduler

APP = "bench"
T = TypeVar("T")


class Stamps:
    """Delivery times (``time.time()``) and lateness, and an event at the n-th."""

    def __init__(self) -> None:
        self.fired: list[float] = []
        self.lateness: list[float] = []
        self.due: dict[str, float] = {}
        self.expected = 0
        self.done: anyio.Event | None = None

    def reset(self, expected: int) -> None:
        self.fired.clear()
        self.lateness.clear()
        self.due.clear()
        self.expected = expected
        self.done = anyio.Event()

    def record(self, due: float | None) -> None:
        now = time.time()
        self.fired.append(now)
        if due is not None:
            self.lateness.append(now - due)
        if len(self.fired) == self.expected and self.done is not None:
            self.done.set()


STAMPS = Stamps()


class NoopChannel(dn.BaseOutputChannel):
    CHANNEL_ID = "noop"
    CHANNEL_NAME = "No-op"
    CHANNEL_VERSION = "1.0.0"

    async def deliver(
        self, app_id: str, payload: dn.ChannelPayload, config: dict[str, Any]
    ) -> dn.DeliveryResult:
        STAMPS.record(STAMPS.due.get(payload.metadata.get("job_id", "")))
        return dn.DeliveryResult(success=True, channel_id="noop")


async def registry() -> dn.ChannelRegistry:
    reg = dn.ChannelRegistry(load_plugins=False)
    reg.register_type(NoopChannel)
    await reg.deploy_app(APP, {"noop": {"type": "noop"}})
    return reg


def quantiles(values: list[float]) -> tuple[float, float]:
    """p50 and p99, in milliseconds."""
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.50) * 1000, pick(0.99) * 1000


def best_of(repeat: int, run: Callable[[], T], key: Callable[[T], float]) -> list[T]:
    """``repeat`` results of ``run``, best first (lowest ``key``)."""
    results = []
    for _ in range(repeat):
        gc.collect()
        results.append(run())
    return sorted(results, key=key)


# -- ours ----------------------------------------------------------------------------------


async def ours_all_due_now(n: int) -> float:
    reg = await registry()
    STAMPS.reset(n)
    async with Scheduler(reg, default_channel="noop") as scheduler:
        for _ in range(n):
            await scheduler.schedule_once(timedelta(0), app_id=APP, prompt="x")
        last_add = time.time()
        assert STAMPS.done is not None
        await STAMPS.done.wait()
    return max(STAMPS.fired) - last_add


async def direct_deliveries(n: int) -> float:
    reg = await registry()
    STAMPS.reset(n)
    payload = dn.ChannelPayload(message="x", metadata={"job_id": "none"})
    start = time.time()
    for _ in range(n):
        await reg.deliver("noop", APP, payload)
    return time.time() - start


async def ours_lateness(n: int, rate: float | None, same_instant: bool) -> list[float]:
    """Jobs due 1 s after their add (paced at ``rate``/s, or a burst), or all at one instant."""
    reg = await registry()
    STAMPS.reset(n)
    async with Scheduler(reg, default_channel="noop") as scheduler:
        clock = scheduler.clock
        instant = clock.now() + timedelta(seconds=2)
        start = time.perf_counter()
        for i in range(n):
            if rate is not None and (wait := start + i / rate - time.perf_counter()) > 0:
                await anyio.sleep(wait)
            when = instant if same_instant else clock.now() + timedelta(seconds=1)
            job = await scheduler.schedule_once(when, app_id=APP, prompt="x")
            assert job.next_run_at is not None
            STAMPS.due[job.job_id] = job.next_run_at.timestamp()
        assert STAMPS.done is not None
        await STAMPS.done.wait()
    return list(STAMPS.lateness)


async def bare_timers(n: int, rate: float | None, same_instant: bool) -> list[float]:
    """The baseline: one anyio task per job, sleeping until its due time."""
    lateness: list[float] = []

    async def timer(due: float) -> None:
        await anyio.sleep(due - time.time())
        lateness.append(time.time() - due)

    async with anyio.create_task_group() as group:
        instant = time.time() + 2
        start = time.perf_counter()
        for i in range(n):
            if rate is not None and (wait := start + i / rate - time.perf_counter()) > 0:
                await anyio.sleep(wait)
            group.start_soon(timer, instant if same_instant else time.time() + 1)
    return lateness


async def sqlite_fires_per_second(n: int) -> float:
    reg = await registry()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        async with dn.SQLiteStore(path) as store:
            adder = Scheduler(reg, store=store, default_channel="noop")
            for _ in range(n):
                await adder.schedule_once(timedelta(0), app_id=APP, prompt="x")
        STAMPS.reset(n)
        async with dn.SQLiteStore(path) as store:
            start = time.time()
            async with Scheduler(reg, store=store, default_channel="noop"):
                assert STAMPS.done is not None
                await STAMPS.done.wait()
            return n / (max(STAMPS.fired) - start)


async def sqlite_writes_per_second(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        async with dn.SQLiteStore(Path(tmp) / "bench.db") as store:
            now = datetime.now(UTC)
            start = time.time()
            for i in range(n):
                await store.save_job(dn.JobRecord(f"j{i}", APP, {"v": 1}, next_run_at=now))
            return n / (time.time() - start)


async def ours_memory(n: int) -> tuple[float, float]:
    """Bytes per idle job: the whole scheduler, and the store's records alone."""
    reg = await registry()
    store = dn.MemoryStore()
    async with Scheduler(reg, store=store, default_channel="noop") as scheduler:
        await scheduler.schedule_once(timedelta(days=1), app_id=APP, prompt="warm-up")
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            await scheduler.schedule_once(
                timedelta(days=1, seconds=i), app_id=APP, prompt="stand-up in 5 minutes"
            )
        await anyio.sleep(0.05)  # let the loop re-plan its sleep
        gc.collect()
        whole = (tracemalloc.get_traced_memory()[0] - before) / n
        tracemalloc.stop()
        records = [await store.get_job(r.job_id) for r in await store.list_jobs()][-n:]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    alone = dn.MemoryStore()
    for record in records:
        assert record is not None
        await alone.save_job(
            dn.JobRecord(record.job_id, record.app_id, dict(record.data), record.next_run_at)
        )
    store_only = (tracemalloc.get_traced_memory()[0] - before) / n
    tracemalloc.stop()
    return whole, store_only


# -- where a run's time goes ------------------------------------------------------------------


async def fire_cost(n: int) -> float:
    """Microseconds per run in (a): from the last add until all have fired."""
    return await ours_all_due_now(n) * 1e6 / n


def breakdown(n: int, repeat: int, backend: str) -> None:
    """(a) with parts of a run replaced by nothing, in interleaved rounds."""
    from digitorn_notify.scheduler import _firing  # noqa: PLC0415 - only here
    from digitorn_notify.storage import memory  # noqa: PLC0415 - only here

    done = dn.DeliveryResult(success=True, channel_id="noop")
    bare = dn.ChannelPayload(message="x")

    async def no_delivery(*args: Any, **kwargs: Any) -> dn.DeliveryResult:
        STAMPS.record(None)
        return done

    patches: dict[str, list[tuple[Any, str, Any]]] = {
        "the whole run": [],
        "without the registry's delivery": [(dn.ChannelRegistry, "deliver", no_delivery)],
        "without the MemoryStore's JSON copies": [
            (memory, "_frozen", lambda data: data),
            (memory, "_thaw", dict),
        ],
        "without the payload and metadata": [
            (_firing, "build_payload", lambda *args: bare),
            (_firing, "run_metadata", lambda *args: {}),
        ],
    }
    results: dict[str, list[float]] = {label: [] for label in patches}
    labels = list(patches)
    for round_ in range(repeat):
        # Each round starts with another variant: the machine's speed drifts.
        for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
            replaced = patches[label]
            saved = [(owner, name, getattr(owner, name)) for owner, name, _ in replaced]
            for owner, name, value in replaced:
                setattr(owner, name, value)
            try:
                gc.collect()
                results[label].append(anyio.run(fire_cost, n, backend=backend))
            finally:
                for owner, name, value in saved:
                    setattr(owner, name, value)
    whole = min(results["the whole run"])
    print(f"where a run's time goes ((a), n={n:,}, min of {repeat} rounds, {backend}):")
    for label, values in results.items():
        best = min(values)
        share = "" if label == "the whole run" else f"  (that part: {whole - best:4.1f} us)"
        print(f"  {label:40s} {best:5.1f} us per run{share}")


# -- APScheduler 3 ---------------------------------------------------------------------------


def apscheduler_available() -> str | None:
    try:
        import apscheduler  # noqa: PLC0415 - optional, bench group only
    except ImportError:
        return None
    version = str(getattr(apscheduler, "__version__", "?"))
    return version if version.startswith("3.") else None


def aps_run(body: Callable[[Any, Any], Awaitable[T]]) -> T:
    import asyncio  # noqa: PLC0415 - APScheduler 3's async scheduler is asyncio-only

    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # noqa: PLC0415

    async def main() -> T:
        # misfire_grace_time=None: run however late, as this scheduler does by
        # default (APScheduler's default of 1 s would silently drop late jobs).
        scheduler = AsyncIOScheduler(timezone="UTC", job_defaults={"misfire_grace_time": None})
        scheduler.start()
        try:
            return await body(scheduler, asyncio)
        finally:
            scheduler.shutdown(wait=False)

    return asyncio.run(main())


def aps_all_due_now(n: int, deliver: bool = False) -> float:
    """APScheduler; with ``deliver``, each job makes the registry delivery ours makes."""

    async def body(scheduler: Any, asyncio: Any) -> float:
        fired: list[float] = []
        done = asyncio.Event()
        reg = await registry()
        payload = dn.ChannelPayload(message="x", metadata={"job_id": "none"})

        async def job() -> None:
            if deliver:
                await reg.deliver("noop", APP, payload)
            fired.append(time.time())
            if len(fired) == n:
                done.set()

        for _ in range(n):
            scheduler.add_job(job)  # no trigger: run now
        last_add = time.time()
        await done.wait()
        return max(fired) - last_add

    return aps_run(body)


def aps_lateness(
    n: int, rate: float | None, same_instant: bool, deliver: bool = False
) -> list[float]:
    async def body(scheduler: Any, asyncio: Any) -> list[float]:
        lateness: list[float] = []
        done = asyncio.Event()
        reg = await registry()
        payload = dn.ChannelPayload(message="x", metadata={"job_id": "none"})

        async def job(due: float) -> None:
            if deliver:
                await reg.deliver("noop", APP, payload)
            lateness.append(time.time() - due)
            if len(lateness) == n:
                done.set()

        instant = datetime.now(UTC) + timedelta(seconds=2)
        start = time.perf_counter()
        for i in range(n):
            if rate is not None and (wait := start + i / rate - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            when = instant if same_instant else datetime.now(UTC) + timedelta(seconds=1)
            scheduler.add_job(job, "date", run_date=when, args=[when.timestamp()])
        await done.wait()
        return lateness

    return aps_run(body)


def aps_memory(n: int) -> float:
    async def body(scheduler: Any, asyncio: Any) -> float:
        async def job() -> None:
            pass

        tomorrow = datetime.now(UTC) + timedelta(days=1)
        scheduler.add_job(job, "date", run_date=tomorrow)
        await asyncio.sleep(0.05)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            scheduler.add_job(job, "date", run_date=tomorrow + timedelta(seconds=i))
        await asyncio.sleep(0.05)
        gc.collect()
        used = (tracemalloc.get_traced_memory()[0] - before) / n
        tracemalloc.stop()
        return used

    return aps_run(body)


# -- report ----------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def run(args: argparse.Namespace) -> None:
    n, repeat, rate, backend = args.n, args.repeat, args.rate, args.backend
    aps = None if args.no_apscheduler or backend != "asyncio" else apscheduler_available()

    def ours(func: Callable[..., Awaitable[T]], *arguments: Any) -> T:
        # A fresh event loop per measurement, as a host program would have.
        return anyio.run(func, *arguments, backend=backend)

    print(
        f"scheduler benchmarks: n={n:,}, best of {repeat}, {backend},"
        f" CPython {platform.python_version()}, {platform.machine()}"
    )
    print(f"APScheduler: {aps or 'not compared'}\n")

    firsts = best_of(repeat, lambda: ours(ours_all_due_now, n), key=float)
    direct = min(ours(direct_deliveries, n) for _ in range(repeat))
    print(
        f"(a) {n:,} one-shot jobs all due now: all fired {firsts[0]:.3f} s after the last add"
        f" (median {statistics.median(firsts):.3f} s); target <= 0.5 s: {verdict(firsts[0] <= 0.5)}"
    )
    print(
        f"    baseline: {n:,} registry.deliver calls directly take {direct:.3f} s;"
        f" a scheduled run costs {firsts[0] / direct:.1f}x a bare delivery"
    )
    if aps:
        theirs = min(aps_all_due_now(n) for _ in range(repeat))
        print(f"    APScheduler, no-op job: {theirs:.3f} s (ours takes {firsts[0] / theirs:.1f}x)")
        theirs = min(aps_all_due_now(n, deliver=True) for _ in range(repeat))
        print(
            f"    APScheduler, job making the same registry delivery: {theirs:.3f} s"
            f" (ours takes {firsts[0] / theirs:.1f}x)"
        )

    p99 = lambda values: quantiles(values)[1]  # noqa: E731
    for label, pace, same, target in (
        (f"(b) {n:,} jobs each due 1 s after being added ({rate:,.0f} adds/s)", rate, False, 10.0),
        (f"    the same {n:,} jobs added in one burst (no target)", None, False, None),
        (f"(c) {n:,} jobs due at the same instant", None, True, 500.0),
    ):
        mine = best_of(repeat, lambda p=pace, s=same: ours(ours_lateness, n, p, s), key=p99)
        base = best_of(repeat, lambda p=pace, s=same: ours(bare_timers, n, p, s), key=p99)
        m50, m99 = quantiles(mine[0])
        b50, b99 = quantiles(base[0])
        median99 = statistics.median(p99(v) for v in mine)
        met = "" if target is None else f"; target p99 <= {target:g} ms: {verdict(m99 <= target)}"
        print(f"{label}: lateness p50 {m50:.1f} ms, p99 {m99:.1f} ms")
        print(f"    (median p99 of the runs {median99:.1f} ms){met}")
        print(
            f"    baseline, bare anyio tasks sleeping until due: p50 {b50:.1f} ms, p99 {b99:.1f} ms"
        )
        for deliver in (False, True) if aps else ():
            theirs = best_of(
                repeat, lambda p=pace, s=same, d=deliver: aps_lateness(n, p, s, d), key=p99
            )[0]
            a50, a99 = quantiles(theirs)
            what = "job making the same registry delivery" if deliver else "no-op job"
            print(
                f"    APScheduler, {what}: p50 {a50:.1f} ms, p99 {a99:.1f} ms"
                f" (ours/theirs at p99: {m99 / max(a99, 0.001):.1f}x)"
            )

    sqlite_n = args.sqlite_jobs
    fires = max(ours(sqlite_fires_per_second, sqlite_n) for _ in range(repeat))
    writes = max(ours(sqlite_writes_per_second, sqlite_n) for _ in range(repeat))
    print(
        f"(d) SQLite store, {sqlite_n:,} jobs due at start: {fires:,.0f} fires/s;"
        f" target >= 2,000: {verdict(fires >= 2000)}"
    )
    print(
        f"    baseline: {writes:,.0f} SQLiteStore.save_job calls/s; a fire costs"
        f" {writes / fires:.1f} such writes"
    )

    whole, store_only = ours(ours_memory, args.memory_jobs)
    print(
        f"(e) memory per idle job ({args.memory_jobs:,} jobs due tomorrow): {whole:,.0f} bytes;"
        f" target <= 2,048: {verdict(whole <= 2048)}"
    )
    print(f"    baseline: the store's records alone take {store_only:,.0f} bytes per job")
    if aps:
        theirs = aps_memory(args.memory_jobs)
        print(
            f"    APScheduler (MemoryJobStore): {theirs:,.0f} bytes per job"
            f" (ours/theirs: {whole / theirs:.1f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, default=2_000.0, help="adds per second in (b)")
    parser.add_argument("--sqlite-jobs", type=int, default=5_000)
    parser.add_argument("--memory-jobs", type=int, default=100_000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--no-apscheduler", action="store_true")
    parser.add_argument("--breakdown", action="store_true", help="where a run's time goes")
    args = parser.parse_args()
    if args.breakdown:
        breakdown(args.n, args.repeat, args.backend)
    else:
        run(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
