"""Registry overhead: ``registry.deliver`` to a no-op channel against calling it directly.

Both are measured in the same run, on the same channel object, so the difference is
what the registry adds (lookup, recipient hook, timeout scope, health, result checks).
Also times ``deliver_multi`` to 10 no-op channels against one ``registry.deliver``.

    .venv/bin/python benchmarks/bench_registry.py [--backend asyncio|trio|both] [-n N]

Targets (issue 2): overhead <= 20 microseconds per delivery on asyncio, and
deliver_multi to 10 channels <= 10x one delivery.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio

import digitorn_notify as dn

APP = "bench"


class NoopChannel(dn.BaseOutputChannel):
    CHANNEL_ID = "noop"
    CHANNEL_NAME = "No-op"
    CHANNEL_VERSION = "1.0.0"

    async def deliver(
        self, app_id: str, payload: dn.ChannelPayload, config: dict[str, Any]
    ) -> dn.DeliveryResult:
        return dn.DeliveryResult(success=True, channel_id="noop")


async def best_per_call(func: Callable[[], Awaitable[object]], n: int, repeat: int = 5) -> float:
    """The best of ``repeat`` runs of ``n`` calls, in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            await func()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


async def run(n: int) -> dict[str, float]:
    registry = dn.ChannelRegistry(load_plugins=False)
    registry.register_type(NoopChannel)
    names = [f"noop{i}" for i in range(10)]
    await registry.deploy_app(APP, {name: {"type": "noop"} for name in names})
    channel = registry.instances(APP)["noop0"]
    payload = dn.ChannelPayload(message="benchmark", title="t")
    config: dict[str, Any] = {}

    async def direct() -> object:
        return await channel.deliver(APP, payload, config)

    async def via_registry() -> object:
        return await registry.deliver("noop0", APP, payload)

    async def fan_out() -> object:
        return await registry.deliver_multi(names, APP, payload)

    async def fan_out_one() -> object:
        return await registry.deliver_multi(names[:1], APP, payload)

    async def sequential() -> object:
        return [await registry.deliver(name, APP, payload) for name in names]

    await best_per_call(via_registry, 1000, 1)  # warm-up
    figures = {
        "direct": await best_per_call(direct, n),
        "registry": await best_per_call(via_registry, n),
        "multi10": await best_per_call(fan_out, max(n // 10, 100)),
        "multi1": await best_per_call(fan_out_one, n),
        "seq10": await best_per_call(sequential, max(n // 10, 100)),
    }
    await registry.aclose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio", "both"], default="both")
    parser.add_argument("-n", type=int, default=20_000, help="deliveries per timed run")
    args = parser.parse_args()
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]
    for backend in backends:
        f = anyio.run(run, args.n, backend=backend)
        overhead = f["registry"] - f["direct"]
        print(f"[{backend}]")
        print(f"  channel.deliver directly      {f['direct']:8.2f} us/delivery  (baseline)")
        print(f"  registry.deliver              {f['registry']:8.2f} us/delivery  "
              f"({f['registry'] / f['direct']:.1f}x baseline)")
        print(f"  registry overhead             {overhead:8.2f} us/delivery  (target <= 20)")
        print(f"  deliver_multi to 10 channels  {f['multi10']:8.2f} us/call      "
              f"({f['multi10'] / f['registry']:.1f}x one registry.deliver, target <= 10x)")
        print(f"    for comparison: 10 sequential registry.deliver calls {f['seq10']:8.2f} us "
              f"({f['seq10'] / f['registry']:.1f}x); deliver_multi to 1 channel "
              f"{f['multi1']:.2f} us (10 channels cost {f['multi10'] / f['multi1']:.1f}x that)")


if __name__ == "__main__":
    main()
