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
from digitorn_notify.errors import InvalidJobError, NotifyError, SchedulerError
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
    assert await scheduler.status(job.job_id, app_id=APP) == job  # persisted before returning


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


async def test_schedule_cron_accepts_cron_text_and_parsed_schedules(
    scheduler: Scheduler, registry: ChannelRegistry
) -> None:
    await registry.deploy_app(
        APP, {"rec": {"type": "recording"}, "ops_webhook": {"type": "recording"}}
    )
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
    assert job.to_dict() == {
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
    # The same type as the watchers': a name, or a function of the app id (None: the
    # llm_notification default), read when the job is created.
    def per_app(app_id: str) -> str | None:
        return {APP: "slack_alerts"}.get(app_id)

    scheduler = Scheduler(registry, default_channel=per_app)
    assert (await scheduler.remember("a", "in 5m", app_id=APP)).output_channel == "slack_alerts"
    assert (await scheduler.remember("a", "in 5m", app_id="other")).output_channel == (
        "llm_notification"
    )
    everywhere = Scheduler(registry, default_channel="audit")
    assert (await everywhere.remember("a", "in 5m", app_id="x")).output_channel == "audit"

    def broken(app_id: str) -> str | None:
        raise RuntimeError("the host's lookup failed")

    fallback = Scheduler(registry, default_channel=broken)
    assert (await fallback.remember("a", "in 5m", app_id=APP)).output_channel == (
        "llm_notification"
    )


@pytest.mark.parametrize("default", [{APP: "rec"}, 3, "", None])
async def test_default_channel_is_a_name_or_a_function(
    registry: ChannelRegistry, default: Any
) -> None:
    with pytest.raises(ConfigError) as caught:
        Scheduler(registry, default_channel=default)
    assert caught.value.path == "default_channel"


async def test_an_output_channel_the_app_lacks_is_refused_at_creation(
    scheduler: Scheduler, store: MemoryStore
) -> None:
    # An agent that typed "slak" learns it at once, not at fire time.
    with pytest.raises(InvalidJobError) as caught:
        await scheduler.schedule_once("in 5m", app_id=APP, prompt="p", output_channel="rc")
    assert caught.value.path == "output_channel"
    assert caught.value.reason == (
        "unknown channel 'rc' (did you mean 'rec'?); accepted: llm_notification, log, rec,"
        " recording"
    )
    # Another app's channel is not this app's.
    with pytest.raises(InvalidJobError, match="unknown channel 'rec'"):
        await scheduler.schedule_cron("0 9 * * *", app_id="other", prompt="p", output_channel="rec")
    # A type id usable without config is a channel of every app; one that needs config is not.
    assert (
        await scheduler.remember("p", "in 5m", app_id=APP, output_channel="log")
    ).output_channel == "log"
    with pytest.raises(InvalidJobError, match="unknown channel 'webhook'"):
        await scheduler.remember("p", "in 5m", app_id=APP, output_channel="webhook")
    assert len(await store.list_jobs()) == 1


async def test_job_ids_can_be_given_and_replaced(scheduler: Scheduler, store: MemoryStore) -> None:
    first = await scheduler.schedule_cron(
        "0 9 * * *", app_id=APP, prompt="v1", job_id="daily-report"
    )
    assert first.job_id == "daily-report"
    with pytest.raises(InvalidJobError, match="already exists; pass replace_existing=True"):
        await scheduler.schedule_cron("0 9 * * *", app_id=APP, prompt="v2", job_id="daily-report")
    assert (await scheduler.status("daily-report", app_id=APP)).prompt == "v1"  # type: ignore[union-attr]
    second = await scheduler.schedule_cron(
        "0 10 * * *", app_id=APP, prompt="v2", job_id="daily-report", replace_existing=True
    )
    assert await scheduler.status("daily-report", app_id=APP) == second
    with pytest.raises(InvalidJobError, match="belongs to another app"):
        await scheduler.schedule_cron(
            "0 9 * * *", app_id="other", prompt="x", job_id="daily-report", replace_existing=True
        )
    assert len(await store.list_jobs()) == 1


REFUSALS: list[tuple[str, dict[str, Any], type[Exception], str, str]] = [
    (
        "once",
        {"action_type": "shell"},
        InvalidJobError,
        "action_type",
        "'shell' is not one of: 'tool_call', 'llm_prompt', 'notification'",
    ),
    (
        "once",
        {"action_type": "tool_call", "prompt": ""},
        InvalidJobError,
        "tool_name",
        "a tool_call job needs tool_name",
    ),
    (
        "once",
        {"tool_name": "http.get"},
        InvalidJobError,
        "tool_name",
        "only tool_call jobs take a tool_name, not notification jobs",
    ),
    ("once", {"prompt": ""}, InvalidJobError, "prompt", "a notification job needs prompt"),
    ("once", {"prompt": None}, InvalidJobError, "prompt", "expected a string, got null"),
    (
        "once",
        {"action_type": "llm_prompt", "prompt": "  "},
        InvalidJobError,
        "prompt",
        "a llm_prompt job needs prompt",
    ),
    ("once", {"when": "yesterday at 9am"}, TimeExpressionError, "when", "is already past"),
    ("once", {"when": "hier à 9h"}, TimeExpressionError, "when", "is already past"),
    ("once", {"when": "someday"}, TimeExpressionError, "when", "'someday' is not understood"),
    ("once", {"when": T0 - timedelta(minutes=1)}, InvalidJobError, "when", "is already past"),
    ("once", {"when": "2026-03-13T09:00:00Z"}, TimeExpressionError, "when", "already past"),
    ("once", {"when": datetime(2026, 3, 14, 9)}, InvalidJobError, "when", "has no timezone"),
    ("once", {"when": timedelta(seconds=-1)}, InvalidJobError, "when", "must not be negative"),
    ("once", {"when": 300}, InvalidJobError, "when", "expected a time expression (str)"),
    (
        "once",
        {"when": "every day at 9am"},
        InvalidJobError,
        "when",
        "is recurring; use schedule_cron",
    ),
    ("once", {"app_id": ""}, InvalidJobError, "app_id", "'' is not a valid id"),
    ("once", {"app_id": None}, InvalidJobError, "app_id", "expected a string, got null"),
    ("once", {"job_id": "../etc"}, InvalidJobError, "job_id", "'../etc' is not a valid id"),
    ("once", {"session_id": 7}, InvalidJobError, "session_id", "expected a string, got int"),
    ("once", {"label": ["x"]}, InvalidJobError, "label", "expected a string, got list"),
    (
        "once",
        {"output_config": {"when": T0}},
        InvalidJobError,
        "output_config",
        "must hold only JSON values",
    ),
    (
        "once",
        {"tool_params": {"x": float("nan")}},
        InvalidJobError,
        "tool_params",
        "must hold only JSON values",
    ),
    (
        "once",
        {"output_config": ["to"]},
        InvalidJobError,
        "output_config",
        "expected a mapping, got list",
    ),
    ("once", {"misfire_grace": -1}, InvalidJobError, "misfire_grace", "must be >= 0, got -1.0"),
    (
        "once",
        {"misfire_grace": True},
        InvalidJobError,
        "misfire_grace",
        "expected a number, got bool",
    ),
    (
        "once",
        {"misfire_grace": float("inf")},
        InvalidJobError,
        "misfire_grace",
        "expected a finite number, got inf",
    ),
    ("once", {"output_channel": ""}, InvalidJobError, "output_channel", "must not be empty"),
    (
        "once",
        {"timezone": "Mars/Base"},
        InvalidJobError,
        "timezone",
        "unknown time zone 'Mars/Base'",
    ),
    ("cron", {"cron": "61 * * * *"}, TimeExpressionError, "cron", "minute field '61'"),
    ("cron", {"cron": "0 9 * *"}, TimeExpressionError, "cron", "exactly 5 fields"),
    ("cron", {"cron": "0 0 31 2 *"}, TimeExpressionError, "cron", "never fires"),
    ("cron", {"cron": "in 5m"}, InvalidJobError, "cron", "is a one-off time; use schedule_once"),
    ("cron", {"max_runs": -1}, InvalidJobError, "max_runs", "must be >= 0, got -1"),
    ("cron", {"max_runs": 1.5}, InvalidJobError, "max_runs", "expected a whole number, got float"),
    ("cron", {"max_runs": True}, InvalidJobError, "max_runs", "expected a whole number, got bool"),
    ("interval", {"every": 0}, InvalidJobError, "every", "must be positive"),
    ("interval", {"every": "5m"}, InvalidJobError, "every", "expected a timedelta or a number"),
    ("interval", {"every": float("nan")}, InvalidJobError, "every", "expected a finite number"),
    (
        "interval",
        {"start": datetime(2026, 3, 14)},
        InvalidJobError,
        "start",
        "expected an aware datetime",
    ),
]


@pytest.mark.parametrize(("kind", "changes", "error", "path", "message"), REFUSALS)
async def test_invalid_requests_are_refused_and_create_nothing(
    scheduler: Scheduler,
    store: MemoryStore,
    kind: str,
    changes: dict[str, Any],
    error: type[Exception],
    path: str,
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
    # One error class for bad input, with the argument's path, like every component's.
    assert isinstance(caught.value, ConfigError)
    assert caught.value.path == path, str(caught.value)
    assert message in caught.value.reason
    assert str(caught.value).startswith(f"{path}: ")
    assert isinstance(caught.value, NotifyError)
    assert isinstance(caught.value, ValueError)
    assert await store.list_jobs() == []


def test_invalid_job_error_is_a_config_error_and_a_scheduler_error() -> None:
    error = InvalidJobError("must be >= 0", path="max_runs")
    assert isinstance(error, ConfigError)
    assert isinstance(error, SchedulerError)
    assert str(error) == "max_runs: must be >= 0"
    assert type(error.with_prefix("job")) is InvalidJobError


async def test_remember_refuses_other_actions(scheduler: Scheduler, store: MemoryStore) -> None:
    with pytest.raises(InvalidJobError, match=r"^action: unknown action 'tool_call'"):
        await scheduler.remember("x", "in 5m", app_id=APP, action="tool_call")
    with pytest.raises(TimeExpressionError) as caught:
        await scheduler.remember("x", "someday", app_id=APP)
    assert caught.value.path == "when"
    with pytest.raises(InvalidJobError, match=r"^what: expected a string"):
        await scheduler.remember(3, "in 5m", app_id=APP)  # type: ignore[arg-type]
    assert await store.list_jobs() == []


async def test_actions_need_the_host_side_they_use(registry: ChannelRegistry) -> None:
    bare = Scheduler(registry)
    with pytest.raises(InvalidJobError, match=r"^action_type: .*no ActionInvoker"):
        await bare.schedule_once("in 5m", app_id=APP, action_type="tool_call", tool_name="t")
    with pytest.raises(InvalidJobError, match=r"^action_type: .*no PromptSink"):
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
    with pytest.raises(TimeExpressionError, match=r"^timezone: unknown time zone"):
        Scheduler(ChannelRegistry(load_plugins=False), timezone="Europe/Pariss")


async def test_clock_defaults_to_the_registry_clock(
    registry: ChannelRegistry, clock: FakeClock
) -> None:
    assert Scheduler(registry).clock is clock
