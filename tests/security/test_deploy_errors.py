"""Errors raised by channel code at deploy time: masked, under the right path, detached,
and bounded in time."""

from __future__ import annotations

import traceback
from typing import Any, ClassVar

import anyio
import pytest

from digitorn_notify import (
    BaseOutputChannel,
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    DeliveryResult,
)
from digitorn_notify.testing import search_forms

pytestmark = pytest.mark.anyio

TOKEN = "tok-4f3e2d1c0b9a8f7e6d5c"


class Plugin(BaseOutputChannel):
    """A plugin whose hooks fail as ``FAIL`` says, quoting its token."""

    CHANNEL_ID: ClassVar[str] = "plugin"
    CHANNEL_NAME: ClassVar[str] = "Plugin"
    FAIL: ClassVar[str] = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        token = self.channel_config.get("token")
        if self.FAIL == "init":
            raise ConfigError(f"token {token} is not a valid token", path="token")
        if self.FAIL == "init-other":
            raise KeyError(f"no account for {token}")

    def validate_config(self) -> None:
        if self.FAIL == "validate":
            raise ConfigError(f"token {self.channel_config['token']} expired", path="token")

    async def on_start(self) -> None:
        if self.FAIL == "start":
            raise ConnectionError(f"login refused for {self.channel_config['token']}")
        if self.FAIL == "hang":
            await anyio.sleep_forever()

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        return DeliveryResult(True, self.CHANNEL_ID)


def chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or current in found:
            continue
        found.append(current)
        stack += [current.__cause__, current.__context__]
    return found


async def deploy_failing(fail: str, **registry_options: Any) -> ConfigError:
    plugin = type(f"Plugin_{fail}", (Plugin,), {"FAIL": fail})
    registry = ChannelRegistry(load_plugins=False, secrets={"TOKEN": TOKEN}.get, **registry_options)
    registry.register_type(plugin)
    async with registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app(
                "app", {"alerts": {"type": "plugin", "config": {"token": "{{secret.TOKEN}}"}}}
            )
        assert registry.instances("app") == {}  # nothing of the deployment stays
    return caught.value


def assert_no_token(error: BaseException) -> None:
    texts = [
        "".join(traceback.format_exception(error)),
        repr(error),
        repr(error.args),
        repr(vars(error)),
    ]
    for text in texts:
        for name, form in search_forms(TOKEN).items():
            assert form not in text, f"the token's {name} form is in {text!r}"


@pytest.mark.parametrize(
    ("fail", "path"),
    [
        ("init", "channels.alerts.config.token"),
        ("init-other", "channels.alerts"),
        ("validate", "channels.alerts.config.token"),
        ("start", "channels.alerts"),
    ],
)
async def test_a_plugin_error_is_masked_prefixed_and_detached(fail: str, path: str) -> None:
    error = await deploy_failing(fail)
    assert error.path == path
    assert "***" in error.reason
    assert_no_token(error)
    # Not only hidden from the traceback (raise ... from None does that): the original
    # exception, whose text holds the token, is not reachable at all.
    assert chain(error) == [error]
    assert error.__context__ is None
    assert error.__cause__ is None


async def test_a_hanging_on_start_times_out_naming_the_channel() -> None:
    with anyio.fail_after(10):
        error = await deploy_failing("hang", start_timeout=0.2)
    assert error.path == "channels.alerts"
    assert error.reason == "on_start of channel 'alerts' did not finish within 0.2 s"
    assert chain(error) == [error]


async def test_a_hanging_on_start_of_a_type_used_without_config_is_bounded() -> None:
    class Hangs(Plugin):
        CHANNEL_ID: ClassVar[str] = "hangs"
        FAIL: ClassVar[str] = "hang"

    registry = ChannelRegistry(load_plugins=False, start_timeout=0.2)
    registry.register_type(Hangs)
    async with registry:
        with anyio.fail_after(10):
            result = await registry.deliver("hangs", "app", "hello")
    # It cannot start: the notification falls back to the agent, and says why.
    assert result.success
    assert result.channel_id == "llm_notification"
    assert "cannot run without config" in result.metadata["fallback_reason"]
