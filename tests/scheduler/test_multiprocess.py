"""Several real processes sharing one SQLite file: each due job fires once across them.

Each worker is a separate Python process running a Scheduler on the same database,
with the system clock. Its output channel appends one line per delivery to the
worker's own file, so the test can count who ran what.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest

from digitorn_notify import ChannelRegistry, SQLiteStore
from digitorn_notify.scheduler import JobStatus, ScheduledJob, Scheduler

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import anyio
    import digitorn_notify as dn
    from digitorn_notify.scheduler import Scheduler

    db, out, seconds, mode, lease = sys.argv[1:6]

    class Out(dn.BaseOutputChannel):
        CHANNEL_ID = "out"
        CHANNEL_NAME = "Out"
        CHANNEL_VERSION = "1.0.0"

        async def deliver(self, app_id, payload, config):
            line = {
                "job": payload.metadata["job_id"],
                "for": payload.metadata["scheduled_for"],
                "key": dn.current_delivery().key,
            }
            with open(out, "a") as f:
                f.write(json.dumps(line) + "\\n")
            if mode == "hang":  # a process that will be killed mid-run
                await anyio.sleep_forever()
            return dn.DeliveryResult(True, "out")

    async def main():
        async with dn.ChannelRegistry(load_plugins=False) as registry:
            registry.register_type(Out)
            await registry.deploy_app("app", {"out": {"type": "out"}})
            async with dn.SQLiteStore(db) as store:
                async with Scheduler(
                    registry, store=store, sync_interval=0.2, fire_timeout=1,
                    lease_seconds=float(lease),
                ):
                    await anyio.sleep(float(seconds))

    anyio.run(main)
    """
)


def start_worker(
    tmp_path: Path, db: Path, name: str, seconds: float, mode: str = "normal", lease: float = 30
) -> tuple[subprocess.Popen[bytes], Path]:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / f"{name}.jsonl"
    process = subprocess.Popen(
        [sys.executable, str(script), str(db), str(out), str(seconds), mode, str(lease)],
        stderr=subprocess.PIPE,
    )
    return process, out


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def create_jobs(db: Path, build: Any) -> list[ScheduledJob]:
    async def main() -> list[ScheduledJob]:
        async with SQLiteStore(db) as store, ChannelRegistry(load_plugins=False) as registry:
            # The workers' "out" is their own channel type; here it only has to exist.
            await registry.deploy_app("app", {"out": {"type": "log"}})
            scheduler = Scheduler(registry, store=store)
            return [job async for job in build(scheduler)]

    return anyio.run(main)


def stored_jobs(db: Path) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        async with SQLiteStore(db) as store:
            scheduler = Scheduler(ChannelRegistry(load_plugins=False), store=store)
            return {job.job_id: job for job in await scheduler.list(app_id="app")}

    return anyio.run(main)


def finish(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    _, stderr = process.communicate(timeout=timeout)
    assert process.returncode == 0, stderr.decode()


def test_three_processes_fire_each_due_job_exactly_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    start = datetime.now(UTC) + timedelta(seconds=2)

    async def build(scheduler: Scheduler) -> Any:
        for n in range(60):
            yield await scheduler.schedule_once(
                start + timedelta(milliseconds=20 * n),
                app_id="app",
                prompt=f"job {n}",
                output_channel="out",
            )
        yield await scheduler.schedule_interval(
            0.5, start=start, max_runs=4, app_id="app", prompt="tick", output_channel="out"
        )

    jobs = create_jobs(db, build)
    workers = [start_worker(tmp_path, db, f"w{n}", seconds=6) for n in range(3)]
    for process, _ in workers:
        finish(process)
    fired = [line for _, out in workers for line in lines(out)]
    once_ids = {job.job_id for job in jobs[:60]}
    interval_id = jobs[60].job_id
    once_runs = sorted(line["job"] for line in fired if line["job"] in once_ids)
    assert once_runs == sorted(once_ids)  # every one-shot ran, and ran once
    ticks = [line["for"] for line in fired if line["job"] == interval_id]
    assert len(ticks) == len(set(ticks)) == 4  # each interval due time ran once
    after = stored_jobs(db)
    assert {after[job_id].status for job_id in once_ids} == {JobStatus.COMPLETED}
    assert {after[job_id].run_count for job_id in once_ids} == {1}
    assert (after[interval_id].status, after[interval_id].run_count) == (JobStatus.COMPLETED, 4)


def test_a_crashed_holders_job_is_taken_over_after_its_lease(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"

    async def build(scheduler: Scheduler) -> Any:
        yield await scheduler.schedule_once(
            timedelta(seconds=1), app_id="app", prompt="important", output_channel="out"
        )

    [job] = create_jobs(db, build)
    crashing, crashing_out = start_worker(
        tmp_path, db, "crashing", seconds=60, mode="hang", lease=3
    )
    try:
        deadline = time.monotonic() + 30
        while not lines(crashing_out):
            assert time.monotonic() < deadline, "the first worker never started the job"
            assert crashing.poll() is None, crashing.stderr.read().decode()  # type: ignore[union-attr]
            time.sleep(0.02)
        # Killed mid-run, holding the lease: no clean-up runs.
        os.kill(crashing.pid, signal.SIGKILL)
        crashing.wait(timeout=10)
    finally:
        if crashing.poll() is None:
            crashing.kill()
        crashing.communicate()
    killed_at = time.monotonic()
    taker, taker_out = start_worker(tmp_path, db, "taker", seconds=8, lease=3)
    finish(taker)
    assert [line["job"] for line in lines(crashing_out)] == [job.job_id]
    assert [line["job"] for line in lines(taker_out)] == [job.job_id]
    # The repeat carries the first attempt's key, so the receiver can drop it.
    assert lines(taker_out)[0]["key"] == lines(crashing_out)[0]["key"]
    after = stored_jobs(db)[job.job_id]
    assert (after.status, after.run_count) == (JobStatus.COMPLETED, 1)
    assert time.monotonic() - killed_at < 60
