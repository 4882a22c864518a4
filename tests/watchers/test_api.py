"""The engine's requests: shapes of the answers, validation, policy, lookups."""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest

from digitorn_notify import ChannelRegistry, ConfigError, FakeClock, MemoryStore, Policy
from digitorn_notify.watchers import (
    ToolNotAllowedError,
    WatcherEngine,
    WatcherError,
    WatcherNotFoundError,
)
from tests.watchers.support import APP, harness

pytestmark = pytest.mark.anyio


async def test_start_answers_in_the_spec_shape_with_the_hint() -> None:
    async with harness() as h:
        started = (
            await h.engine.start(
                "http.get",
                {"url": "https://api.example.com/health"},
                interval=30,
                label="API health check",
                notify_when="on_error",
                app_id=APP,
            )
        ).to_dict()
        watcher_id = started.pop("watcher_id")
        assert len(watcher_id) == 12
        assert int(watcher_id, 16) >= 0
        assert started == {
            "tool_name": "http.get",
            "label": "API health check",
            "status": "running",
            "interval": 30,
            "notify_when": "on_error",
            "hint": "Watcher 'API health check' started. Checking http.get every 30s. "
            "You'll be notified via 'on_error' strategy.",
        }


async def test_defaults_and_a_fractional_interval() -> None:
    async with harness() as h:
        started = (await h.engine.start("db.count", interval=7.5, app_id=APP)).to_dict()
        assert started["interval"] == 7.5
        assert started["notify_when"] == "on_change"
        assert started["label"] == ""
        assert started["hint"] == (
            "Watcher 'db.count' started. Checking db.count every 7.5s. "
            "You'll be notified via 'on_change' strategy."
        )
        status = (await h.engine.status(started["watcher_id"], app_id=APP)).to_dict()
        assert status["params"] == {}
        assert status["notify_config"] == {}
        assert status["output_channel"] == "inbox"  # the engine's default channel


@pytest.mark.parametrize(
    ("arguments", "path", "fragment"),
    [
        ({"interval": 4.9}, "interval", "between 5 and 3600"),
        ({"interval": 3600.5}, "interval", "between 5 and 3600"),
        ({"interval": True}, "interval", "expected a number, got bool"),
        ({"interval": "30"}, "interval", "expected a number, got str"),
        ({"interval": math.nan}, "interval", "expected a finite number, got nan"),
        ({"tool_name": ""}, "tool_name", "1 to 200 characters"),
        ({"tool_name": "http get"}, "tool_name", "without spaces"),
        ({"tool_name": 42}, "tool_name", "expected a string, got int"),
        ({"label": "x" * 501}, "label", "got 501"),
        ({"label": None}, "label", "expected a string, got null"),
        (
            {"notify_when": "on_chnage"},
            "notify_when",
            "unknown strategy 'on_chnage' (did you mean 'on_change'?); accepted: always,"
            " on_change, on_error, on_threshold, summary",
        ),
        ({"notify_when": "sometimes"}, "notify_when", "accepted: always, on_change"),
        ({"notify_config": ["batch_size"]}, "notify_config", "expected a mapping, got list"),
        ({"params": {"when": object()}}, "params", "JSON values"),
        ({"params": "url=x"}, "params", "expected a mapping, got str"),
        ({"params": {"n": math.inf}}, "params", "JSON values"),
        ({"output_config": {"to": {1, 2}}}, "output_config", "JSON values"),
        (
            {"output_channel": "inbx"},
            "output_channel",
            "unknown channel 'inbx' (did you mean 'inbox'?); accepted: ",
        ),
        ({"output_channel": ""}, "output_channel", "must not be empty"),
        ({"session_id": 7}, "session_id", "expected a string, got int"),
        ({"session_id": " "}, "session_id", "must not be empty"),
        ({"watcher_id": "../x"}, "watcher_id", "'../x' is not a valid id"),
        ({"watcher_id": 12}, "watcher_id", "expected a string, got int"),
        ({"replace_existing": "yes"}, "replace_existing", "expected true or false, got str"),
        (
            {"notify_when": "summary", "notify_config": {"batch": 5}},
            "notify_config.batch",
            "unknown option 'batch' (did you mean 'batch_size'?); accepted: batch_size"
            " (for summary)",
        ),
    ],
)
async def test_bad_arguments_are_refused_naming_the_argument(
    arguments: dict[str, Any], path: str, fragment: str
) -> None:
    async with harness() as h:
        call: dict[str, Any] = {"tool_name": "http.get", **arguments}
        with pytest.raises(ConfigError) as caught:
            await h.engine.start(**call, app_id=APP)
        assert caught.value.path == path
        assert fragment in caught.value.reason
        # Nothing was created, nothing was checked.
        assert (await h.engine.list(app_id=APP)).total == 0
        assert await h.store.list_watchers() == []
        await h.settle()
        assert h.tool.calls == []


async def test_unknown_channel_lists_what_the_app_has() -> None:
    async with harness() as h:
        with pytest.raises(
            ConfigError, match=r"^output_channel: unknown channel 'nope'; accepted: "
        ) as caught:
            await h.engine.start("http.get", output_channel="nope", app_id=APP)
        known = caught.value.reason.rpartition("accepted: ")[2].split(", ")
        assert {"inbox", "llm_notification", "log", "sms"} <= set(known)
        assert known == sorted(known)
        # A type that needs config is not a channel of its own; another app's is not ours.
        with pytest.raises(ConfigError, match="unknown channel 'webhook'"):
            await h.engine.start("http.get", output_channel="webhook", app_id=APP)
        with pytest.raises(ConfigError, match="unknown channel 'inbox'"):
            await h.engine.start("http.get", output_channel="inbox", app_id="other")
        # Instances and types usable without config are both fine.
        await h.engine.start("http.get", output_channel="sms", app_id=APP)
        await h.engine.start("http.get", output_channel="log", app_id=APP)


@pytest.mark.parametrize(
    ("decision", "fragment"),
    [
        (Policy.BLOCK, "rates it BLOCK"),
        (Policy.APPROVE, "rates it APPROVE"),
        ("block", "rates it BLOCK"),
        ("approve", "rates it APPROVE"),
        ("maybe", "answered 'maybe', not AUTO"),
    ],
)
async def test_only_auto_tools_can_be_watched(decision: Any, fragment: str) -> None:
    async with harness(guard=lambda tool: decision if tool == "shell.run" else Policy.AUTO) as h:
        with pytest.raises(ToolNotAllowedError, match=fragment) as caught:
            await h.engine.start("shell.run", {"cmd": "uptime"}, app_id=APP)
        assert "only tools the host's policy rates AUTO can be watched" in str(caught.value)
        assert isinstance(caught.value, PermissionError)
        assert isinstance(caught.value, WatcherError)
        assert await h.store.list_watchers() == []
        await h.engine.start("http.get", app_id=APP)  # others are fine


async def test_a_guard_that_raises_refuses_without_leaking_its_message() -> None:
    def guard(tool: str) -> Policy:
        raise RuntimeError("token=s3cr3t")

    async with harness(guard=guard) as h:
        with pytest.raises(ToolNotAllowedError) as caught:
            await h.engine.start("http.get", app_id=APP)
        assert "policy guard failed (RuntimeError)" in str(caught.value)
        assert "s3cr3t" not in str(caught.value)


async def test_auto_as_a_string_is_accepted() -> None:
    async with harness(guard=lambda tool: "auto") as h:
        await h.engine.start("http.get", app_id=APP)


async def test_requests_need_the_engine_running() -> None:
    async def tool(name: str, params: Any) -> None:
        return None

    engine = WatcherEngine(ChannelRegistry(load_plugins=False), tool)
    with pytest.raises(RuntimeError, match="use `async with engine:`"):
        await engine.start("http.get", app_id=APP)
    with pytest.raises(RuntimeError, match="not running"):
        await engine.restore(app_id=APP)


def test_engine_options_are_validated() -> None:
    registry = ChannelRegistry(load_plugins=False)

    async def tool(name: str, params: Any) -> None:
        return None

    with pytest.raises(ValueError, match="check_timeout must be a positive number"):
        WatcherEngine(registry, tool, check_timeout=0)
    with pytest.raises(ValueError, match="max_concurrent_checks must be a whole number"):
        WatcherEngine(registry, tool, max_concurrent_checks=0)
    with pytest.raises(ValueError, match="save_every"):
        WatcherEngine(registry, tool, save_every=True)
    with pytest.raises(TypeError, match="async function"):
        WatcherEngine(registry, lambda name, params: None)  # type: ignore[arg-type, return-value]


async def test_an_engine_cannot_be_entered_twice() -> None:
    async with harness() as h:
        with pytest.raises(RuntimeError, match="already running"):
            await h.engine.__aenter__()


async def test_unknown_ids_and_other_apps_are_not_found() -> None:
    async with harness() as h:
        mine = (await h.engine.start("http.get", app_id=APP)).watcher_id
        theirs = (await h.engine.start("http.get", app_id="other")).watcher_id
        for call in (
            h.engine.status,
            h.engine.pause,
            h.engine.resume,
            h.engine.history,
            h.engine.stop,
        ):
            with pytest.raises(WatcherNotFoundError, match="no watcher 'nope' in app 'app'"):
                await call("nope", app_id=APP)  # type: ignore[operator]
            with pytest.raises(WatcherNotFoundError, match=f"no watcher '{theirs}' in app 'app'"):
                await call(theirs, app_id=APP)  # type: ignore[operator]
            with pytest.raises(TypeError, match="app_id"):
                await call(mine)  # type: ignore[operator,call-arg]  # app_id is required on every call
        assert isinstance(WatcherNotFoundError("x"), LookupError)
        # With the right app, found; one app never sees another's watchers.
        assert (await h.engine.status(theirs, app_id="other")).app_id == "other"
        assert (await h.engine.status(mine, app_id=APP)).watcher_id == mine
        assert [w.watcher_id for w in await h.engine.list(app_id=APP)] == [mine]
        assert [w.watcher_id for w in await h.engine.list(app_id="other")] == [theirs]


async def test_list_shows_running_watchers_first_then_by_age() -> None:
    async with harness() as h:
        first = (await h.engine.start("a.one", label="first", app_id=APP)).watcher_id
        await h.advance(1)
        second = (await h.engine.start("a.two", label="second", app_id=APP)).watcher_id
        await h.advance(1)
        third = (await h.engine.start("a.three", label="third", app_id=APP)).watcher_id
        await h.engine.pause(first, app_id=APP)
        listed = (await h.engine.list(app_id=APP)).to_dict()
        assert [w["watcher_id"] for w in listed["watchers"]] == [second, third, first]
        assert (listed["total"], listed["running"], listed["paused"]) == (3, 2, 1)
        assert listed["watchers"][2] == {
            "watcher_id": first,
            "tool_name": "a.one",
            "label": "first",
            "status": "paused",
            "interval": 30,
            "notify_when": "on_change",
            "check_count": 1,
            "notification_count": 1,
            "error_count": 0,
            "last_check_at": "2026-01-01T00:00:00Z",
        }


async def test_pause_resume_stop_answers() -> None:
    async with harness() as h:
        watcher_id = (await h.engine.start("http.get", label="API", app_id=APP)).watcher_id
        await h.settle()
        paused = (await h.engine.pause(watcher_id, app_id=APP)).to_dict()
        assert paused == {
            "watcher_id": watcher_id,
            "tool_name": "http.get",
            "label": "API",
            "status": "paused",
            "previous_status": "running",
            "check_count": 1,
            "notification_count": 1,
            "hint": "Watcher 'API' paused. Checks are skipped; call watch_resume to restart them.",
        }
        again = (await h.engine.pause(watcher_id, app_id=APP)).to_dict()
        assert again["previous_status"] == "paused"
        assert again["hint"].startswith("Watcher 'API' already paused.")
        resumed = (await h.engine.resume(watcher_id, app_id=APP)).to_dict()
        assert resumed["status"] == "running"
        assert resumed["hint"] == "Watcher 'API' running. Next check at 2026-01-01T00:00:30Z."
        assert (await h.engine.resume(watcher_id, app_id=APP)).hint.startswith(
            "Watcher 'API' already running."
        )
        stopped = (await h.engine.stop(watcher_id, app_id=APP)).to_dict()
        assert stopped["status"] == "stopped"
        assert stopped["previous_status"] == "running"
        assert stopped["hint"] == "Watcher 'API' stopped. It was removed; its history is gone."
        with pytest.raises(WatcherNotFoundError):
            await h.engine.status(watcher_id, app_id=APP)


async def test_status_has_metrics_last_result_history_and_configuration() -> None:
    async with harness({"code": 200}, ConnectionError("Connection refused"), {"code": 201}) as h:
        watcher_id = (
            await h.engine.start(
                "http.get",
                {"url": "http://127.0.0.1/x"},
                interval=10,
                label="API",
                notify_when="on_error",
                notify_config={"repeat_every": 3},
                output_channel="sms",
                output_config={"to_number": "+33"},
                session_id="s-1",
                app_id=APP,
            )
        ).watcher_id
        await h.advance(10, times=2)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        recent = status.pop("recent_history")
        assert status == {
            "watcher_id": watcher_id,
            "app_id": APP,
            "tool_name": "http.get",
            "label": "API",
            "status": "running",
            "interval": 10,
            "notify_when": "on_error",
            "notify_config": {"repeat_every": 3},
            "params": {"url": "http://127.0.0.1/x"},
            "output_channel": "sms",
            "output_config": {"to_number": "+33"},
            "session_id": "s-1",
            "created_at": "2026-01-01T00:00:00Z",
            "paused_at": None,
            "check_count": 3,
            "notification_count": 2,
            "error_count": 1,
            "consecutive_errors": 0,
            "skipped_checks": 0,
            "timeouts": 0,
            "crashes": 0,
            "last_check_at": "2026-01-01T00:00:20Z",
            "next_check_at": "2026-01-01T00:00:30Z",
            "mean_check_duration_ms": 0.0,
            "last_result": {"code": 201},
            "last_error": "Connection refused",
            "last_delivery_error": None,
            "last_crash": None,
            "check_running": False,
        }
        assert [(e["check"], e["ok"], e["notified"]) for e in recent] == [
            (1, True, False),
            (2, False, True),
            (3, True, True),
        ]
        assert recent[1]["error"] == "Connection refused"
        assert recent[2]["result"] == {"code": 201}


async def test_history_returns_the_newest_checks_oldest_first() -> None:
    counter = iter(range(1000))

    async def count() -> dict[str, int]:
        return {"n": next(counter)}

    async with harness(count) as h:
        # on_error: no notification, so no check waits (a fake clock steps fastest then).
        watcher_id = (
            await h.engine.start("db.count", interval=5, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.advance(5, times=119)  # 120 checks, the ring keeps 100
        history = (await h.engine.history(watcher_id, last_n=3, app_id=APP)).to_dict()
        assert history["check_count"] == 120
        assert history["count"] == 3
        assert [e["check"] for e in history["entries"]] == [118, 119, 120]
        assert [e["result"] for e in history["entries"]] == [{"n": 117}, {"n": 118}, {"n": 119}]
        assert history["entries"][0]["checked_at"] == "2026-01-01T00:09:45Z"
        assert (await h.engine.history(watcher_id, app_id=APP)).count == 10
        everything = (await h.engine.history(watcher_id, last_n=100, app_id=APP)).to_dict()
        assert [e["check"] for e in everything["entries"]] == list(range(21, 121))
        for bad in (0, 101, 2.5, True, "3"):
            with pytest.raises(ConfigError, match="between 1 and 100") as caught:
                await h.engine.history(watcher_id, last_n=bad, app_id=APP)  # type: ignore[arg-type]
            assert caught.value.path == "last_n"


async def test_the_callers_params_are_copied() -> None:
    async with harness() as h:
        params: dict[str, Any] = {"url": "http://127.0.0.1/a", "headers": {"X": "1"}}
        watcher_id = (await h.engine.start("http.get", params, app_id=APP)).watcher_id
        params["headers"]["X"] = "changed"
        await h.settle()
        assert h.tool.calls == [("http.get", {"url": "http://127.0.0.1/a", "headers": {"X": "1"}})]
        assert (await h.engine.status(watcher_id, app_id=APP)).to_dict()["params"]["headers"] == {
            "X": "1"
        }


async def test_the_default_store_and_clock() -> None:
    clock = FakeClock()
    registry = ChannelRegistry(clock=clock, load_plugins=False)

    async def tool(name: str, params: Any) -> int:
        return 1

    engine = WatcherEngine(registry, tool)
    assert isinstance(engine.store, MemoryStore)
    assert engine.clock is clock
    assert engine.registry is registry
    async with engine:
        await engine.start("x.y", app_id=APP)
        await clock.advance(0)
        assert engine.stats().checks == 1


async def test_racing_stop_and_pause_leave_the_watcher_stopped() -> None:
    async with harness() as h:
        watcher_id = (await h.engine.start("http.get", app_id=APP)).watcher_id
        outcomes: dict[str, Any] = {}

        async def attempt(name: str, call: Any) -> None:
            try:
                outcomes[name] = (await call(watcher_id, app_id=APP)).status
            except WatcherNotFoundError as exc:
                outcomes[name] = str(exc)

        async with anyio.create_task_group() as group:
            group.start_soon(attempt, "stop", h.engine.stop)
            group.start_soon(attempt, "stop again", h.engine.stop)
            group.start_soon(attempt, "pause", h.engine.pause)
        assert outcomes["stop"] == "stopped"
        assert outcomes["pause"] in ("paused", f"watcher {watcher_id!r} was stopped meanwhile")
        assert await h.store.list_watchers() == []
        assert (await h.engine.list(app_id=APP)).total == 0


async def test_reprs_show_no_parameters() -> None:
    async with harness() as h:
        watcher_id = (
            await h.engine.start("http.get", {"token": "s3cr3t-token"}, app_id=APP)
        ).watcher_id
        assert repr(h.engine) == "<WatcherEngine running watchers=1>"
        watcher = h.engine._runner.watchers[watcher_id]
        assert "s3cr3t" not in repr(watcher)
        assert repr(watcher) == f"<Watcher {watcher_id} app='app' tool='http.get' running checks=0>"
    assert repr(h.engine) == "<WatcherEngine stopped watchers=1>"
