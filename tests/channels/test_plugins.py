"""A third-party plugin, installed as a real distribution, is found through its entry point.

The plugin (tests/plugins/telegram_channel) is the spec's TelegramChannel example with the
import line changed; `make test` installs it into the test environment. It talks to a
real HTTP server on 127.0.0.1 standing in for the Telegram Bot API.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import entry_points

import pytest

from digitorn_notify import ChannelPayload, ChannelRegistry, ConfigError, FakeClock
from tests.helpers import local_http_server

pytestmark = pytest.mark.anyio

TOKEN = "123456:AAE-plugin-test-token"


def test_entry_point_is_installed() -> None:
    names = [entry.name for entry in entry_points(group="digitorn.channels")]
    assert "telegram" in names


async def test_registry_loads_configures_and_uses_the_plugin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    registry = ChannelRegistry()
    assert "telegram" in registry.types
    with local_http_server() as server:
        server.respond = lambda request: (
            200,
            {},
            json.dumps({"ok": True, "result": {"message_id": 42}}).encode(),
        )
        await registry.deploy_app(
            "app",
            {
                "ops_telegram": {
                    "type": "telegram",
                    "config": {
                        "bot_token": "{{secret.TELEGRAM_TOKEN}}",
                        "default_chat_id": "-100123456789",
                        "api_base": server.url,
                    },
                }
            },
        )
        result = await registry.deliver(
            "ops_telegram",
            "app",
            ChannelPayload(message="Disk at 91%", title="Alert", tags=["ops"]),
        )
        override = await registry.deliver("ops_telegram", "app", "hi", {"chat_id": "42"})
    assert result.success
    assert result.delivery_id == "42"
    assert override.success
    [first, second] = server.requests
    assert first.path == f"/bot{TOKEN}/sendMessage"
    assert first.json() == {
        "chat_id": "-100123456789",
        "text": "[Alert] Disk at 91% #ops",
        "parse_mode": "Markdown",
    }
    assert second.json()["chat_id"] == "42"
    await registry.aclose()


async def test_plugin_server_errors_are_retried_then_fall_back(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(autojump=True)
    registry = ChannelRegistry(clock=clock)
    with local_http_server() as server:
        server.respond = lambda request: (502, {}, b"bad gateway")
        await registry.deploy_app(
            "app",
            {
                "tg": {
                    "type": "telegram",
                    "config": {"bot_token": "{{env.TELEGRAM_TOKEN}}", "api_base": server.url},
                }
            },
        )
        result = await registry.deliver("tg", "app", "x")
    assert not result.success
    assert result.error == "Telegram API: HTTP 502"
    assert len(server.requests) == 4  # the first try and 3 retries
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert result.metadata["fallback"] == "llm_notification"
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(registry.instances("app")["tg"])


async def test_plugin_config_is_validated_from_its_schema() -> None:
    registry = ChannelRegistry()
    with pytest.raises(ConfigError) as info:
        await registry.deploy_app(
            "app", {"tg": {"type": "telegram", "config": {"default_chat_id": "1"}}}
        )
    assert info.value.path == "channels.tg.config.bot_token"
    assert "Telegram Bot API token" in str(info.value)


async def test_a_broken_plugin_is_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from importlib.metadata import EntryPoint

    broken = EntryPoint(
        name="broken", value="no_such_module_xyz:Channel", group="digitorn.channels"
    )
    good = next(iter(entry_points(group="digitorn.channels", name="telegram")))
    monkeypatch.setattr(
        "digitorn_notify.channels.registry.entry_points", lambda group: [broken, good]
    )
    registry = ChannelRegistry()
    assert "telegram" in registry.types
    assert "channel plugin broken" in caplog.text
