"""The one API style (docs/conventions.md): app_id on every call, typed answers with
to_dict(), caller-chosen ids with replace_existing, output_channel checked at creation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import pytest

from digitorn_notify import ConfigError, FakeClock, MemoryStore
from digitorn_notify.watchers import (
    HistoryItem,
    RestoreReport,
    WatcherChange,
    WatcherEngine,
    WatcherHistory,
    WatcherList,
    WatcherStarted,
    WatcherStatus,
    WatcherSummary,
)
from tests.watchers.support import APP, START, harness

pytestmark = pytest.mark.anyio


async def test_answers_are_frozen_typed_objects_whose_dict_is_the_spec_shape() -> None:
    async with harness({"code": 200}) as h:
        started = await h.engine.start("http.get", interval=30, label="API", app_id=APP)
        assert isinstance(started, WatcherStarted)
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            started.label = "x"  # type: ignore[misc]
        assert started.interval == 30.0
        assert started.to_dict()["interval"] == 30  # whole intervals as the spec writes them
        await h.settle()
        status = await h.engine.status(started.watcher_id, app_id=APP)
        assert isinstance(status, WatcherStatus)
        assert status.created_at == START
        assert isinstance(status.last_check_at, datetime)
        assert status.to_dict()["created_at"] == "2026-01-01T00:00:00Z"
        (item,) = status.recent_history
        assert isinstance(item, HistoryItem)
        assert (item.ok, item.result, item.error) == (True, {"code": 200}, None)
        history = await h.engine.history(started.watcher_id, app_id=APP)
        assert isinstance(history, WatcherHistory)
        assert (history.count, history.entries) == (1, (item,))
        listing = await h.engine.list(app_id=APP)
        assert isinstance(listing, WatcherList)
        assert (listing.total, listing.running, listing.paused, len(listing)) == (1, 1, 0, 1)
        assert isinstance(listing[0], WatcherSummary)
        assert [w.watcher_id for w in listing] == [started.watcher_id]
        paused = await h.engine.pause(started.watcher_id, app_id=APP)
        assert isinstance(paused, WatcherChange)
        assert paused.to_dict() == attrs.asdict(paused)
        report = await h.engine.restore(app_id=APP)
        assert isinstance(report, RestoreReport)
        assert report.already_loaded == (started.watcher_id,)
        assert report.to_dict()["already_loaded"] == [started.watcher_id]


async def test_a_watcher_id_can_be_given_and_replaced() -> None:
    async with harness() as h:
        first = await h.engine.start("http.get", {"v": 1}, app_id=APP, watcher_id="api-health")
        assert first.watcher_id == "api-health"
        with pytest.raises(ConfigError) as caught:
            await h.engine.start("http.get", {"v": 2}, app_id=APP, watcher_id="api-health")
        assert caught.value.path == "watcher_id"
        assert "already exists; pass replace_existing=True" in caught.value.reason
        assert (await h.engine.status("api-health", app_id=APP)).params == {"v": 1}
        await h.engine.start(
            "http.get",
            {"v": 2},
            interval=60,
            app_id=APP,
            watcher_id="api-health",
            replace_existing=True,
        )
        status = await h.engine.status("api-health", app_id=APP)
        assert (status.params, status.interval) == ({"v": 2}, 60.0)
        assert (await h.engine.list(app_id=APP)).total == 1
        assert [r.watcher_id for r in await h.store.list_watchers()] == ["api-health"]
        # Ids are per engine: another app cannot take (or learn about) this one.
        with pytest.raises(ConfigError, match="belongs to another app") as caught:
            await h.engine.start(
                "http.get", app_id="other", watcher_id="api-health", replace_existing=True
            )
        assert caught.value.path == "watcher_id"
        await h.settle()
        # The replaced watcher's checks stopped with it: only the new one checks.
        assert [params for _, params in h.tool.calls] == [{"v": 1}, {"v": 2}]


async def test_starting_fixed_ids_at_boot_then_restoring_does_not_duplicate() -> None:
    """A host that starts its watchers at every boot, then restores, gets each once."""
    store, clock = MemoryStore(), FakeClock()

    async def boot(h: Any) -> None:
        await h.engine.start(
            "http.get", interval=10, app_id=APP, watcher_id="health", replace_existing=True
        )
        await h.engine.start(
            "db.count", interval=60, app_id=APP, watcher_id="rows", replace_existing=True
        )

    async with harness(store=store, clock=clock) as h:
        await boot(h)
        await h.engine.start("x.y", app_id=APP)  # one the agent started
        await h.advance(10)
    for restore_first in (False, True):
        async with harness(store=store, clock=clock) as h:
            if restore_first:
                await h.engine.restore(app_id=APP)
                await boot(h)
            else:
                await boot(h)
                report = await h.engine.restore(app_id=APP)
                assert sorted(report.already_loaded) == ["health", "rows"]
                assert len(report.restored) == 1
            listing = await h.engine.list(app_id=APP)
            assert {"health", "rows"} <= {w.watcher_id for w in listing}
            assert listing.total == 3
            assert len(await store.list_watchers(APP)) == 3
            assert len(h.engine._runner.watchers) == 3


async def test_a_stored_id_not_yet_restored_is_taken_too() -> None:
    store = MemoryStore()
    async with harness(store=store) as h:
        await h.engine.start("http.get", app_id=APP, watcher_id="health")
    async with harness(store=store) as h:
        with pytest.raises(ConfigError, match="already exists"):
            await h.engine.start("http.get", app_id=APP, watcher_id="health")
        with pytest.raises(ConfigError, match="belongs to another app"):
            await h.engine.start("http.get", app_id="other", watcher_id="health")
        await h.engine.start("db.count", app_id=APP, watcher_id="health", replace_existing=True)
        assert (await h.engine.restore(app_id=APP)).already_loaded == ("health",)
        assert (await h.engine.status("health", app_id=APP)).tool_name == "db.count"


async def test_a_channel_removed_by_a_redeploy_falls_back_at_notification_time() -> None:
    async with harness() as h:
        started = await h.engine.start(
            "http.get", notify_when="always", output_channel="sms", app_id=APP
        )
        await h.settle()
        # The app is redeployed without "sms": the watcher goes on, its notifications
        # reach llm_notification, and the result says why.
        await h.registry.deploy_app(APP, {"inbox": {"type": "recording"}})
        async with h.registry.subscribe(APP) as inbox:
            await h.advance(30)
            note = await inbox.receive()
        assert note.payload.metadata["watcher_id"] == started.watcher_id
        status = await h.engine.status(started.watcher_id, app_id=APP)
        assert (status.check_count, status.notification_count) == (2, 2)
        assert status.output_channel == "sms"


@pytest.mark.parametrize("default", [{APP: "inbox"}, 3, "", None])
async def test_default_channel_is_a_name_or_a_function(default: Any) -> None:
    async with harness() as h:
        with pytest.raises(ConfigError) as caught:
            WatcherEngine(h.registry, h.tool, default_channel=default)
        assert caught.value.path == "default_channel"


async def test_default_channel_as_a_function_of_the_app() -> None:
    def per_app(app_id: str) -> str | None:
        return {APP: "sms"}.get(app_id)

    async with harness(default_channel=per_app) as h:
        started = await h.engine.start("http.get", app_id=APP)
        assert (await h.engine.status(started.watcher_id, app_id=APP)).output_channel == "sms"
        other = await h.engine.start("http.get", app_id="other")
        assert (await h.engine.status(other.watcher_id, app_id="other")).output_channel == (
            "llm_notification"
        )
