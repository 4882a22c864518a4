"""A buffered notification that cannot be read is skipped and reported, stays in the
buffer (until it expires or the cap pushes it out), and costs the others nothing."""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from digitorn_notify import (
    UNREADABLE_KEY,
    BufferedNotification,
    ChannelRegistry,
    FakeClock,
    MemoryStore,
    SQLiteStore,
)

pytestmark = pytest.mark.anyio


async def messages(registry: ChannelRegistry, count: int) -> list[str]:
    async with registry.subscribe("app") as inbox:
        return [(await inbox.receive()).payload.message for _ in range(count)]


async def test_memory_an_entry_of_the_wrong_shape_is_reported_and_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    store = MemoryStore()
    registry = ChannelRegistry(clock=clock, buffer=store, load_plugins=False)
    await registry.deliver("llm_notification", "app", "first")
    now = clock.now()
    later = now + timedelta(hours=1)
    bad = BufferedNotification("bad", "app", None, now, later, {"message": ["not", "text"]})
    await store.push_notification(bad, max_per_app=100)
    await registry.deliver("llm_notification", "app", "second")
    with caplog.at_level(logging.ERROR, "digitorn_notify.channels"):
        assert await messages(registry, 2) == ["first", "second"]
    assert "buffered notification bad cannot be read and stays in the buffer" in caplog.text
    assert "@ data.message" in caplog.text
    [kept] = await store.drain_notifications("app", session_id=None, now=now)
    assert kept == bad


async def test_sqlite_a_torn_row_is_reported_kept_and_expires_in_its_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "buffer.db"
    clock = FakeClock()
    async with SQLiteStore(path) as store:
        registry = ChannelRegistry(clock=clock, buffer=store, load_plugins=False)
        for message in ("one", "two", "three"):
            await registry.deliver("llm_notification", "app", message)
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE notification_buffer SET data = '{\"message\": \"tw' WHERE seq = "
        "(SELECT seq FROM notification_buffer ORDER BY seq LIMIT 1 OFFSET 1)"
    )
    conn.commit()
    conn.close()
    async with SQLiteStore(path) as store:
        registry = ChannelRegistry(clock=clock, buffer=store, load_plugins=False)
        with caplog.at_level(logging.ERROR, "digitorn_notify.channels"):
            assert await messages(registry, 2) == ["one", "three"]
        assert "stored data is not valid JSON" in caplog.text
        assert await store.count_notifications("app", now=clock.now()) == 1
        # A later consumer still gets what arrives, and the torn row stays behind.
        await registry.deliver("llm_notification", "app", "four")
        assert await messages(registry, 1) == ["four"]
        rows: list[Any] = await store.run(
            lambda conn: conn.execute("SELECT data FROM notification_buffer").fetchall()
        )
        assert len(rows) == 1
        assert UNREADABLE_KEY in rows[0][0]
        assert '{\\"message\\": \\"tw' in rows[0][0]  # what was stored, kept
        await clock.advance(timedelta(hours=25))  # past the TTL: it goes like any entry
        assert await store.drain_notifications("app", session_id=None, now=clock.now()) == []
