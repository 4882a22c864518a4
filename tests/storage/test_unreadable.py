"""A row that cannot be decoded costs only itself: the store reads it as an unreadable
record (``unreadable_reason`` says why, the stored text is kept) and every other row
as usual. The rows are corrupted by hand, through ``sqlite3``, in real files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from digitorn_notify import (
    UNREADABLE_KEY,
    BufferedNotification,
    JobRecord,
    SQLiteStore,
    WatcherRecord,
    unreadable_data,
    unreadable_reason,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@contextmanager
def by_hand(path: Path) -> Iterator[sqlite3.Connection]:
    """The database file opened with plain sqlite3, as a person fixing it would."""
    conn = sqlite3.connect(path)
    try:
        yield conn
        conn.commit()
    finally:
        conn.close()


CORRUPTIONS: list[tuple[Any, str]] = [
    ('{"v": 1, "label": "torn', "not valid JSON"),
    ("", "not valid JSON"),
    ("[1, 2]", "a JSON list, not an object"),
    ('"text"', "a JSON str, not an object"),
    (b"\xff\xfe", "not valid JSON"),
    (12, "a JSON int, not an object"),  # TEXT affinity: stored as the text 12
]


@pytest.mark.parametrize(("stored", "why"), CORRUPTIONS)
async def test_an_undecodable_job_row_is_read_as_unreadable(
    tmp_path: Path, stored: Any, why: str
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        for job_id in ("a", "bad", "c"):
            await store.save_job(JobRecord(job_id, "app", {"n": job_id}, next_run_at=T0))
    with by_hand(path) as conn:
        conn.execute("UPDATE jobs SET data = ? WHERE job_id = 'bad'", (stored,))
    async with SQLiteStore(path) as store:
        jobs = await store.list_jobs()
        assert [j.job_id for j in jobs] == ["a", "bad", "c"]
        assert [j.data for j in jobs if j.job_id != "bad"] == [{"n": "a"}, {"n": "c"}]
        bad = await store.get_job("bad")
        assert bad is not None
        reason = unreadable_reason(bad.data)
        assert reason is not None
        assert why in reason
        raw = bad.data[UNREADABLE_KEY]["raw"]
        assert isinstance(raw, str)
        if isinstance(stored, str):
            assert raw == stored  # kept as it was, for inspection
        # Still due: its owner (the scheduler) decides what to do with it.
        leased = await store.acquire_due_jobs(T0, owner="me", lease_seconds=60)
        assert [j.job_id for j in leased] == ["a", "bad", "c"]
        assert unreadable_reason(leased[1].data) == reason


async def test_a_job_whose_time_column_is_not_a_time_is_unreadable_and_never_due(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        await store.save_job(JobRecord("bad", "app", {"n": 1}, next_run_at=T0))
        await store.save_job(JobRecord("ok", "app", {"n": 2}, next_run_at=T0))
    with by_hand(path) as conn:
        conn.execute("UPDATE jobs SET next_run_at = 'tomorrow' WHERE job_id = 'bad'")
    async with SQLiteStore(path) as store:
        bad = await store.get_job("bad")
        assert bad is not None
        assert bad.next_run_at is None
        assert "column next_run_at holds str 'tomorrow', not a time" in (
            unreadable_reason(bad.data) or ""
        )
        assert bad.data[UNREADABLE_KEY]["raw"] == '{"n":1}'
        leased = await store.acquire_due_jobs(T0 + timedelta(days=9), owner="me", lease_seconds=60)
        assert [j.job_id for j in leased] == ["ok"]


async def test_an_undecodable_watcher_row_is_read_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        for watcher_id in ("a", "bad", "c"):
            await store.save_watcher(WatcherRecord(watcher_id, "app", {"n": watcher_id}))
    with by_hand(path) as conn:
        conn.execute("UPDATE watchers SET data = '{\"n\": ' WHERE watcher_id = 'bad'")
    async with SQLiteStore(path) as store:
        watchers = await store.list_watchers("app")
        assert [w.watcher_id for w in watchers] == ["a", "bad", "c"]
        assert watchers[0].data == {"n": "a"}
        assert "not valid JSON" in (unreadable_reason(watchers[1].data) or "")
        bad = await store.get_watcher("bad")
        assert bad is not None
        assert bad.data[UNREADABLE_KEY]["raw"] == '{"n": '


async def test_an_undecodable_buffered_row_is_drained_as_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        for n, entry_id in enumerate(["a", "bad", "c"]):
            at = T0 + timedelta(seconds=n)
            entry = BufferedNotification(entry_id, "app", None, at, at + timedelta(hours=1), {})
            await store.push_notification(entry, max_per_app=10)
    with by_hand(path) as conn:
        conn.execute("UPDATE notification_buffer SET data = 'nope' WHERE entry_id = 'bad'")
        conn.execute("UPDATE notification_buffer SET created_at = 'x' WHERE entry_id = 'c'")
    async with SQLiteStore(path) as store:
        entries = await store.drain_notifications("app", session_id=None, now=T0)
        assert [e.entry_id for e in entries] == ["a", "bad", "c"]
        assert entries[0].data == {}
        assert "not valid JSON" in (unreadable_reason(entries[1].data) or "")
        assert "column created_at holds str 'x'" in (unreadable_reason(entries[2].data) or "")


async def test_unreadable_data_round_trips_through_every_store(store: Any) -> None:
    # An owner that saves an unreadable record back (a job marked failed) keeps why
    # it was unreadable and what was stored.
    data = {**unreadable_data("stored data is not valid JSON (x)", '{"torn'), "status": "failed"}
    await store.save_job(JobRecord("j", "app", data))
    job = await store.get_job("j")
    assert job.data == data
    assert unreadable_reason(job.data) == "stored data is not valid JSON (x)"
    await store.save_watcher(WatcherRecord("w", "app", data))
    watcher = await store.get_watcher("w")
    assert unreadable_reason(watcher.data) == "stored data is not valid JSON (x)"


def test_unreadable_reason_is_none_for_ordinary_data() -> None:
    assert unreadable_reason({}) is None
    assert unreadable_reason({"v": 1}) is None
    assert unreadable_reason({UNREADABLE_KEY: "not a marker"}) is None
    assert unreadable_reason({UNREADABLE_KEY: {}}) == "stored data cannot be decoded"
