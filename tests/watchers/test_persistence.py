"""Saving watchers, and restoring them after a restart (memory and SQLite stores)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from digitorn_notify import FakeClock, MemoryStore, SQLiteStore, WatcherRecord
from tests.watchers.support import APP, harness

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    backend = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "w.db")
    async with backend:
        yield backend


async def stored(store: Any, watcher_id: str) -> dict[str, Any]:
    record = await store.get_watcher(watcher_id)
    assert record is not None
    return record.data  # type: ignore[no-any-return]


async def test_every_state_change_is_saved_before_it_acts(store: Any) -> None:
    async with harness(store=store) as h:
        watcher_id = (
            await h.engine.start("http.get", {"url": "u"}, label="L", app_id=APP)
        ).watcher_id
        data = await stored(store, watcher_id)
        assert data["status"] == "running"
        assert data["check_count"] == 0  # saved before the first check ran
        assert data["spec"]["params"] == {"url": "u"}
        await h.settle()
        await h.engine.pause(watcher_id, app_id=APP)
        data = await stored(store, watcher_id)
        assert (data["status"], data["paused_at"]) == ("paused", "2026-01-01T00:00:00+00:00")
        assert data["check_count"] == 1
        await h.engine.resume(watcher_id, app_id=APP)
        assert (await stored(store, watcher_id))["status"] == "running"
        await h.engine.stop(watcher_id, app_id=APP)
        assert await store.get_watcher(watcher_id) is None


async def test_counters_are_saved_every_few_checks(store: Any) -> None:
    async with harness({"v": 1}, store=store, save_every=3) as h:
        watcher_id = (await h.engine.start("http.get", interval=5, app_id=APP)).watcher_id
        await h.settle()  # the baseline notification is saved
        assert (await stored(store, watcher_id))["check_count"] == 1
        await h.advance(5, times=2)
        assert (await stored(store, watcher_id))["check_count"] == 1
        await h.advance(5)
        await h.settle()
        assert (await stored(store, watcher_id))["check_count"] == 4
        await h.advance(5)
    # Leaving the engine saves what the last save missed.
    assert (await stored(store, watcher_id))["check_count"] == 5


async def test_restore_resumes_running_watchers_keeps_paused_ones_and_counters(
    store: Any,
) -> None:
    clock = FakeClock()
    async with harness({"v": 1}, ConnectionError("down"), store=store, clock=clock) as h:
        running = (
            await h.engine.start("http.get", interval=10, notify_when="on_error", app_id=APP)
        ).watcher_id
        paused = (
            await h.engine.start("db.count", interval=60, label="counts", app_id=APP)
        ).watcher_id
        other_app = (await h.engine.start("x.y", app_id="other")).watcher_id
        await h.advance(10, times=2)
        await h.engine.pause(paused, app_id=APP)
        before = (await h.engine.status(running, app_id=APP)).to_dict()
        assert (before["check_count"], before["consecutive_errors"]) == (3, 2)
    await clock.advance(4)  # down for 4 s: the next check is due 10 s after the last one

    async with harness({"v": 1}, store=store, clock=clock) as h:
        report = (await h.engine.restore(app_id=APP)).to_dict()
        assert sorted(report["restored"]) == sorted([running, paused])
        assert (report["running"], report["paused"], report["skipped"]) == (1, 1, {})
        assert report["app_id"] == APP
        after = (await h.engine.status(running, app_id=APP)).to_dict()
        for key in ("check_count", "notification_count", "error_count", "consecutive_errors"):
            assert after[key] == before[key], key
        assert after["next_check_at"] == "2026-01-01T00:00:30Z"
        assert after["last_error"] == "down"
        assert (await h.engine.history(running, app_id=APP)).entries == ()  # starts afresh
        assert (await h.engine.status(paused, app_id=APP)).status == "paused"
        await h.advance(6)
        # on_error remembered the run of failures: this success is the recovery.
        assert h.reasons == ["recovered"]
        assert (
            h.messages[0].splitlines()[1].startswith("Check #4 (interval: 10s, 2 notification(s)")
        )
        assert (await h.engine.history(running, app_id=APP)).to_dict()["entries"][0]["check"] == 4
        await h.advance(60)
        assert (await h.engine.status(paused, app_id=APP)).check_count == 1  # still paused
        again = (await h.engine.restore(app_id=APP)).to_dict()
        assert sorted(again["already_loaded"]) == sorted([running, paused])
        assert again["restored"] == []
        assert (await h.engine.restore(app_id="other")).to_dict()["restored"] == [other_app]


async def test_on_change_keeps_its_baseline_across_a_restart(store: Any) -> None:
    clock = FakeClock()
    async with harness({"v": 1}, store=store, clock=clock) as h:
        await h.engine.start("http.get", interval=10, app_id=APP)
        await h.settle()
        assert h.reasons == ["baseline"]
    await clock.advance(60)
    async with harness({"v": 1}, {"v": 2}, store=store, clock=clock) as h:
        await h.engine.restore(app_id=APP)
        await h.settle()  # overdue: checks at once, same result, no notification
        assert h.reasons == []
        await h.advance(10)
        assert h.reasons == ["changed"]


async def test_records_that_cannot_be_read_are_reported_and_kept(
    store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with harness(store=store) as h:
        good = (await h.engine.start("http.get", app_id=APP)).watcher_id
        data = await stored(store, good)
    bad = {
        "future": {**data, "version": 2},
        "garbled": {**data, "check_count": "many"},
        "extra": {**data, "surprise": 1},
        "threshold": {
            **data,
            "spec": {
                **data["spec"],
                "notify_when": "on_threshold",
                "notify_config": {"expression": "result >"},
            },
        },
        "state": {**data, "strategy_state": {"key": 12}},
        "moved": data,  # stored under another id than the one it describes
    }
    for watcher_id, payload in bad.items():
        await store.save_watcher(WatcherRecord(watcher_id, APP, payload))
    async with harness(store=store) as h:
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            report = (await h.engine.restore(app_id=APP)).to_dict()
        assert report["restored"] == [good]
        skipped = report["skipped"]
        assert set(skipped) == set(bad)
        assert "version 2" in skipped["future"]
        assert "@ data.check_count" in skipped["garbled"]
        assert "surprise" in skipped["extra"]
        assert "notify_config.expression" in skipped["threshold"]
        assert "on_change state" in skipped["state"]
        assert "describes" in skipped["moved"]
        assert caplog.text.count("could not be restored and stays in the store") == len(bad)
        assert len(await store.list_watchers(APP)) == len(bad) + 1


async def test_a_store_that_fails_refuses_the_request_and_creates_nothing() -> None:
    class Broken(MemoryStore):
        async def save_watcher(self, watcher: WatcherRecord) -> None:
            raise OSError("disk full")

    async with harness(store=Broken()) as h:
        with pytest.raises(OSError, match="disk full"):
            await h.engine.start("http.get", app_id=APP)
        assert (await h.engine.list(app_id=APP)).total == 0


async def test_pause_is_not_applied_when_it_cannot_be_saved() -> None:
    store = MemoryStore()
    async with harness(store=store) as h:
        watcher_id = (await h.engine.start("http.get", app_id=APP)).watcher_id

        async def refuse(watcher: WatcherRecord) -> None:
            raise OSError("read-only")

        store.save_watcher = refuse  # type: ignore[method-assign]
        with pytest.raises(OSError, match="read-only"):
            await h.engine.pause(watcher_id, app_id=APP)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert (status["status"], status["paused_at"]) == ("running", None)


async def test_background_saves_retry_while_the_store_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures = 3

    class Flaky(MemoryStore):
        async def save_watcher(self, watcher: WatcherRecord) -> None:
            nonlocal failures
            if watcher.data["check_count"] and failures:
                failures -= 1
                raise OSError("locked")
            await super().save_watcher(watcher)

    store = Flaky()
    async with harness({"v": 1}, store=store) as h:
        watcher_id = (await h.engine.start("http.get", app_id=APP)).watcher_id
        with caplog.at_level(logging.INFO, "digitorn_notify.watchers"):
            await h.settle()
            await h.advance(1)
            await h.advance(2)
            await h.advance(4)
        assert (await stored(store, watcher_id))["check_count"] == 1
        assert caplog.text.count("could not save watcher") == 1
        assert "saving watchers works again after 3 failure(s)" in caplog.text


async def test_the_stored_form_round_trips_through_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "watchers.db"
    clock = FakeClock()
    async with (
        SQLiteStore(path) as store,
        harness({"temp": 21.5, "at": "é"}, store=store, clock=clock) as h,
    ):
        watcher_id = (
            await h.engine.start(
                "sensor.read",
                {"id": 3, "tags": ["a"]},
                interval=15,
                label="Température",
                notify_when="summary",
                notify_config={"batch_size": 3},
                output_channel="sms",
                output_config={"to_number": "+33"},
                session_id="s",
                app_id=APP,
            )
        ).watcher_id
        await h.advance(15)
        before = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
    await clock.advance(timedelta(hours=1))
    async with SQLiteStore(path) as store, harness({"temp": 22.0}, store=store, clock=clock) as h:
        await h.engine.restore(app_id=APP)
        after = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        kept = ["params", "label", "notify_config", "output_channel", "output_config"]
        kept += ["session_id", "created_at", "check_count", "last_result"]
        for key in kept:
            assert after[key] == before[key], key  # type: ignore[literal-required]
        await h.settle()
        # The summary's pending batch (2 checks) was kept: one more check completes it.
        ((_, payload, config),) = h.registry.instances(APP)["sms"].calls  # type: ignore[attr-defined]
        assert config == {"to_number": "+33", "source": "lookup"}  # explicit config wins
        batch = payload.structured_data["batch"]
        assert [item["check"] for item in batch] == [1, 2, 3]
        assert batch[0]["result"] == {"temp": 21.5, "at": "é"}


async def test_shutdown_saves_even_when_cancelled() -> None:
    store = MemoryStore()
    with anyio.CancelScope() as scope:
        async with harness({"v": 1}, store=store, save_every=100) as h:
            watcher_id = (
                await h.engine.start("http.get", interval=5, notify_when="on_error", app_id=APP)
            ).watcher_id
            await h.advance(5, times=3)
            scope.cancel()
            await anyio.sleep_forever()
    record = await store.get_watcher(watcher_id)
    assert record is not None
    assert record.data["check_count"] == 4
