"""llm_notification: live push to consumers, buffering, TTL and drain order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest

from digitorn_notify import ChannelRegistry, FakeClock, MemoryStore, SQLiteStore
from digitorn_notify.storage import NotificationBuffer

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
async def buffer(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[NotificationBuffer]:
    store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "buffer.db")
    async with store:
        yield store


async def test_live_consumer_receives_in_order() -> None:
    registry = ChannelRegistry(load_plugins=False)
    async with registry.subscribe("app") as inbox:
        for n in range(3):
            result = await registry.deliver("llm_notification", "app", f"n{n}")
            assert result.success
            assert not result.buffered
        received = [(await inbox.receive()).payload.message for _ in range(3)]
    assert received == ["n0", "n1", "n2"]


async def test_no_consumer_buffers_and_drains_in_order(buffer: NotificationBuffer) -> None:
    clock = FakeClock()
    registry = ChannelRegistry(load_plugins=False, buffer=buffer, clock=clock)
    for n in range(5):
        result = await registry.deliver("llm_notification", "app", f"n{n}")
        assert result.buffered
        assert result.success
    assert await buffer.count_notifications("app", now=clock.now()) == 5
    async with registry.subscribe("app") as inbox:
        notes = [await inbox.receive() for _ in range(5)]
    assert [n.payload.message for n in notes] == [f"n{i}" for i in range(5)]
    assert all(n.buffered for n in notes)
    assert await buffer.count_notifications("app", now=clock.now()) == 0


async def test_buffer_keeps_the_newest_hundred(buffer: NotificationBuffer) -> None:
    clock = FakeClock()
    registry = ChannelRegistry(load_plugins=False, buffer=buffer, clock=clock)
    for n in range(130):
        await registry.deliver("llm_notification", "app", f"n{n}")
    async with registry.subscribe("app") as inbox:
        got = [(await inbox.receive()).payload.message for _ in range(100)]
    assert got == [f"n{i}" for i in range(30, 130)]


async def test_buffered_entries_expire_after_a_day(buffer: NotificationBuffer) -> None:
    clock = FakeClock()
    registry = ChannelRegistry(load_plugins=False, buffer=buffer, clock=clock)
    await registry.deliver("llm_notification", "app", "old")
    await clock.advance(timedelta(hours=23))
    await registry.deliver("llm_notification", "app", "recent")
    assert await buffer.count_notifications("app", now=clock.now()) == 2
    await clock.advance(timedelta(hours=2))
    assert await buffer.count_notifications("app", now=clock.now()) == 1
    async with registry.subscribe("app") as inbox:
        first = await inbox.receive()
    assert first.payload.message == "recent"
    assert await buffer.count_notifications("app", now=clock.now()) == 0


async def test_session_routing() -> None:
    registry = ChannelRegistry(load_plugins=False)
    async with registry.subscribe("app", "s1") as s1, registry.subscribe("app", "s2") as s2:
        async with registry.subscribe("app") as everyone:
            await registry.deliver("llm_notification", "app", "for s1", session_id="s1")
            await registry.deliver("llm_notification", "app", "for all")
            assert (await s1.receive()).payload.message == "for s1"
            assert (await s1.receive()).payload.message == "for all"
            assert (await s2.receive()).payload.message == "for all"
            assert [(await everyone.receive()).payload.message for _ in range(2)] == [
                "for s1",
                "for all",
            ]
        # A session nobody listens to is buffered for that session only.
        result = await registry.deliver("llm_notification", "app", "for s3", session_id="s3")
        assert result.buffered
    async with registry.subscribe("app", "s3") as s3:
        assert (await s3.receive()).payload.message == "for s3"


async def test_explicit_session_in_output_config_wins() -> None:
    registry = ChannelRegistry(load_plugins=False)
    async with registry.subscribe("app", "s2") as s2:
        result = await registry.deliver(
            "llm_notification", "app", "x", {"session_id": "s2"}, session_id="s1"
        )
        assert not result.buffered
        assert (await s2.receive()).session_id == "s2"


async def test_unread_notifications_return_to_the_buffer(buffer: NotificationBuffer) -> None:
    registry = ChannelRegistry(load_plugins=False, buffer=buffer)
    async with registry.subscribe("app") as inbox:
        await registry.deliver("llm_notification", "app", "read")
        await registry.deliver("llm_notification", "app", "unread")
        assert (await inbox.receive()).payload.message == "read"
    async with registry.subscribe("app") as inbox:
        assert (await inbox.receive()).payload.message == "unread"


async def test_async_iteration_stops_when_subscription_closes() -> None:
    registry = ChannelRegistry(load_plugins=False)
    seen: list[str] = []
    async with registry.subscribe("app") as inbox:
        await registry.deliver("llm_notification", "app", "one")

        async def consume() -> None:
            async for note in inbox:
                seen.append(note.payload.message)
                break

        with anyio.fail_after(5):
            await consume()
    assert seen == ["one"]
    assert registry.hub.consumers("app") == 0
