"""Properties of the whole scheduler on the fake clock, whatever the jobs and the steps."""

from __future__ import annotations

from datetime import datetime, timedelta

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from digitorn_notify import ChannelRegistry, FakeClock
from digitorn_notify.scheduler import Scheduler
from tests.helpers import RecordingChannel
from tests.scheduler.conftest import T0

CRONS = ["*/7 * * * *", "0 * * * *", "30 16 * * *", "*/45 * * * *"]


@settings(max_examples=40, deadline=None)
@given(
    delays=st.lists(st.integers(0, 4 * 3600), max_size=12),
    crons=st.lists(st.sampled_from(CRONS), max_size=3),
    steps=st.lists(st.integers(1, 5000), min_size=1, max_size=8),
    cancel_after=st.none() | st.integers(0, 7),
)
def test_jobs_fire_once_at_their_time_whatever_the_steps(
    delays: list[int], crons: list[str], steps: list[int], cancel_after: int | None
) -> None:
    async def scenario() -> None:
        clock = FakeClock(T0)
        async with ChannelRegistry(clock=clock, load_plugins=False) as registry:
            registry.register_type(RecordingChannel)
            await registry.deploy_app("app", {"rec": {"type": "recording"}})
            channel = registry.instances("app")["rec"]
            assert isinstance(channel, RecordingChannel)
            async with Scheduler(registry) as scheduler:
                once = [
                    await scheduler.schedule_once(
                        timedelta(seconds=d), app_id="app", prompt="once", output_channel="rec"
                    )
                    for d in delays
                ]
                recurring = [
                    await scheduler.schedule_cron(
                        c, app_id="app", prompt="cron", output_channel="rec"
                    )
                    for c in crons
                ]
                cancelled_at: datetime | None = None
                for index, step in enumerate(steps):
                    if index == cancel_after and recurring:
                        await scheduler.cancel(recurring[0].job_id, app_id="app")
                        cancelled_at = clock.now()
                    await clock.advance(step)
                end = clock.now()
            runs: dict[str, list[tuple[str, str]]] = {}
            for _, payload, _ in channel.calls:
                meta = payload.metadata
                runs.setdefault(meta["job_id"], []).append(
                    (meta["scheduled_for"], meta["timestamp"])
                )
        for job in once:
            assert job.next_run_at is not None
            fired = runs.get(job.job_id, [])
            if job.next_run_at <= end:
                # Exactly once, exactly on time (the fake clock wakes sleepers in order).
                assert fired == [(job.next_run_at.isoformat().replace("+00:00", "Z"),) * 2]
            else:
                assert fired == []
        for job in recurring:
            times = [scheduled for scheduled, _ in runs.get(job.job_id, [])]
            assert times == sorted(set(times))  # no due time twice, always forward
            assert all(scheduled == fired for scheduled, fired in runs.get(job.job_id, []))
            if job is recurring[0] and cancelled_at is not None:
                stamp = cancelled_at.isoformat().replace("+00:00", "Z")
                assert all(t <= stamp for t in times)  # nothing after the cancel

    # On trio: its wait_all_tasks_blocked (behind FakeClock.advance) is exact, where
    # asyncio's polls with 0.1 s sleeps, which would make 40 examples take a minute.
    anyio.run(scenario, backend="trio")
