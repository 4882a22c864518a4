"""A fake host tool and a harness that runs a WatcherEngine on a fake clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import attrs

from digitorn_notify import ChannelPayload, ChannelRegistry, FakeClock, MemoryStore
from digitorn_notify.watchers import WatcherEngine
from tests.helpers import LookupChannel, RecordingChannel

APP = "app"
#: 2026-01-01T00:00:00Z, where every harness clock starts.
START = FakeClock().now()


class Tool:
    """A fake host tool: plays its script, then repeats its last step.

    A step is a value (returned), an exception (raised) or an ``async def ()`` (awaited).
    """

    def __init__(self, *script: Any) -> None:
        self.script = list(script) or [{"status": "ok"}]
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def then(self, *steps: Any) -> None:
        """Replace what is left of the script."""
        self.script = list(steps)

    async def __call__(self, tool_name: str, params: Mapping[str, Any]) -> Any:
        self.calls.append((tool_name, dict(params)))
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return await step()
        return step


@attrs.define
class Harness:
    clock: FakeClock
    registry: ChannelRegistry
    store: MemoryStore
    tool: Tool
    engine: WatcherEngine

    @property
    def inbox(self) -> RecordingChannel:
        channel = self.registry.instances(APP)["inbox"]
        assert isinstance(channel, RecordingChannel)
        return channel

    @property
    def payloads(self) -> list[ChannelPayload]:
        return [payload for _, payload, _ in self.inbox.calls]

    @property
    def messages(self) -> list[str]:
        return [payload.message for payload in self.payloads]

    @property
    def reasons(self) -> list[str]:
        return [payload.structured_data["reason"] for payload in self.payloads]

    async def advance(self, seconds: float, times: int = 1) -> None:
        for _ in range(times):
            await self.clock.advance(seconds)

    async def settle(self) -> None:
        await self.clock.advance(0)


@asynccontextmanager
async def harness(
    *script: Any,
    store: Any = None,
    clock: FakeClock | None = None,
    **engine_options: Any,
) -> AsyncIterator[Harness]:
    """An engine on a fake clock whose default channel is a recording ``inbox``."""
    clock = clock or FakeClock()
    registry = ChannelRegistry(clock=clock, load_plugins=False)
    registry.register_type(RecordingChannel)
    registry.register_type(LookupChannel)
    await registry.deploy_app(APP, {"inbox": {"type": "recording"}, "sms": {"type": "lookup"}})
    store = store if store is not None else MemoryStore()
    tool = Tool(*script)
    engine_options.setdefault("default_channel", "inbox")
    async with (
        registry,
        WatcherEngine(registry, tool, store=store, clock=clock, **engine_options) as engine,
    ):
        yield Harness(clock, registry, store, tool, engine)


async def eventually(predicate: Callable[[], bool], seconds: float = 5.0) -> None:
    """Wait (real time) until ``predicate()`` holds: for checks that wait on real I/O."""
    with anyio.fail_after(seconds):
        while not predicate():  # noqa: ASYNC110 - other tasks change what we poll
            await anyio.sleep(0.005)


def returning(value: Any, wait: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
    """A tool step that waits on ``wait()`` and then returns ``value``."""

    async def step() -> Any:
        await wait()
        return value

    return step
