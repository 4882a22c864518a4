"""Creating jobs: accepted forms of ``when``, defaults, and refusals that create nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from digitorn_notify import (
    ChannelRegistry,
    ConfigError,
    CronSchedule,
    FakeClock,
    IntervalSchedule,
    MemoryStore,
    OneShot,
    TimeExpressionError,
)
from digitorn_notify.errors import InvalidJobError, NotifyError
from digitorn_notify.scheduler import ActionType, JobStatus, Scheduler
from tests.scheduler.conftest import APP, T0, Tools

pytestmark = pytest.mark.anyio


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def scheduler(registry: ChannelRegistry, store: MemoryStore, tools: Tools) -> Scheduler:
    # Not started: creating jobs only needs the store.
    async def sink(*args: Any) -> None:
        return None

    return Scheduler(registry, store=store, invoker=tools, prompt_sink=sink)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("in 5m", T0 + timedelta(minutes=5)),
        ("dans 30 minutes", T0 + timedelta(minutes=30)),
        ("tomorrow at 9am", datetime(2026, 3, 14, 9, tzinfo=UTC)),
        ("2026-03-14T09:00:00Z", datetime(2026, 3, 14, 9, tzinfo=UTC)),
        (datetime(2026, 3, 14, 10, tzinfo=UTC).astimezone(), datetime(2026, 3, 14, 10, tzinfo=UTC)),
        (timedelta(hours=2), T0 + timedelta(hours=2)),
        (timedelta(0), T0),
        (OneShot(T0 + timedelta(days=1)), T0 + timedelta(days=1)),
        (T0 - timedelta(milliseconds=500), T0 - timedelta(milliseconds=500)),
    ],
)
async def test_schedule_once_accepts(scheduler: Scheduler, when: Any, expected: datetime) -> None:
    job = await scheduler.schedule_once(when, app_id=APP, prompt="hello")
    assert job.schedule == OneShot(expected)
    assert job.next_run_at == expected
    assert job.status is JobStatus.ACTIVE
    assert job.created_at == T0
    assert job.action_type is ActionType.NOTIFICATION
    assert job.output_channel == "llm_notification"
    assert len(job.job_id) == 12
    assert await scheduler.status(job.job_id) == job  # persisted before returning


async def test_time_expressions_are_read_in_the_job_zone(scheduler: Scheduler) -> None:
    paris = await scheduler.schedule_once(
        "tomorrow at 9am", app_id=APP, prompt="p", timezone="Europe/Paris"
    )
    assert paris.next_run_at == datetime(2026, 3, 14, 8, tzinfo=UTC)
    cron = await scheduler.schedule_cron(
        "every day at 9am", app_id=APP, prompt="p", timezone="America/New_York"
    )
    assert cron.schedule == CronSchedule("0 9 * * *", "America/New_York")
    assert cron.next_run_at == datetime(2026, 3, 14, 13, tzinfo=UTC)  # EDT since 8 March


async def test_scheduler_zone_is_the_default(registry: ChannelRegistry) -> None:
    scheduler = Scheduler(registry, timezone="Europe/Paris")
    job = await scheduler.schedule_cron("tous les lundis à 10h", app_id=APP, prompt="p")
    assert job.schedule == CronSchedule("0 10 * * 1", "Europe/Paris")


async def test_schedule_cron_accepts_cron_text_and_parsed_schedules(scheduler: Scheduler) -> None:
    job = await scheduler.schedule_cron(
        "*/5 * * * *",
        app_id=APP,
        action_type="tool_call",
        tool_name="http.get",
        tool_params={"url": "https://api.example.com/health"},
        label="API health check",
        max_runs=100,
        output_channel="ops_webhook",
    )
    assert job.to_response() == {
        "job_id": job.job_id,
        "schedule_type": "cron",
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "next_run_at": "2026-03-13T15:35:00Z",
        "action_type": "tool_call",
        "tool_name": "http.get",
        "label": "API health check",
        "output_channel": "ops_webhook",
        "max_runs": 100,
        "status": "active",
    }
    every_90 = await scheduler.schedule_cron("every 90 minutes", app_id=APP, prompt="p")
    assert isinstance(every_90.schedule, IntervalSchedule)
    assert every_90.schedule_type == "interval"
    given = CronSchedule("0 9 * * *", "Europe/Paris")
    assert (await scheduler.schedule_cron(given, app_id=APP, prompt="p")).schedule == given


async def test_schedule_interval(scheduler: Scheduler) -> None:
    job = await scheduler.schedule_interval(90, app_id=APP, prompt="p")
    assert job.schedule == IntervalSchedule(timedelta(seconds=90), T0 + timedelta(seconds=90))
    assert job.next_run_at == T0 + timedelta(seconds=90)
    start = T0 + timedelta(hours=1)
    daily = await scheduler.schedule_interval(
        timedelta(days=2), app_id=APP, prompt="p", start=start, timezone="Europe/Paris"
    )
    assert daily.next_run_at == start
    assert daily.timezone == "Europe/Paris"


async def test_remember_one_off_and_recurring(scheduler: Scheduler) -> None:
    job = await scheduler.remember(
        "Check the deployment status and report to the team",
        "tomorrow at 9am",
        app_id=APP,
        session_id="s1",
    )
    assert job.action_type is ActionType.NOTIFICATION
    assert job.prompt == "Check the deployment status and report to the team"
    assert job.label == job.prompt
    assert job.session_id == "s1"
    assert job.schedule_type == "once"
    weekly = await scheduler.remember(
        "x " * 80, "every monday at 10am", app_id=APP, action="llm_prompt"
    )
    assert weekly.action_type is ActionType.LLM_PROMPT
    assert weekly.schedule_type == "cron"
    assert len(weekly.label) == 100
    assert weekly.label.endswith("…")


async def test_default_channel_per_app(registry: ChannelRegistry) -> None:
    scheduler = Scheduler(registry, default_channel={APP: "slack_alerts"})
    assert (await scheduler.remember("a", "in 5m", app_id=APP)).output_channel == "slack_alerts"
    assert (await scheduler.remember("a", "in 5m", app_id="other")).output_channel == (
        "llm_notification"
    )
    everywhere = Scheduler(registry, default_channel="audit")
    assert (await everywhere.remember("a", "in 5m", app_id="x")).output_channel == "audit"


async def test_job_ids_can_be_given_and_replaced(scheduler: Scheduler, store: MemoryStore) -> None:
    first = await scheduler.schedule_cron(
        "0 9 * * *", app_id=APP, prompt="v1", job_id="daily-report"
    )
    assert first.job_id == "daily-report"
    with pytest.raises(InvalidJobError, match="already exists; pass replace_existing=True"):
        await scheduler.schedule_cron("0 9 * * *", app_id=APP, prompt="v2", job_id="daily-report")
    assert (await scheduler.status("daily-report")).prompt == "v1"  # type: ignore[union-attr]
    second = await scheduler.schedule_cron(
        "0 10 * * *", app_id=APP, prompt="v2", job_id="daily-report", replace_existing=True
    )
    assert await scheduler.status("daily-report") == second
    with pytest.raises(InvalidJobError, match="belongs to another app"):
        await scheduler.schedule_cron(
            "0 9 * * *", app_id="other", prompt="x", job_id="daily-report", replace_existing=True
        )
    assert len(await store.list_jobs()) == 1


REFUSALS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    (
        "once",
        {"action_type": "shell"},
        InvalidJobError,
        "action_type 'shell' is not one of: tool_call, llm_prompt, notification",
    ),
    (
        "once",
        {"action_type": "tool_call", "prompt": ""},
        InvalidJobError,
        "a tool_call job needs tool_name",
    ),
    (
        "once",
        {"tool_name": "http.get"},
        InvalidJobError,
        "tool_name only applies to tool_call jobs",
    ),
    ("once", {"prompt": ""}, InvalidJobError, "a notification job needs prompt"),
    (
        "once",
        {"action_type": "llm_prompt", "prompt": "  "},
        InvalidJobError,
        "a llm_prompt job needs prompt",
    ),
    ("once", {"when": "yesterday at 9am"}, TimeExpressionError, "yesterday"),
    ("once", {"when": T0 - timedelta(minutes=1)}, InvalidJobError, "is already past"),
    ("once", {"when": "2026-03-13T09:00:00Z"}, TimeExpressionError, "already past"),
    ("once", {"when": datetime(2026, 3, 14, 9)}, InvalidJobError, "has no timezone"),
    ("once", {"when": timedelta(seconds=-1)}, InvalidJobError, "must not be negative"),
    ("once", {"when": 300}, InvalidJobError, "when must be a time expression"),
    ("once", {"when": "every day at 9am"}, InvalidJobError, "is recurring; use schedule_cron"),
    ("once", {"app_id": ""}, InvalidJobError, "app_id '' is not valid"),
    ("once", {"job_id": "../etc"}, InvalidJobError, "job_id '../etc' is not valid"),
    (
        "once",
        {"output_config": {"when": T0}},
        InvalidJobError,
        "output_config must be JSON-serialisable",
    ),
    ("once", {"output_config": ["to"]}, InvalidJobError, "output_config must be a mapping"),
    ("once", {"misfire_grace": -1}, InvalidJobError, "misfire_grace must be None"),
    ("once", {"output_channel": ""}, InvalidJobError, "output_channel must be a channel name"),
    ("once", {"timezone": "Mars/Base"}, TimeExpressionError, "unknown time zone 'Mars/Base'"),
    ("cron", {"cron": "61 * * * *"}, TimeExpressionError, "minute field '61'"),
    ("cron", {"cron": "0 9 * *"}, TimeExpressionError, "exactly 5 fields"),
    ("cron", {"cron": "0 0 31 2 *"}, TimeExpressionError, "never fires"),
    ("cron", {"cron": "in 5m"}, InvalidJobError, "is a one-off time; use schedule_once"),
    ("cron", {"max_runs": -1}, InvalidJobError, "max_runs must be an int >= 0"),
    ("cron", {"max_runs": 1.5}, InvalidJobError, "max_runs must be an int >= 0"),
    ("cron", {"max_runs": True}, InvalidJobError, "max_runs must be an int >= 0"),
    ("interval", {"every": 0}, InvalidJobError, "every must be positive"),
    ("interval", {"every": "5m"}, InvalidJobError, "every must be a timedelta or a number"),
    (
        "interval",
        {"start": datetime(2026, 3, 14)},
        InvalidJobError,
        "start must be an aware datetime",
    ),
]


@pytest.mark.parametrize(("kind", "changes", "error", "message"), REFUSALS)
async def test_invalid_requests_are_refused_and_create_nothing(
    scheduler: Scheduler,
    store: MemoryStore,
    kind: str,
    changes: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    arguments: dict[str, Any] = {"app_id": APP, "prompt": "hello", **changes}
    methods: dict[str, tuple[Callable[..., Awaitable[Any]], Any]] = {
        "once": (scheduler.schedule_once, arguments.pop("when", "in 5m")),
        "cron": (scheduler.schedule_cron, arguments.pop("cron", "0 9 * * *")),
        "interval": (scheduler.schedule_interval, arguments.pop("every", 60)),
    }
    method, first = methods[kind]
    with pytest.raises(error) as caught:
        await method(first, **arguments)
    assert message in str(caught.value)
    assert isinstance(caught.value, NotifyError)
    assert isinstance(caught.value, ValueError)
    assert await store.list_jobs() == []


async def test_remember_refuses_other_actions(scheduler: Scheduler, store: MemoryStore) -> None:
    with pytest.raises(InvalidJobError, match="action 'tool_call' is not one of"):
        await scheduler.remember("x", "in 5m", app_id=APP, action="tool_call")
    with pytest.raises(TimeExpressionError):
        await scheduler.remember("x", "someday", app_id=APP)
    assert await store.list_jobs() == []


async def test_actions_need_the_host_side_they_use(registry: ChannelRegistry) -> None:
    bare = Scheduler(registry)
    with pytest.raises(InvalidJobError, match="no ActionInvoker"):
        await bare.schedule_once("in 5m", app_id=APP, action_type="tool_call", tool_name="t")
    with pytest.raises(InvalidJobError, match="no PromptSink"):
        await bare.schedule_once("in 5m", app_id=APP, action_type="llm_prompt", prompt="p")


@pytest.mark.parametrize(
    ("arguments", "path"),
    [
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_concurrent": 2.0}, "max_concurrent"),
        ({"fire_timeout": 0}, "fire_timeout"),
        ({"fire_timeout": 60, "lease_seconds": 60}, "lease_seconds"),
        ({"retention": timedelta(days=-1)}, "retention"),
        ({"sync_interval": 0}, "sync_interval"),
    ],
)
async def test_bad_scheduler_settings(
    registry: ChannelRegistry, arguments: dict[str, Any], path: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Scheduler(registry, **arguments)
    assert caught.value.path == path


async def test_bad_scheduler_zone() -> None:
    with pytest.raises(TimeExpressionError, match="unknown time zone"):
        Scheduler(ChannelRegistry(load_plugins=False), timezone="Europe/Pariss")


async def test_clock_defaults_to_the_registry_clock(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    assert Scheduler(registry).clock is clock
