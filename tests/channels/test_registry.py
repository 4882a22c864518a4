"""The delivery flow of ChannelRegistry, step by step."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from digitorn_notify import (
    ChannelNotFoundError,
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    DeliveryResult,
    FakeClock,
    RecipientContext,
    RetryPolicy,
    UserResolverConfig,
)
from tests.helpers import (
    LookupChannel,
    RecordingChannel,
    ScriptedChannel,
    SlowChannel,
    fail,
)

pytestmark = pytest.mark.anyio


def make_registry(**kwargs: Any) -> ChannelRegistry:
    registry = ChannelRegistry(
        load_plugins=False, clock=kwargs.pop("clock", FakeClock(autojump=True)), **kwargs
    )
    for channel_type in (RecordingChannel, ScriptedChannel, SlowChannel, LookupChannel):
        registry.register_type(channel_type)
    return registry


async def test_deploy_starts_instances_and_undeploy_stops_them() -> None:
    registry = make_registry()
    names = await registry.deploy_app("app", {"rec": {"type": "recording"}})
    assert names == ["rec"]
    channel = registry.instances("app")["rec"]
    assert isinstance(channel, RecordingChannel)
    assert (channel.started, channel.stopped) == (1, 0)
    assert channel.name == "rec"
    assert channel.app_id == "app"
    await registry.undeploy_app("app")
    assert channel.stopped == 1
    assert registry.instances("app") == {}


async def test_redeploy_replaces_instances() -> None:
    async with make_registry() as registry:
        await registry.deploy_app("app", {"rec": {"type": "recording"}})
        first = registry.instances("app")["rec"]
        await registry.deploy_app("app", {"other": {"type": "recording"}})
        assert isinstance(first, RecordingChannel)
        assert first.stopped == 1
        assert set(registry.instances("app")) == {"llm_notification", "other"}


async def test_context_manager_stops_everything() -> None:
    async with make_registry() as registry:
        await registry.deploy_app("a", {"rec": {"type": "recording"}})
        await registry.deploy_app("b", {"rec": {"type": "recording"}})
        channels = [registry.instances(app)["rec"] for app in ("a", "b")]
    assert [c.stopped for c in channels] == [1, 1]  # type: ignore[attr-defined]


async def test_deliver_to_instance_passes_payload_and_config() -> None:
    registry = make_registry()
    await registry.deploy_app("app", {"rec": {"type": "recording"}})
    payload = ChannelPayload(message="hello", title="T")
    result = await registry.deliver("rec", "app", payload, {"to": "x"})
    assert result.success
    assert result.delivery_id == "1"
    channel = registry.instances("app")["rec"]
    assert channel.calls == [("app", payload, {"to": "x"})]  # type: ignore[attr-defined]


async def test_dict_and_str_payloads_are_structured() -> None:
    registry = make_registry()
    await registry.deploy_app("app", {"rec": {"type": "recording"}})
    await registry.deliver("rec", "app", {"message": "m", "priority": "high", "tags": "ops"})
    await registry.deliver("rec", "app", "plain text")
    calls = registry.instances("app")["rec"].calls  # type: ignore[attr-defined]
    assert calls[0][1] == ChannelPayload(message="m", priority="high", tags=["ops"])
    assert calls[1][1] == ChannelPayload(message="plain text")


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"title": "no message"}, "payload.message"),
        ({"message": "m", "priority": "urgent"}, "priority"),
        ({"message": "m", "colour": "red"}, "colour"),
        (42, "got int"),
    ],
)
async def test_bad_payload_is_a_failed_result(payload: Any, fragment: str) -> None:
    registry = make_registry()
    await registry.deploy_app("app", {"rec": {"type": "recording"}})
    result = await registry.deliver("rec", "app", payload)
    assert not result.success
    assert result.error is not None
    assert result.error.startswith("invalid payload")
    assert fragment in result.error
    assert registry.instances("app")["rec"].calls == []  # type: ignore[attr-defined]


async def test_type_id_without_required_config_is_usable_directly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = make_registry()
    caplog.set_level(logging.INFO, logger="digitorn.notifications")
    result = await registry.deliver("log", "app", "via type id")
    assert result.success
    assert result.channel_id == "log"
    assert "fallback_reason" not in result.metadata
    assert "via type id" in caplog.text


async def test_unknown_channel_falls_back_to_llm_notification() -> None:
    registry = make_registry()
    result = await registry.deliver("nope", "app", "hello")
    assert result.success
    assert result.channel_id == "llm_notification"
    assert result.buffered
    assert result.metadata["fallback_reason"] == "unknown channel 'nope'"
    assert result.metadata["requested_channel"] == "nope"


async def test_type_needing_config_falls_back() -> None:
    class NeedsToken(RecordingChannel):
        CHANNEL_ID = "needs_token"

        def config_schema(self) -> dict[str, dict[str, str]]:
            return {"required": {"token": "API token"}}

    registry = make_registry()
    registry.register_type(NeedsToken)
    result = await registry.deliver("needs_token", "app", "hello")
    assert result.channel_id == "llm_notification"
    assert "needs config" in result.metadata["fallback_reason"]


async def test_channel_exception_becomes_failed_result() -> None:
    registry = make_registry()
    await registry.deploy_app(
        "app",
        {
            "s": {
                "type": "scripted",
                "config": {"script": [ValueError("bad input")]},
                "fallback": None,
            }
        },
    )
    result = await registry.deliver("s", "app", "x")
    assert not result.success
    assert result.error == "ValueError: bad input"
    assert not result.retryable


async def test_connection_errors_are_retried() -> None:
    clock = FakeClock(autojump=True)
    registry = make_registry(clock=clock)
    script = [ConnectionRefusedError("refused"), OSError("reset"), DeliveryResult(True, "scripted")]
    await registry.deploy_app("app", {"s": {"type": "scripted", "config": {"script": script}}})
    result = await registry.deliver("s", "app", "x")
    assert result.success
    assert result.metadata["attempts"] == 3
    assert clock.sleeps == [1.0, 2.0]


async def test_non_delivery_result_is_a_failure() -> None:
    async def returns_dict() -> Any:
        return {"ok": True}

    registry = make_registry()
    await registry.deploy_app(
        "app", {"s": {"type": "scripted", "config": {"script": [returns_dict]}, "fallback": None}}
    )
    result = await registry.deliver("s", "app", "x")
    assert not result.success
    assert result.error == "channel returned dict, not a DeliveryResult"


async def test_timeout_is_a_retryable_failure() -> None:
    async def hang() -> DeliveryResult:
        await anyio.sleep(5)
        return DeliveryResult(True, "scripted")

    registry = make_registry(clock=FakeClock(autojump=True))
    await registry.deploy_app(
        "app",
        {
            "slow": {
                "type": "scripted",
                "config": {"script": [hang], "policy": RetryPolicy.no_retry()},
                "delivery_timeout": 0.05,
                "fallback": None,
            }
        },
    )
    with anyio.fail_after(3):
        result = await registry.deliver("slow", "app", "x")
    assert not result.success
    assert result.retryable
    assert result.error == "delivery timed out after 0.05s"
    assert "attempts" not in result.metadata
    assert registry.instances("app")["slow"].attempts == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("inner", ["before_first_wait", "after_first_wait"])
async def test_timeout_holds_for_channels_with_their_own_cancel_scopes(inner: str) -> None:
    """The registry's scope gets its deadline at the first wait; the channel's scopes,
    entered before or after that wait, still nest in it and exit cleanly."""

    async def hang() -> DeliveryResult:
        if inner == "after_first_wait":
            await anyio.lowlevel.checkpoint()
        with anyio.move_on_after(60):  # longer than the registry's timeout
            await anyio.sleep(30)
        return DeliveryResult(True, "scripted")

    async def quick() -> DeliveryResult:
        with anyio.move_on_after(0.01):  # shorter: the channel's own timeout fires
            await anyio.sleep(30)
        await anyio.lowlevel.checkpoint()
        return DeliveryResult(True, "scripted")

    registry = make_registry(clock=FakeClock(autojump=True))
    await registry.deploy_app(
        "app",
        {
            "s": {
                "type": "scripted",
                "config": {"script": [hang, quick], "policy": RetryPolicy.no_retry()},
                "delivery_timeout": 0.05,
                "fallback": None,
            }
        },
    )
    with anyio.fail_after(3):
        timed_out = await registry.deliver("s", "app", "x")
        succeeded = await registry.deliver("s", "app", "x")
    assert timed_out.error == "delivery timed out after 0.05s"
    assert succeeded.success


async def test_retry_follows_policy_then_gives_up() -> None:
    clock = FakeClock(autojump=True)
    registry = make_registry(clock=clock)
    policy = RetryPolicy(max_retries=3, backoff_base=2.0, backoff_max=5.0)
    await registry.deploy_app(
        "app",
        {
            "s": {
                "type": "scripted",
                "config": {"script": [fail()] * 10, "policy": policy},
                "fallback": None,
            }
        },
    )
    result = await registry.deliver("s", "app", "x")
    channel = registry.instances("app")["s"]
    assert not result.success
    assert channel.attempts == 4  # type: ignore[attr-defined]
    assert clock.sleeps == [2.0, 4.0, 5.0]
    assert result.metadata["attempts"] == 4


async def test_non_retryable_failure_is_not_retried() -> None:
    clock = FakeClock(autojump=True)
    registry = make_registry(clock=clock)
    await registry.deploy_app(
        "app",
        {
            "s": {
                "type": "scripted",
                "config": {"script": [fail(retryable=False)]},
                "fallback": None,
            }
        },
    )
    result = await registry.deliver("s", "app", "x")
    assert not result.success
    assert registry.instances("app")["s"].attempts == 1  # type: ignore[attr-defined]
    assert clock.sleeps == []


async def test_retry_after_is_honoured_within_backoff_max() -> None:
    clock = FakeClock(autojump=True)
    registry = make_registry(clock=clock)
    script = [fail(retry_after=7.0), fail(retry_after=600.0), DeliveryResult(True, "scripted")]
    await registry.deploy_app("app", {"s": {"type": "scripted", "config": {"script": script}}})
    result = await registry.deliver("s", "app", "x")
    assert result.success
    assert clock.sleeps == [7.0, 60.0]


async def test_fallback_after_final_failure() -> None:
    registry = make_registry()
    await registry.deploy_app(
        "app",
        {"s": {"type": "scripted", "config": {"script": [fail("down", retryable=False)]}}},
    )
    async with registry.subscribe("app") as inbox:
        result = await registry.deliver("s", "app", ChannelPayload(message="alert"))
        note = await inbox.receive()
    assert not result.success
    assert result.metadata["fallback"] == "llm_notification"
    assert result.metadata["fallback_success"] is True
    assert note.payload.message == "alert"
    assert note.payload.metadata["fallback_from"] == "s"
    assert note.payload.metadata["fallback_error"] == "down"


async def test_fallback_to_another_instance_and_disabled_fallback() -> None:
    registry = make_registry()
    await registry.deploy_app(
        "app",
        {
            "primary": {
                "type": "scripted",
                "config": {"script": [fail(retryable=False)]},
                "fallback": "backup",
            },
            "backup": {"type": "recording"},
            "lonely": {
                "type": "scripted",
                "config": {"script": [fail(retryable=False)]},
                "fallback": None,
            },
        },
    )
    result = await registry.deliver("primary", "app", "x")
    assert result.metadata["fallback"] == "backup"
    assert len(registry.instances("app")["backup"].calls) == 1  # type: ignore[attr-defined]
    lonely = await registry.deliver("lonely", "app", "x")
    assert "fallback" not in lonely.metadata


async def test_fallback_cycles_terminate() -> None:
    registry = make_registry()
    await registry.deploy_app(
        "app",
        {
            "a": {
                "type": "scripted",
                "config": {"script": [fail(retryable=False)] * 10},
                "fallback": "b",
            },
            "b": {
                "type": "scripted",
                "config": {"script": [fail(retryable=False)] * 10},
                "fallback": "a",
            },
        },
    )
    result = await registry.deliver("a", "app", "x")
    assert not result.success
    assert result.metadata["fallback"] == "b"
    assert result.metadata["fallback_success"] is False


async def test_health_is_recorded_and_degrades() -> None:
    registry = make_registry()
    script = [DeliveryResult(True, "scripted")] * 9 + [fail(retryable=False)] * 2
    await registry.deploy_app(
        "app", {"s": {"type": "scripted", "config": {"script": script}, "fallback": None}}
    )
    for _ in range(9):
        await registry.deliver("s", "app", "x")
    health = await registry.health("s")
    assert health.status == "ok"
    assert health.deliveries_total == 9
    assert health.last_success_at is not None
    assert health.latency_ms is not None
    await registry.deliver("s", "app", "x")
    health = await registry.health("s", "app")
    assert health.failure_rate == pytest.approx(0.10)
    assert health.status == "ok"  # degraded starts above 10 %
    assert health.last_error == "boom"
    await registry.deliver("s", "app", "x")
    health = await registry.health("s", "app")
    assert health.failure_rate == pytest.approx(2 / 11)
    assert health.status == "degraded"
    assert health.failures_total == 2


async def test_health_goes_down_after_consecutive_failures_and_recovers() -> None:
    registry = make_registry()
    script = [fail(retryable=False)] * 5 + [DeliveryResult(True, "scripted")]
    await registry.deploy_app(
        "app", {"s": {"type": "scripted", "config": {"script": script}, "fallback": None}}
    )
    for _ in range(5):
        await registry.deliver("s", "app", "x")
    assert (await registry.health("s")).status == "down"
    await registry.deliver("s", "app", "x")
    health = await registry.health("s")
    assert health.consecutive_failures == 0
    assert health.status == "degraded"


async def test_health_lookup_errors_and_health_all() -> None:
    registry = make_registry()
    await registry.deploy_app("a", {"rec": {"type": "recording"}})
    await registry.deploy_app("b", {"rec": {"type": "recording"}})
    with pytest.raises(ChannelNotFoundError, match="several apps"):
        await registry.health("rec")
    with pytest.raises(ChannelNotFoundError, match="no channel instance 'x'"):
        await registry.health("x", "a")
    assert set(await registry.health_all("a")) == {"llm_notification", "rec"}
    assert set(await registry.health_all()) == {
        "a/llm_notification",
        "a/rec",
        "b/llm_notification",
        "b/rec",
    }


async def test_deliver_multi_keeps_order_and_runs_concurrently() -> None:
    registry = make_registry(clock=FakeClock())
    order: list[str] = []
    gate = anyio.Event()

    async def first() -> DeliveryResult:
        await gate.wait()  # only released by the second delivery: proves concurrency
        order.append("first")
        return DeliveryResult(True, "scripted", delivery_id="first")

    async def second() -> DeliveryResult:
        order.append("second")
        gate.set()
        return DeliveryResult(True, "scripted", delivery_id="second")

    await registry.deploy_app(
        "app",
        {
            "one": {"type": "scripted", "config": {"script": [first]}},
            "two": {"type": "scripted", "config": {"script": [second]}},
            "bad": {
                "type": "scripted",
                "config": {"script": [fail(retryable=False)]},
                "fallback": None,
            },
        },
    )
    with anyio.fail_after(5):
        results = await registry.deliver_multi(["one", "bad", "two"], "app", "x")
    assert [r.delivery_id for r in results] == ["first", None, "second"]
    assert [r.success for r in results] == [True, False, True]
    assert order == ["second", "first"]


async def test_resolve_recipient_hook_and_explicit_config_wins() -> None:
    registry = make_registry()
    await registry.deploy_app("app", {"sms": {"type": "lookup"}})
    await registry.deliver("sms", "app", "x", session_id="s1")
    await registry.deliver("sms", "app", "x", {"to_number": "+1"}, session_id="s1")
    await registry.deliver("sms", "app", "x")
    calls = [c[2] for c in registry.instances("app")["sms"].calls]  # type: ignore[attr-defined]
    assert calls == [
        {"to_number": "+33-s1", "source": "lookup"},
        {"to_number": "+1", "source": "lookup"},
        {},
    ]


class StaticResolver:
    def __init__(self, config: UserResolverConfig, fail: bool = False) -> None:
        self.config = config
        self.fail = fail
        self.contexts: list[RecipientContext] = []

    async def resolve(self, context: RecipientContext) -> dict[str, Any]:
        self.contexts.append(context)
        if self.fail:
            raise RuntimeError("database down")
        return {"to_number": "+33-resolved", "name": "Ada"}


async def test_user_resolver_takes_precedence_and_failures_fall_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolvers: list[StaticResolver] = []

    def factory(config: UserResolverConfig, channel: Any) -> StaticResolver:
        resolvers.append(StaticResolver(config, fail=channel.name == "broken"))
        return resolvers[-1]

    registry = make_registry(user_resolver_factory=factory)
    resolver_block = {
        "module": "database",
        "action": "fetch_results",
        "mapping": {"to_number": "phone"},
    }
    await registry.deploy_app(
        "app",
        {
            "sms": {"type": "lookup", "user_resolver": resolver_block},
            "broken": {"type": "recording", "user_resolver": resolver_block},
        },
    )
    await registry.deliver("sms", "app", "x", {"name": "explicit"}, session_id="s1")
    assert registry.instances("app")["sms"].calls[0][2] == {  # type: ignore[attr-defined]
        "to_number": "+33-resolved",
        "name": "explicit",
    }
    assert resolvers[0].config.mapping == {"to_number": "phone"}
    assert resolvers[0].contexts[0].session_id == "s1"
    caplog.set_level(logging.WARNING, logger="digitorn_notify.channels")
    result = await registry.deliver("broken", "app", "x", {"to": "explicit"}, session_id="s1")
    assert result.success
    assert registry.instances("app")["broken"].calls[0][2] == {"to": "explicit"}  # type: ignore[attr-defined]
    assert "database down" in caplog.text


async def test_user_resolver_without_factory_is_a_config_error() -> None:
    registry = make_registry()
    with pytest.raises(ConfigError) as info:
        await registry.deploy_app(
            "app", {"sms": {"type": "recording", "user_resolver": {"module": "db", "action": "q"}}}
        )
    assert info.value.path == "channels.sms.user_resolver"


async def test_register_type_rejects_bad_and_duplicate_types() -> None:
    registry = make_registry()
    with pytest.raises(TypeError):
        registry.register_type(dict)  # type: ignore[arg-type]

    class Duplicate(RecordingChannel):
        CHANNEL_ID = "log"

    with pytest.raises(ValueError, match="already registered"):
        registry.register_type(Duplicate)
    assert "log" in registry.types
