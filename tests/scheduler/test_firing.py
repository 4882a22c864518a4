"""What a run does: the three actions, the payload, failures, slow jobs and the limit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import anyio
import pytest

from digitorn_notify import ChannelRegistry, FakeClock, MemoryStore, Priority
from digitorn_notify.scheduler import JobStatus, ScheduledJob, Scheduler
from tests.helpers import LookupChannel
from tests.scheduler.conftest import APP, T0, Tools, deliveries, eventually, recorded

pytestmark = pytest.mark.anyio


async def job_state(scheduler: Scheduler, job_id: str) -> ScheduledJob:
    job = await scheduler.status(job_id, app_id=APP)
    assert isinstance(job, ScheduledJob)
    return job


async def test_tool_call_result_is_delivered_with_the_spec_metadata(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    registry.register_type(LookupChannel)
    await registry.deploy_app(APP, {"rec": {"type": "recording"}, "sms": {"type": "lookup"}})
    async with Scheduler(registry, invoker=tools) as scheduler:
        job = await scheduler.schedule_once(
            "in 5m",
            app_id=APP,
            session_id="s1",
            action_type="tool_call",
            tool_name="http.get",
            tool_params={"url": "https://api.example.com/health"},
            label="Post-deploy health check",
            output_channel="sms",
            output_config={"priority": "high"},
        )
        await clock.advance(299)
        assert tools.calls == []
        await clock.advance(1)
        assert tools.calls == [("http.get", {"url": "https://api.example.com/health"})]
        [(app_id, payload, config)] = deliveries(registry, name="sms")
    assert app_id == APP
    # session_id reached the channel's recipient hook; the explicit config won.
    assert config == {"to_number": "+33-s1", "source": "lookup", "priority": "high"}
    assert payload.title == "Post-deploy health check"
    assert payload.structured_data["result"] == {
        "tool": "http.get",
        "params": {"url": "https://api.example.com/health"},
    }
    assert payload.metadata == {
        "job_id": job.job_id,
        "trigger_type": "scheduler",
        "timestamp": "2026-03-13T15:35:00Z",
        "run_count": 1,
        "schedule_type": "once",
        "action_type": "tool_call",
        "scheduled_for": "2026-03-13T15:35:00Z",
        "label": "Post-deploy health check",
    }
    done = await job_state(scheduler, job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert (done.run_count, done.last_run_at, done.next_run_at) == (
        1,
        T0 + timedelta(minutes=5),
        None,
    )
    assert done.finished_at == T0 + timedelta(minutes=5)


async def test_llm_prompt_goes_to_the_prompt_sink(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    submitted: list[tuple[Any, ...]] = []

    async def sink(
        app_id: str, session_id: str | None, prompt: str, metadata: Mapping[str, Any]
    ) -> str:
        submitted.append((app_id, session_id, prompt, dict(metadata)))
        return "Yesterday: 3 errors, all timeouts."

    async with Scheduler(registry, prompt_sink=sink) as scheduler:
        job = await scheduler.schedule_cron(
            "0 9 * * *",
            app_id=APP,
            session_id="s1",
            action_type="llm_prompt",
            prompt="Summarise yesterday's API errors.",
            output_channel="rec",
        )
        await clock.advance_to(T0.replace(day=14, hour=9))
    [(app_id, session_id, prompt, metadata)] = submitted
    assert (app_id, session_id, prompt) == (APP, "s1", "Summarise yesterday's API errors.")
    assert metadata["job_id"] == job.job_id
    [payload] = recorded(registry)
    assert payload.message == "Yesterday: 3 errors, all timeouts."
    assert payload.title == "Scheduled prompt"


async def test_notification_goes_to_the_session_through_llm_notification(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler, registry.subscribe(APP, "s1") as inbox:
        job = await scheduler.remember(
            "Check the deploy", "in 10 minutes", app_id=APP, session_id="s1"
        )
        await clock.advance(600)
        note = await inbox.receive()
    assert note.session_id == "s1"
    assert note.payload.message == "Check the deploy"
    assert note.payload.title == "Check the deploy"
    assert note.payload.metadata["job_id"] == job.job_id
    assert note.payload.tags == ["scheduler", "once"]


async def test_failing_tool_is_reported_and_recorded_and_the_job_goes_on(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    outcomes: list[BaseException | None] = [ValueError("HTTP 503"), KeyError("x"), None]

    async def flaky(params: Mapping[str, Any]) -> str:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome
        return "ok"

    tools.behaviour["http.get"] = flaky
    async with Scheduler(registry, invoker=tools) as scheduler:
        job = await scheduler.schedule_cron(
            "* * * * *",
            app_id=APP,
            action_type="tool_call",
            tool_name="http.get",
            output_channel="rec",
        )
        await clock.advance(60)
        failed = await job_state(scheduler, job.job_id)
        await clock.advance(60)
        twice = await job_state(scheduler, job.job_id)
        await clock.advance(60)
        healed = await job_state(scheduler, job.job_id)
    first, second, third = recorded(registry)
    assert first.message == "Scheduled tool call http.get failed: ValueError: HTTP 503"
    assert first.priority is Priority.HIGH
    assert first.metadata["error"] is True
    assert first.structured_data["error"] == "ValueError: HTTP 503"
    assert second.message.endswith("KeyError: 'x'")
    assert third.message == "ok"
    assert (failed.status, failed.last_error, failed.consecutive_failures) == (
        JobStatus.ACTIVE,
        "ValueError: HTTP 503",
        1,
    )
    assert (twice.consecutive_failures, twice.failure_count) == (2, 2)
    assert (healed.consecutive_failures, healed.failure_count, healed.last_error) == (0, 2, None)
    assert healed.run_count == 3


async def test_a_failing_one_shot_ends_failed(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    async def broken(params: Mapping[str, Any]) -> None:
        raise RuntimeError("disk full")

    tools.behaviour["backup"] = broken
    async with Scheduler(registry, invoker=tools) as scheduler:
        job = await scheduler.schedule_once(
            "in 1m", app_id=APP, action_type="tool_call", tool_name="backup"
        )
        await clock.advance(60)
        done = await job_state(scheduler, job.job_id)
    assert (done.status, done.last_error, done.run_count) == (
        JobStatus.FAILED,
        "RuntimeError: disk full",
        1,
    )


async def test_one_failure_does_not_stop_the_others(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    async def broken(params: Mapping[str, Any]) -> None:
        raise RuntimeError("boom")

    tools.behaviour["broken"] = broken
    async with Scheduler(registry, invoker=tools) as scheduler:
        for name in ("a", "broken", "b"):
            await scheduler.schedule_once(
                "in 1m", app_id=APP, action_type="tool_call", tool_name=name, output_channel="rec"
            )
        await clock.advance(60)
        later = await scheduler.schedule_once(
            "in 1m", app_id=APP, prompt="still here", output_channel="rec"
        )
        await clock.advance(60)
        assert (await job_state(scheduler, later.job_id)).status is JobStatus.COMPLETED
    messages = sorted(p.message for p in recorded(registry))
    assert len(messages) == 4
    assert "Scheduled tool call broken failed: RuntimeError: boom" in messages
    assert "still here" in messages


async def test_a_slow_job_does_not_delay_the_others(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    release = anyio.Event()

    async def slow(params: Mapping[str, Any]) -> str:
        await release.wait()
        return "finally"

    tools.behaviour["slow"] = slow
    async with Scheduler(registry, invoker=tools) as scheduler:
        slow_job = await scheduler.schedule_once(
            "in 1m", app_id=APP, action_type="tool_call", tool_name="slow", output_channel="rec"
        )
        for minutes in (1, 2, 3):
            await scheduler.schedule_once(
                timedelta(minutes=minutes), app_id=APP, prompt=f"at {minutes}", output_channel="rec"
            )
        await clock.advance(180)
        assert [p.message for p in recorded(registry)] == ["at 1", "at 2", "at 3"]
        assert [p.metadata["timestamp"] for p in recorded(registry)] == [
            "2026-03-13T15:31:00Z",
            "2026-03-13T15:32:00Z",
            "2026-03-13T15:33:00Z",
        ]
        assert (await job_state(scheduler, slow_job.job_id)).run_count == 0
        release.set()
        await eventually(lambda: len(recorded(registry)) == 4)
    assert recorded(registry)[-1].message == "finally"


async def test_runs_are_concurrent_up_to_the_limit(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    running = 0
    most = 0
    gate = anyio.Event()

    async def busy(params: Mapping[str, Any]) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await gate.wait()
        running -= 1

    tools.behaviour["busy"] = busy
    async with Scheduler(registry, invoker=tools, max_concurrent=3) as scheduler:
        jobs = [
            await scheduler.schedule_once(
                "in 1m", app_id=APP, action_type="tool_call", tool_name="busy", output_channel="rec"
            )
            for _ in range(7)
        ]
        await clock.advance(60)
        assert (running, most) == (3, 3)
        gate.set()
        await eventually(lambda: len(recorded(registry)) == 7)
        states = [await job_state(scheduler, job.job_id) for job in jobs]
    assert most == 3
    assert {job.status for job in states} == {JobStatus.COMPLETED}


async def test_an_action_that_overruns_fire_timeout_is_reported(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    async def hangs(params: Mapping[str, Any]) -> None:
        await anyio.sleep_forever()

    tools.behaviour["hangs"] = hangs
    async with Scheduler(registry, invoker=tools, fire_timeout=0.05, lease_seconds=10) as scheduler:
        job = await scheduler.schedule_once(
            "in 1m", app_id=APP, action_type="tool_call", tool_name="hangs", output_channel="rec"
        )
        await clock.advance(60)
        await eventually(lambda: len(recorded(registry)) == 1)
        await eventually(lambda: job.job_id not in scheduler._runner.firing)
        done = await job_state(scheduler, job.job_id)
    [payload] = recorded(registry)
    assert (
        payload.message
        == "Scheduled tool call hangs failed: the action did not finish within 0.05 s"
    )
    assert (done.status, done.last_error) == (
        JobStatus.FAILED,
        "the action did not finish within 0.05 s",
    )


async def test_max_runs_completes_the_job(registry: ChannelRegistry, clock: FakeClock) -> None:
    async with Scheduler(registry) as scheduler:
        job = await scheduler.schedule_cron(
            "*/10 * * * *", app_id=APP, prompt="tick", max_runs=3, output_channel="rec"
        )
        await clock.advance(timedelta(hours=2))
        done = await job_state(scheduler, job.job_id)
    assert [p.metadata["run_count"] for p in recorded(registry)] == [1, 2, 3]
    assert [p.metadata["timestamp"][11:16] for p in recorded(registry)] == [
        "15:40",
        "15:50",
        "16:00",
    ]
    assert (done.status, done.run_count, done.next_run_at) == (JobStatus.COMPLETED, 3, None)
    assert done.finished_at == T0.replace(hour=16, minute=0)


async def test_interval_job_runs_on_its_grid(registry: ChannelRegistry, clock: FakeClock) -> None:
    async with Scheduler(registry) as scheduler:
        await scheduler.schedule_interval(90, app_id=APP, prompt="tick", output_channel="rec")
        await clock.advance(timedelta(minutes=5))
    assert [p.metadata["timestamp"][14:19] for p in recorded(registry)] == [
        "31:30",
        "33:00",
        "34:30",
    ]


async def test_results_are_made_safe_to_deliver(
    registry: ChannelRegistry, clock: FakeClock, tools: Tools
) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    results: list[Any] = ["x" * 20_000, {"when": T0, "nan": float("nan")}, Opaque(), None, b"bytes"]

    async def returns(params: Mapping[str, Any]) -> Any:
        return results.pop(0)

    tools.behaviour["t"] = returns
    async with Scheduler(registry, invoker=tools) as scheduler:
        for _ in range(5):
            await scheduler.schedule_once(
                "in 1m", app_id=APP, action_type="tool_call", tool_name="t", output_channel="rec"
            )
        await clock.advance(60)
    payloads = recorded(registry)
    assert len(payloads) == 5
    long = next(p for p in payloads if p.message.startswith("xxx"))
    assert len(long.message) == 10_000
    assert long.message.endswith("… (truncated)")
    assert any(
        p.structured_data["result"] == {"when": "2026-03-13 15:30:00+00:00", "nan": "nan"}
        for p in payloads
    )
    assert any(p.structured_data["result"] == "<Opaque>" for p in payloads)
    assert any(p.message == "t returned nothing" for p in payloads)
    assert any(p.message == "bytes" for p in payloads)


async def test_a_channel_removed_by_a_redeploy_falls_back_and_the_run_counts(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    async with Scheduler(registry) as scheduler, registry.subscribe(APP) as inbox:
        job = await scheduler.remember("x", "in 1m", app_id=APP, output_channel="rec")
        # The app is redeployed without "rec": not an error at fire time.
        await registry.deploy_app(APP, {})
        await clock.advance(60)
        note = await inbox.receive()
        done = await job_state(scheduler, job.job_id)
    assert note.payload.message == "x"
    assert note.payload.metadata["job_id"] == job.job_id
    assert (done.status, done.last_error) == (JobStatus.COMPLETED, None)


async def test_a_failed_delivery_is_recorded_but_is_not_a_job_failure(
    clock: FakeClock,
) -> None:
    from tests.helpers import ScriptedChannel, fail

    async with ChannelRegistry(clock=clock, load_plugins=False) as registry:
        registry.register_type(ScriptedChannel)
        await registry.deploy_app(
            APP,
            {
                "bad": {
                    "type": "scripted",
                    "config": {"script": [fail("HTTP 500", retryable=False)]},
                    "fallback": None,
                }
            },
        )
        async with Scheduler(registry) as scheduler:
            job = await scheduler.remember("x", "in 1m", app_id=APP, output_channel="bad")
            await clock.advance(60)
            done = await job_state(scheduler, job.job_id)
    assert done.status is JobStatus.COMPLETED
    assert done.failure_count == 0
    assert done.last_error == "delivery through bad failed: HTTP 500"


async def test_two_schedulers_on_one_store_fire_each_job_once(
    clock: FakeClock, registry: ChannelRegistry
) -> None:
    store = MemoryStore()
    async with Scheduler(registry, store=store) as one, Scheduler(registry, store=store) as two:
        for n in range(20):
            await (one if n % 2 else two).schedule_once(
                timedelta(seconds=n % 4), app_id=APP, prompt=f"job {n}", output_channel="rec"
            )
        await clock.advance(10)
    assert sorted(p.message for p in recorded(registry)) == sorted(f"job {n}" for n in range(20))
