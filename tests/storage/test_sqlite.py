"""SQLite specifics: persistence across reopen, schema versioning, several processes."""

from __future__ import annotations

import functools
import json
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from digitorn_notify import JobRecord, SQLiteStore, StoreError, WatcherRecord
from digitorn_notify.storage.sqlite import SCHEMA_VERSION

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def test_data_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "notify.db"
    record = JobRecord("j1", "app", {"cron": "0 9 * * *"}, next_run_at=T0)
    async with SQLiteStore(path) as store:
        await store.save_job(record)
        await store.save_watcher(WatcherRecord("w1", "app", {"paused": True}))
    async with SQLiteStore(path) as store:
        assert await store.get_job("j1") == record
        assert (await store.get_watcher("w1")) == WatcherRecord("w1", "app", {"paused": True})


async def test_uses_wal_and_records_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "notify.db"
    async with SQLiteStore(path) as store:
        await store.list_jobs()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert (
            conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
        )
    finally:
        conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notify.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match="newer than this library"):
        await store.list_jobs()
    await store.aclose()


async def test_unserialisable_data_is_a_store_error(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "n.db") as store:
        with pytest.raises(StoreError, match="not JSON-serialisable"):
            await store.save_job(JobRecord("j", "app", {"when": T0}))
        with pytest.raises(StoreError):
            await store.save_job(JobRecord("j", "app", {"x": float("nan")}))


async def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "missing-dir" / "n.db")
    with pytest.raises(StoreError, match="cannot open SQLite store"):
        await store.list_jobs()
    await store.aclose()


WORKER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    import anyio
    from digitorn_notify import SQLiteStore

    async def main(path, owner, now):
        taken = []
        async with SQLiteStore(path) as store:
            while batch := await store.acquire_due_jobs(
                datetime.fromisoformat(now), owner=owner, lease_seconds=600, limit=1
            ):
                taken.extend(job.job_id for job in batch)
        print(json.dumps(taken))

    anyio.run(main, *sys.argv[1:])
    """
)


@pytest.mark.slow
async def test_several_processes_acquire_each_job_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with SQLiteStore(path) as store:
        for n in range(60):
            await store.save_job(
                JobRecord(f"j{n:02}", "app", {}, next_run_at=T0 - timedelta(minutes=1))
            )
    now = T0.isoformat()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), f"proc{n}", now],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    results = []
    for proc in procs:
        # Waiting for a process blocks: in a thread, not in the event loop.
        out, _ = await anyio.to_thread.run_sync(functools.partial(proc.communicate, timeout=60))
        assert proc.returncode == 0
        results.append(json.loads(out))
    taken = [job_id for result in results for job_id in result]
    assert sorted(taken) == [f"j{n:02}" for n in range(60)]
    async with SQLiteStore(path) as store:
        owners = {job.job_id: job.lease_owner for job in await store.list_jobs()}
    for n, result in enumerate(results):
        assert all(owners[job_id] == f"proc{n}" for job_id in result)
