"""What ``on_first_wait`` costs, and what it saves where the library uses it.

Work that never waits (a ``log`` channel, an in-process tool) is the case the
technique is for. Each figure is the best of ``--repeat`` interleaved runs, as a ratio
against a baseline measured in the same run:

- the primitive itself: ``await on_first_wait(coro, hook)`` against ``await coro``;
- the registry's per-attempt timeout: a cancel scope armed only when the delivery
  first waits, against one armed up front (``anyio.CancelScope(deadline=...)``);
- ``fan_out`` of 10 jobs that never wait, against a task per job.

    .venv/bin/python benchmarks/bench_stepping.py [--backend asyncio|trio|both] [-n N]

The watchers' two uses (the timer handing its role over, a check's deadline) are
measured in their engine by ``bench_watchers.py``; see docs/performance.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable

import anyio

from digitorn_notify._fanout import fan_out
from digitorn_notify._stepping import on_first_wait


async def work() -> int:
    """A coroutine that returns without waiting."""
    return 1


def nothing() -> None:
    pass


async def best_per_call(func: Callable[[], Awaitable[object]], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await func()
    return (time.perf_counter() - start) / n * 1e6


async def run(n: int, repeat: int) -> dict[str, float]:
    async def plain() -> object:
        return await work()

    async def stepped() -> object:
        return await on_first_wait(work(), nothing)

    async def scope_up_front() -> object:
        with anyio.CancelScope(deadline=anyio.current_time() + 30):
            return await work()

    async def scope_on_first_wait() -> object:
        with anyio.CancelScope() as scope:

            def arm() -> None:
                scope.deadline = anyio.current_time() + 30

            return await on_first_wait(work(), arm)

    async def job(_: int) -> int:
        return await work()

    items = list(range(10))

    async def fan_out_10() -> object:
        return await fan_out(items, job)

    async def task_per_job_10() -> object:
        results = [0] * len(items)

        async def one(index: int) -> None:
            results[index] = await job(index)

        async with anyio.create_task_group() as group:
            for index in items:
                group.start_soon(one, index)
        return results

    cases = {
        "plain": (plain, n),
        "stepped": (stepped, n),
        "scope_up_front": (scope_up_front, n),
        "scope_on_first_wait": (scope_on_first_wait, n),
        "task_per_job_10": (task_per_job_10, max(n // 20, 100)),
        "fan_out_10": (fan_out_10, max(n // 20, 100)),
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(repeat):  # interleaved: each round sees the same machine
        for name, (func, count) in cases.items():
            best[name] = min(best[name], await best_per_call(func, count))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    parser.add_argument("-n", type=int, default=50_000, help="calls per timed run")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    for backend in ["asyncio", "trio"] if args.backend == "both" else [args.backend]:
        f = anyio.run(run, args.n, args.repeat, backend=backend)
        print(f"[{backend}] best of {args.repeat} interleaved runs")
        print(f"  await coro (baseline)                {f['plain']:7.3f} us")
        print(f"  await on_first_wait(coro, hook)      {f['stepped']:7.3f} us  "
              f"(+{f['stepped'] - f['plain']:.3f} us)")
        print(f"  timeout scope armed up front         {f['scope_up_front']:7.3f} us  (baseline)")
        print(f"  timeout scope armed at first wait    {f['scope_on_first_wait']:7.3f} us  "
              f"({f['scope_on_first_wait'] / f['scope_up_front']:.2f}x)")
        print(f"  10 jobs, a task each                 {f['task_per_job_10']:7.1f} us  (baseline)")
        print(f"  10 jobs, fan_out                     {f['fan_out_10']:7.1f} us  "
              f"({f['fan_out_10'] / f['task_per_job_10']:.2f}x)")


if __name__ == "__main__":
    main()
