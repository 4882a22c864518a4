"""Inputs that would exhaust memory or the stack, hang, or pass validation and fail later."""

from __future__ import annotations

import gc
import json
import logging
import math
import tracemalloc
from typing import Any

import pytest

from digitorn_notify import AppConfig, ChannelPayload, ChannelRegistry, ConfigError, FakeClock
from digitorn_notify.scheduler import Scheduler
from tests.helpers import local_http_server

pytestmark = pytest.mark.anyio


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


# -- app ids from untrusted input -------------------------------------------------------------


async def test_deliveries_to_apps_never_deployed_leave_no_state_behind() -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        await registry.deliver("llm_notification", "warm-up", "x")  # imports, caches
        async with registry.subscribe("warm-up"):
            pass
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for number in range(500):
                result = await registry.deliver("llm_notification", f"app-{number}", "hello")
                assert result.success
                assert result.buffered  # it still reaches the app's agent, buffered
                async with registry.subscribe(f"app-{number}") as inbox:
                    assert (await inbox.receive()).payload.message == "hello"
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert registry.instances("app-7") == {}
    # About 3 KB per app id (1.5 MB here) stayed for good before; now nothing grows.
    assert retained < 50 * 1000, f"{retained} bytes retained for 500 app ids"


async def test_an_app_never_deployed_can_still_use_a_type_that_needs_no_config(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="digitorn.notifications")
    async with ChannelRegistry(load_plugins=False) as registry:
        first = await registry.deliver("log", "app-1", "one")
        second = await registry.deliver("log", "app-2", "two")
    assert first.success
    assert second.success
    assert [r.getMessage() for r in caplog.records if r.name == "digitorn.notifications"] == [
        "one",
        "two",
    ]


# -- configs nested beyond reason -----------------------------------------------------------


async def test_a_deeply_nested_channel_config_is_a_config_error() -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app(
                "app", {"hook": {"type": "log", "config": {"include_data": nested(5000)}}}
            )
    assert caught.value.path == "channels.hook.config"
    assert "nested deeper than 64 levels" in caught.value.reason


async def test_deeply_nested_variables_are_a_config_error() -> None:
    config = AppConfig.from_mapping({"variables": {"x": nested(5000)}})
    async with ChannelRegistry(load_plugins=False) as registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app("app", {}, variables=config.variables)
    assert caught.value.path == "variables.x"


async def test_deeply_nested_job_arguments_are_refused_with_their_name() -> None:
    async with ChannelRegistry(load_plugins=False) as registry, Scheduler(registry) as scheduler:
        with pytest.raises(ConfigError) as caught:
            await scheduler.schedule_once(
                "in 5m", app_id="app", prompt="x", output_config=nested(5000)
            )
    assert caught.value.path == "output_config"
    assert "nested deeper than 64 levels" in caught.value.reason


# -- variables that refer to each other -----------------------------------------------------


async def test_a_cycle_between_variables_is_named() -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app(
                "app",
                {"hook": {"type": "log", "config": {"logger_name": "{{a}}"}}},
                variables={"a": "{{b}}/x", "b": {"c": "{{c.d}}"}, "c": {"d": "{{a}}"}},
            )
    assert caught.value.path == "variables.c"
    assert caught.value.reason == "variables refer to each other in a cycle: a -> b -> c -> a"


async def test_variables_may_refer_to_other_variables() -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        await registry.deploy_app(
            "app",
            {"hook": {"type": "log", "config": {"logger_name": "{{logger}}"}}},
            variables={"logger": "{{team}}.alerts", "team": "ops"},
        )
        assert registry.instances("app")["hook"].channel_config["logger_name"] == "ops.alerts"


# -- NaN and infinities: written as null, never as invalid JSON ------------------------------

DATA = {"cpu": math.nan, "limit": math.inf, "floor": -math.inf, "ok": 0.5, "list": [math.nan]}
STRICT = {"cpu": None, "limit": None, "floor": None, "ok": 0.5, "list": [None]}


def strict(text: str | bytes) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def test_webhook_bodies_write_nan_and_infinity_as_null() -> None:
    payload = ChannelPayload(message="m", structured_data=DATA)
    with local_http_server() as server:
        async with ChannelRegistry(load_plugins=False, clock=FakeClock(autojump=True)) as registry:
            await registry.deploy_app(
                "app",
                {
                    "plain": {"type": "webhook", "config": {"url": server.url}},
                    "templated": {
                        "type": "webhook",
                        "config": {
                            "url": server.url,
                            "payload_template": '{"d": {{structured_data}}, "cpu": "{{structured_data.cpu}}"}',
                        },
                    },
                },
            )
            assert (await registry.deliver("plain", "app", payload)).success
            assert (await registry.deliver("templated", "app", payload)).success
        plain, templated = (strict(r.body) for r in server.requests)
    assert plain["structured_data"] == STRICT
    assert templated == {"d": STRICT, "cpu": "null"}


async def test_the_log_channel_and_the_buffer_write_nan_as_null(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="digitorn.notifications")
    payload = ChannelPayload(message="m", structured_data=DATA)
    async with ChannelRegistry(load_plugins=False) as registry:
        await registry.deploy_app(
            "app",
            {"audit": {"type": "log", "config": {"format": "json", "include_data": True}}},
        )
        logged = await registry.deliver("audit", "app", payload)
        buffered = await registry.deliver("llm_notification", "app", payload)
        async with registry.subscribe("app") as inbox:
            note = await inbox.receive()
    assert logged.success
    assert buffered.success  # refused as "not JSON-compatible" before
    [record] = [r for r in caplog.records if r.name == "digitorn.notifications"]
    assert strict(record.getMessage())["structured_data"] == STRICT
    assert note.payload.structured_data == STRICT


@pytest.mark.parametrize("template", ['{"v": NaN}', "Infinity", "[-Infinity]"])
def test_a_template_writing_nan_itself_is_refused(template: str) -> None:
    # Python's json reads these; no strict parser does. Found by `make fuzz`.
    from digitorn_notify.templates import PayloadTemplate

    with pytest.raises(ConfigError, match="is not JSON"):
        PayloadTemplate(template, path="channels.hook.config.payload_template")
