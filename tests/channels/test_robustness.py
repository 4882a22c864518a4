"""The registry under cancellation, concurrency and misbehaving channels."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, ClassVar

import anyio
import anyio.lowlevel
import pytest

from digitorn_notify import (
    BufferedNotification,
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    DeliveryResult,
    FakeClock,
    MemoryStore,
    RetryPolicy,
)
from tests.helpers import RecordingChannel, ScriptedChannel, fail

pytestmark = pytest.mark.anyio

STOPPED: list[str] = []


class Tracked(RecordingChannel):
    """Records its stops in STOPPED; on_start waits for channel_config['start_delay']."""

    CHANNEL_ID: ClassVar[str] = "tracked"

    async def on_start(self) -> None:
        await anyio.sleep(float(self.channel_config.get("start_delay", 0)))
        await super().on_start()

    async def on_stop(self) -> None:
        await anyio.lowlevel.checkpoint()  # a real await, where a cancelled scope would strike
        STOPPED.append(f"{self.name}:{self.channel_config.get('version', 0)}")
        await super().on_stop()


class Pooled(RecordingChannel):
    """Needs on_start to have finished before it can deliver."""

    CHANNEL_ID: ClassVar[str] = "pooled"
    starts = 0

    async def on_start(self) -> None:
        type(self).starts += 1
        await anyio.sleep(0.05)
        self.pool_open = True

    async def deliver(self, app_id: str, payload: ChannelPayload, config: dict[str, Any]) -> DeliveryResult:
        if not getattr(self, "pool_open", False):
            raise RuntimeError("pool not open")
        return await super().deliver(app_id, payload, config)


def registry(**kwargs: Any) -> ChannelRegistry:
    reg = ChannelRegistry(load_plugins=False, clock=kwargs.pop("clock", FakeClock(autojump=True)), **kwargs)
    for channel_type in (Tracked, Pooled, ScriptedChannel, RecordingChannel):
        reg.register_type(channel_type)
    return reg


@pytest.fixture(autouse=True)
def _clear_stops() -> None:
    STOPPED.clear()
    Pooled.starts = 0


async def test_cancelled_deploy_stops_what_it_started() -> None:
    reg = registry()
    with anyio.move_on_after(0.1):
        await reg.deploy_app(
            "app", {"a": {"type": "tracked"}, "b": {"type": "tracked", "config": {"start_delay": 10}}}
        )
    assert STOPPED == ["a:0"]
    assert reg.instances("app") == {}


async def test_cancelled_close_still_stops_every_instance() -> None:
    reg = registry()
    await reg.deploy_app("app", {"a": {"type": "tracked"}, "b": {"type": "tracked"}})
    with anyio.CancelScope() as scope:
        scope.cancel()
        await reg.aclose()
    assert sorted(STOPPED) == ["a:0", "b:0"]


async def test_implicit_instance_is_started_once_before_use() -> None:
    reg = registry()
    results = await reg.deliver_multi(["pooled", "pooled", "pooled"], "app", "x")
    assert [r.success for r in results] == [True, True, True]
    assert Pooled.starts == 1


async def test_plugin_results_with_odd_fields_are_tamed() -> None:
    clock = FakeClock(autojump=True)
    reg = registry(clock=clock)
    script = [
        DeliveryResult(False, "scripted", error=RuntimeError("boom"), retryable=True, retry_after="5"),  # type: ignore[arg-type]
        DeliveryResult(False, "scripted", error="nan", retryable=True, retry_after=float("nan")),
        DeliveryResult(True, "scripted"),
    ]
    await reg.deploy_app("app", {"s": {"type": "scripted", "config": {"script": script}}})
    result = await reg.deliver("s", "app", "x")
    assert result.success
    assert clock.sleeps == [5.0, 2.0]  # "5" honoured; NaN ignored, so the backoff applies


async def test_a_crashing_hook_is_a_failed_result_and_cancels_no_sibling() -> None:
    class BadResolve(RecordingChannel):
        CHANNEL_ID: ClassVar[str] = "bad_resolve"

        def retry_policy(self) -> RetryPolicy:
            raise AssertionError("unreachable: read at deploy")

    reg = registry()
    reg.register_type(BadResolve)
    with pytest.raises(ConfigError, match=r"channels\.x: cannot create the channel: AssertionError"):
        await reg.deploy_app("app", {"x": {"type": "bad_resolve"}})


async def test_concurrent_redeploys_apply_in_call_order() -> None:
    reg = registry()
    async with anyio.create_task_group() as group:
        group.start_soon(reg.deploy_app, "app", {"a": {"type": "tracked", "config": {"version": 1, "start_delay": 0.05}}})
        await anyio.sleep(0.01)
        group.start_soon(reg.deploy_app, "app", {"a": {"type": "tracked", "config": {"version": 2}}})
    assert reg.instances("app")["a"].channel_config["version"] == 2
    assert STOPPED == ["a:1"]


async def test_redeploy_waits_for_deliveries_under_way() -> None:
    release = anyio.Event()

    async def slow() -> DeliveryResult:
        await release.wait()
        return DeliveryResult(True, "scripted")

    reg = registry()
    await reg.deploy_app("app", {"s": {"type": "scripted", "config": {"script": [slow]}}})
    old = reg.instances("app")["s"]
    results: list[DeliveryResult] = []

    async def deliver() -> None:
        results.append(await reg.deliver("s", "app", "x"))

    async with anyio.create_task_group() as group:
        group.start_soon(deliver)
        await anyio.wait_all_tasks_blocked()
        group.start_soon(reg.deploy_app, "app", {"s": {"type": "scripted"}})
        await anyio.wait_all_tasks_blocked()
        assert reg.instances("app")["s"] is not old  # the new one already serves
        release.set()
    assert results[0].success


async def test_closed_registry_refuses_work() -> None:
    reg = registry()
    await reg.aclose()
    result = await reg.deliver("llm_notification", "app", "x")
    assert (result.success, result.error) == (False, "the registry is closed")
    assert reg.instances("app") == {}


async def test_fallback_cycle_tries_each_channel_once() -> None:
    reg = registry()
    policy = RetryPolicy(max_retries=1, backoff_base=0.5)
    await reg.deploy_app(
        "app",
        {
            "a": {"type": "scripted", "config": {"script": [fail()] * 10, "policy": policy}, "fallback": "b"},
            "b": {"type": "scripted", "config": {"script": [fail()] * 10, "policy": policy}, "fallback": "a"},
        },
    )
    result = await reg.deliver("a", "app", "x")
    assert not result.success
    assert reg.instances("app")["a"].attempts == 2  # type: ignore[attr-defined]
    assert reg.instances("app")["b"].attempts == 2  # type: ignore[attr-defined]


async def test_the_builtin_name_is_reserved() -> None:
    reg = registry()
    with pytest.raises(ConfigError, match=r"channels\.llm_notification: llm_notification is built in"):
        await reg.deploy_app("app", {"llm_notification": {"type": "log", "fallback": None}})


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"message": None}, "payload.message"),
        ({"message": {"a": 1}}, "payload.message"),
        ({"message": "m", "title": 5}, "payload.title"),
        ({"message": "m", "tags": {"a": 1}}, "tags: expected a list of strings, got dict"),
        ({"message": "m", "tags": ["ok", 3]}, "tags: expected strings, found int"),
    ],
)
async def test_payload_fields_are_not_coerced_to_strings(payload: dict[str, Any], fragment: str) -> None:
    reg = registry()
    result = await reg.deliver("llm_notification", "app", payload)
    assert not result.success
    assert fragment in (result.error or "")


async def test_live_and_buffered_consumers_see_the_same_types() -> None:
    reg = registry()
    when = datetime(2026, 1, 1, tzinfo=UTC)
    payload = ChannelPayload(message="m", structured_data={"at": when, "raw": b"\x00"})
    async with reg.subscribe("app") as inbox:
        await reg.deliver("llm_notification", "app", payload)
        live = await inbox.receive()
    await reg.deliver("llm_notification", "app", payload)
    async with reg.subscribe("app") as inbox:
        buffered = await inbox.receive()
    assert live.payload.structured_data == buffered.payload.structured_data
    assert live.payload.structured_data["at"] == "2026-01-01T00:00:00+00:00"


async def test_data_the_buffer_cannot_hold_is_refused_up_front() -> None:
    from decimal import Decimal

    reg = registry()
    result = await reg.deliver("llm_notification", "app", ChannelPayload(message="m", structured_data={"d": Decimal(1)}))
    assert not result.success
    assert "not JSON-compatible" in (result.error or "")


async def test_an_unreadable_buffered_entry_costs_only_itself() -> None:
    store = MemoryStore()
    reg = registry(buffer=store)
    await reg.deliver("llm_notification", "app", "first")
    now = reg.clock.now()
    await store.push_notification(
        BufferedNotification("bad", "app", None, now, now.replace(year=2099), {"nope": 1}), max_per_app=100
    )
    await reg.deliver("llm_notification", "app", "second")
    async with reg.subscribe("app") as inbox:
        got = [(await inbox.receive()).payload.message for _ in range(2)]
    assert got == ["first", "second"]


async def test_put_back_keeps_creation_order() -> None:
    clock = FakeClock()
    reg = registry(clock=clock)
    async with reg.subscribe("app", "s1"):
        await reg.deliver("llm_notification", "app", "older, for s1", session_id="s1")
        await clock.advance(60)
        await reg.deliver("llm_notification", "app", "newer, for s2", session_id="s2")
    async with reg.subscribe("app") as inbox:
        got = [(await inbox.receive()).payload.message for _ in range(2)]
    assert got == ["older, for s1", "newer, for s2"]


async def test_async_validation_cannot_leak_through_httpx_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Validating(RecordingChannel):
        CHANNEL_ID: ClassVar[str] = "validating"

        async def validate_config(self) -> None:  # type: ignore[override]
            logging.getLogger("httpx").info("GET https://api.example.invalid/bot%s/getMe", self.channel_config["token"])
            try:
                raise RuntimeError(f"token {self.channel_config['token']} refused")
            except RuntimeError:
                logging.getLogger("httpx").exception("request failed")

    monkeypatch.setenv("BOT_TOKEN", "bot-token-0123456789")
    caplog.set_level(logging.INFO, logger="httpx")
    reg = registry()
    reg.register_type(Validating)
    await reg.deploy_app("app", {"v": {"type": "validating", "config": {"token": "{{env.BOT_TOKEN}}"}}})
    assert "bot-token-0123456789" not in caplog.text
    assert "/bot***/getMe" in caplog.text
    assert "token *** refused" in caplog.text


async def test_only_secret_leaves_of_a_variable_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PASSWORD", "pw-0123456789")
    reg = registry()
    await reg.deploy_app(
        "app",
        {"rec": {"type": "recording", "config": {"host": "{{db.host}}", "password": "{{db.password}}"}}},
        variables={"db": {"host": "db.internal", "password": "{{env.DB_PASSWORD}}"}},
    )
    channel = reg.instances("app")["rec"]
    assert "db.internal" in repr(channel)
    assert "pw-0123456789" not in repr(channel)


async def test_short_secrets_are_reported(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PIN", "123")
    reg = registry()
    await reg.deploy_app("app", {"rec": {"type": "recording", "config": {"pin": "{{env.PIN}}"}}})
    assert "channels.rec.config.pin: a secret shorter than 4 characters cannot be masked" in caplog.text
