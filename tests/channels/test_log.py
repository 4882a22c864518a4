"""The log channel: text and JSON lines, levels, and config validation."""

from __future__ import annotations

import json
import logging

import pytest

from digitorn_notify import ChannelPayload, ChannelRegistry, ConfigError, LogChannel

pytestmark = pytest.mark.anyio

PAYLOAD = ChannelPayload(
    message="Disk at 91%",
    title="Disk alert",
    tags=["ops", "disk"],
    structured_data={"disk": 91},
    metadata={"job_id": "j1"},
    priority="high",
)


async def test_text_format(caplog: pytest.LogCaptureFixture) -> None:
    registry = ChannelRegistry(load_plugins=False)
    await registry.deploy_app(
        "app", {"audit": {"type": "log", "config": {"logger_name": "t.audit", "level": "WARNING"}}}
    )
    with caplog.at_level(logging.DEBUG, logger="t.audit"):
        result = await registry.deliver("audit", "app", PAYLOAD)
    assert result.success
    [record] = [r for r in caplog.records if r.name == "t.audit"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "[Disk alert] Disk at 91% #ops #disk"


async def test_json_format_with_data(caplog: pytest.LogCaptureFixture) -> None:
    registry = ChannelRegistry(load_plugins=False)
    config = {"logger_name": "t.json", "format": "json", "include_data": True}
    await registry.deploy_app("app", {"audit": {"type": "log", "config": config}})
    with caplog.at_level(logging.INFO, logger="t.json"):
        await registry.deliver("audit", "app", PAYLOAD)
    [record] = [r for r in caplog.records if r.name == "t.json"]
    assert json.loads(record.getMessage()) == {
        "app_id": "app",
        "message": "Disk at 91%",
        "title": "Disk alert",
        "priority": "high",
        "tags": ["ops", "disk"],
        "structured_data": {"disk": 91},
        "metadata": {"job_id": "j1"},
    }


async def test_text_with_data(caplog: pytest.LogCaptureFixture) -> None:
    registry = ChannelRegistry(load_plugins=False)
    config = {"logger_name": "t.text", "include_data": True}
    await registry.deploy_app("app", {"audit": {"type": "log", "config": config}})
    with caplog.at_level(logging.INFO, logger="t.text"):
        await registry.deliver("audit", "app", PAYLOAD)
    assert (
        caplog.records[-1]
        .getMessage()
        .endswith('{"metadata": {"job_id": "j1"}, "structured_data": {"disk": 91}}')
    )


@pytest.mark.parametrize(
    ("config", "path"),
    [
        ({"level": "LOUD"}, "channels.audit.config.level"),
        ({"format": "xml"}, "channels.audit.config.format"),
        ({"include_data": "yes"}, "channels.audit.config.include_data"),
        ({"colour": "red"}, "channels.audit.config.colour"),
        ({"logger_name": "a\nb"}, "channels.audit.config.logger_name"),
        ({"level": 20}, "channels.audit.config.level"),
    ],
)
async def test_invalid_config(config: dict[str, object], path: str) -> None:
    registry = ChannelRegistry(load_plugins=False)
    with pytest.raises(ConfigError) as info:
        await registry.deploy_app("app", {"audit": {"type": "log", "config": config}})
    assert info.value.path == path
    assert registry.instances("app") == {}


async def test_log_is_never_retried() -> None:
    registry = ChannelRegistry(load_plugins=False)
    await registry.deploy_app("app", {"audit": {"type": "log"}})
    assert registry.instances("app")["audit"].retry_policy().max_retries == 0


async def test_a_channel_built_by_hand_checks_its_config_when_first_used(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = LogChannel({"logger_name": "by.hand", "level": "warning"})
    with caplog.at_level(logging.DEBUG, "by.hand"):
        assert (await channel.deliver("app", ChannelPayload(message="m"), {})).success
    assert [(r.name, r.levelno) for r in caplog.records] == [("by.hand", logging.WARNING)]
    with pytest.raises(ConfigError, match=r"^level: unknown level 'LOUD'"):
        await LogChannel({"level": "LOUD"}).deliver("app", ChannelPayload(message="m"), {})
