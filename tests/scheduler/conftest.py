"""Fixtures for the scheduler tests: a fake clock, a registry with a recording channel."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from digitorn_notify import ChannelPayload, ChannelRegistry, FakeClock
from tests.helpers import RecordingChannel

#: Friday 13 March 2026, 15:30 UTC: the spec's examples' "now".
T0 = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
APP = "app"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def registry(clock: FakeClock) -> AsyncIterator[ChannelRegistry]:
    async with ChannelRegistry(clock=clock, load_plugins=False) as registry:
        registry.register_type(RecordingChannel)
        await registry.deploy_app(APP, {"rec": {"type": "recording"}})
        yield registry


def recorded(
    registry: ChannelRegistry, app_id: str = APP, name: str = "rec"
) -> list[ChannelPayload]:
    """The payloads the recording channel ``name`` of ``app_id`` received, in order."""
    channel = registry.instances(app_id)[name]
    assert isinstance(channel, RecordingChannel)
    return [payload for _, payload, _ in channel.calls]


def deliveries(
    registry: ChannelRegistry, app_id: str = APP, name: str = "rec"
) -> list[tuple[str, ChannelPayload, dict[str, Any]]]:
    channel = registry.instances(app_id)[name]
    assert isinstance(channel, RecordingChannel)
    return list(channel.calls)


class Tools:
    """A host ``ActionInvoker``: records calls; a tool's behaviour is set per name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.behaviour: dict[str, Callable[[Mapping[str, Any]], Awaitable[Any]]] = {}

    async def invoke(self, tool_name: str, params: Mapping[str, Any]) -> Any:
        self.calls.append((tool_name, dict(params)))
        behaviour = self.behaviour.get(tool_name)
        if behaviour is None:
            return {"tool": tool_name, "params": dict(params)}
        return await behaviour(params)


@pytest.fixture
def tools() -> Tools:
    return Tools()


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait (in real time) until ``condition()`` holds: for work done in threads."""
    with anyio.fail_after(within):
        # Polling on purpose: the condition is about work in SQLite's worker threads.
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.01)
