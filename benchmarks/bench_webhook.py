"""Webhook delivery throughput: our channel against raw httpx and Apprise, same run.

A local HTTP/1.1 server (keep-alive, answers ``{}`` after a fixed latency) runs in a
separate process on 127.0.0.1. Each figure is 1,000 notifications, best of
``--repeat`` runs, sequential (one after another) and concurrent (all 1,000 started
at once), with the server answering after 0 ms and after 20 ms:

- ``ours``: ``registry.deliver`` to a deployed ``webhook`` channel (the whole flow:
  lookup, retry loop, health, idempotency key, JSON body);
- ``raw httpx``: one ``httpx.AsyncClient`` posting the same JSON, concurrent runs
  trying several pool sizes and semaphores, the best one reported;
- ``apprise``: ``Apprise.async_notify`` to a ``json://`` URL (when installed).

Client CPU per notification is the process's CPU time (all threads) over the run.

    .venv/bin/python benchmarks/bench_webhook.py [-n 1000] [--repeat 3] [--backend asyncio|trio]

Targets (issue 3): concurrent throughput >= 1.5x Apprise's and >= 0.9x the best raw
httpx configuration, at both latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx

import digitorn_notify as dn
from digitorn_notify.channels.builtin import webhook

APP = "bench"
PAYLOAD = dn.ChannelPayload(
    message="CPU at 93% on db-1 for 5 minutes",
    title="db-1 CPU",
    priority="high",
    tags=["cpu", "db"],
    structured_data={"host": "db-1", "cpu": 0.93},
)
BODY = json.dumps(
    {
        "app_id": APP,
        "message": PAYLOAD.message,
        "title": PAYLOAD.title,
        "priority": "high",
        "tags": PAYLOAD.tags,
        "structured_data": PAYLOAD.structured_data,
        "metadata": {},
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
    b"Connection: keep-alive\r\n\r\n{}"
)


# -- the server (its own process) --------------------------------------------------------


class _Http(asyncio.Protocol):
    """Just enough HTTP/1.1: requests with a Content-Length body, kept alive."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            if self.latency:
                asyncio.get_running_loop().call_later(self.latency, self._answer)
            else:
                self._answer()

    def _answer(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(RESPONSE)


def serve(latency: float, port_out: Any) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Http(latency), "127.0.0.1", 0, backlog=4096)
        port_out.send(server.sockets[0].getsockname()[1])
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class Server:
    """The server process, stopped on exit."""

    def __init__(self, latency_ms: float) -> None:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        self.process = context.Process(target=serve, args=(latency_ms / 1000.0, send), daemon=True)
        self.process.start()
        if not receive.poll(30):
            raise RuntimeError("the benchmark server did not start")
        self.url = f"http://127.0.0.1:{receive.recv()}/hook"

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)


# -- measuring ---------------------------------------------------------------------------


async def measure(
    send: Callable[[], Awaitable[object]], n: int, *, concurrent: bool
) -> tuple[float, float]:
    """``(notifications per second, client CPU microseconds per notification)``."""
    cpu, wall = time.process_time(), time.perf_counter()
    if concurrent:
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(send)
    else:
        for _ in range(n):
            await send()
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    return n / wall, cpu / n * 1e6


async def best(
    make: Callable[[], Awaitable[Callable[[], Awaitable[object]]]],
    n: int,
    repeat: int,
    *,
    concurrent: bool,
    close: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, float]:
    results = []
    for _ in range(repeat):
        send = await make()
        await measure(send, min(n, 50), concurrent=False)  # warm the pool
        results.append(await measure(send, n, concurrent=concurrent))
        if close is not None:
            await close()
    return max(results)


async def ours(
    url: str, n: int, repeat: int, concurrent: bool, limit: int | None
) -> tuple[float, float]:
    registry: dn.ChannelRegistry | None = None

    async def make() -> Callable[[], Awaitable[object]]:
        nonlocal registry
        registry = dn.ChannelRegistry(load_plugins=False)
        config: dict[str, Any] = {"url": url}
        if limit is not None:
            config["max_concurrency"] = limit
        await registry.deploy_app(APP, {"hook": {"type": "webhook", "config": config}})

        async def send() -> object:
            assert registry is not None
            result = await registry.deliver("hook", APP, PAYLOAD)
            if not result.success:
                raise RuntimeError(result.error)
            return result

        return send

    async def close() -> None:
        if registry is not None:
            await registry.aclose()

    return await best(make, n, repeat, concurrent=concurrent, close=close)


async def raw_httpx(
    url: str, n: int, repeat: int, concurrent: bool, pool: int, semaphore: int | None
) -> tuple[float, float]:
    client: httpx.AsyncClient | None = None

    async def make() -> Callable[[], Awaitable[object]]:
        nonlocal client
        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            timeout=30.0,
        )
        limiter = anyio.Semaphore(semaphore) if semaphore else None
        headers = {"Content-Type": "application/json"}

        async def send() -> object:
            assert client is not None
            if limiter is None:
                response = await client.post(url, content=BODY, headers=headers)
            else:
                async with limiter:
                    response = await client.post(url, content=BODY, headers=headers)
            response.raise_for_status()
            return response

        return send

    async def close() -> None:
        if client is not None:
            await client.aclose()

    return await best(make, n, repeat, concurrent=concurrent, close=close)


async def with_apprise(
    url: str, n: int, repeat: int, concurrent: bool
) -> tuple[float, float] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import apprise  # noqa: PLC0415 - optional: the comparison runs when installed
    except ImportError:
        return None

    async def make() -> Callable[[], Awaitable[object]]:
        manager = apprise.Apprise()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            manager.add(url.replace("http://", "json://"))

        async def send() -> object:
            outcome = await manager.async_notify(body=PAYLOAD.message, title=PAYLOAD.title or "")
            if not outcome:
                raise RuntimeError("apprise failed")
            return outcome

        return send

    return await best(make, n, repeat, concurrent=concurrent)


# -- the report --------------------------------------------------------------------------

RAW_CONFIGS = [(100, None), (5, 5), (10, 10), (20, 20), (50, 50), (100, 100)]


def line(label: str, figure: tuple[float, float], ref: float | None = None) -> str:
    rate, cpu = figure
    ratio = f"  ({rate / ref:4.2f}x ours)" if ref else ""
    return f"    {label:<34} {rate:8.0f} /s   {cpu:7.0f} us CPU/notification{ratio}"


async def run(args: argparse.Namespace) -> None:
    asyncio_backend = args.backend == "asyncio"
    for latency in args.latency:
        with Server(latency) as server:
            print(
                f"\n== server latency {latency:g} ms, {args.n} notifications, best of {args.repeat}"
            )
            for concurrent in (True,) if args.concurrent_only else (False, True):
                mode = "concurrent" if concurrent else "sequential"
                print(f"  {mode}")
                mine = await ours(server.url, args.n, args.repeat, concurrent, None)
                print(line("ours (registry.deliver, webhook)", mine))
                if concurrent and args.sweep:
                    for limit in args.sweep:
                        fig = await ours(server.url, args.n, args.repeat, concurrent, limit)
                        print(line(f"  ours, max_concurrency={limit}", fig))
                if args.no_raw:
                    continue
                raws = {}
                for pool, sem in RAW_CONFIGS if concurrent else [(100, None)]:
                    raws[(pool, sem)] = await raw_httpx(
                        server.url, args.n, args.repeat, concurrent, pool, sem
                    )
                    label = f"raw httpx pool={pool}" + (f" semaphore={sem}" if sem else "")
                    print(line(label, raws[(pool, sem)], mine[0]))
                best_raw = max(raws.values())
                apprise_fig = None
                if asyncio_backend:
                    apprise_fig = await with_apprise(server.url, args.n, args.repeat, concurrent)
                    if apprise_fig is not None:
                        print(line("apprise async_notify (json://)", apprise_fig, mine[0]))
                if concurrent:
                    verdict = (
                        f"    ours / best raw httpx = {mine[0] / best_raw[0]:.2f} (target >= 0.9)"
                    )
                    if apprise_fig is not None:
                        verdict += (
                            f"; ours / apprise = {mine[0] / apprise_fig[0]:.1f} (target >= 1.5)"
                        )
                    print(verdict)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument(
        "--sweep", type=int, nargs="*", default=[], help="also try these max_concurrency values"
    )
    parser.add_argument("--shard-size", type=int, help="connections per pool (tuning)")
    parser.add_argument("--concurrent-only", action="store_true")
    parser.add_argument("--no-raw", action="store_true", help="skip raw httpx and Apprise")
    args = parser.parse_args()
    if args.shard_size:
        webhook.SHARD_SIZE = args.shard_size
    anyio.run(run, args, backend=args.backend)


if __name__ == "__main__":
    main()
