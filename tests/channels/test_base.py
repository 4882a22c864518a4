"""BaseOutputChannel defaults."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from digitorn_notify import (
    BaseOutputChannel,
    ChannelCapabilities,
    ChannelPayload,
    ConfigError,
    DeliveryResult,
    RecipientContext,
    RetryPolicy,
)

pytestmark = pytest.mark.anyio


class Minimal(BaseOutputChannel):
    CHANNEL_ID: ClassVar[str] = "minimal"
    CHANNEL_NAME: ClassVar[str] = "Minimal"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        return DeliveryResult(True, self.CHANNEL_ID)


def test_defaults_of_the_contract() -> None:
    channel = Minimal()
    assert channel.capabilities() == ChannelCapabilities()
    assert channel.config_schema() == {}
    assert channel.per_delivery_config_schema() == {}
    assert channel.retry_policy() == RetryPolicy()
    assert channel.validate_config() is None
    assert channel.name == "minimal"
    assert channel.channel_config == {}


def test_deliver_is_required() -> None:
    class NoDeliver(BaseOutputChannel):
        CHANNEL_ID = "x"

    with pytest.raises(TypeError, match="deliver"):
        NoDeliver()  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        (ChannelPayload(message="m"), "m"),
        (ChannelPayload(message="m", title="T"), "[T] m"),
        (ChannelPayload(message="m", title="T", tags=["a", "b"]), "[T] m #a #b"),
    ],
)
def test_format_text(payload: ChannelPayload, text: str) -> None:
    assert Minimal().format_text(payload) == text


def test_format_rich() -> None:
    channel = Minimal()
    assert channel.format_rich(ChannelPayload(message="m", rich_message="<p>x</p>")) == "<p>x</p>"
    assert channel.format_rich(ChannelPayload(message="a < b\nc", title="T&C", tags=["x"])) == (
        "<b>T&amp;C</b><br>a &lt; b<br>c<br><i>#x</i>"
    )


def test_validate_config_uses_the_schema() -> None:
    class Schema(Minimal):
        def config_schema(self) -> dict[str, dict[str, str]]:
            return {"required": {"token": "API token"}, "optional": {"chat": "Chat"}}

    Schema({"token": "t", "chat": "c"}).validate_config()
    with pytest.raises(ConfigError) as info:
        Schema({"chat": "c"}).validate_config()
    assert info.value.path == "token"
    assert "API token" in str(info.value)
    with pytest.raises(ConfigError, match="accepted: chat, token"):
        Schema({"token": "t", "tokn": "x"}).validate_config()


async def test_resolve_recipient_and_health_check_defaults() -> None:
    channel = Minimal()
    context = RecipientContext("app", "minimal", "s1", {"to": "x"}, ChannelPayload(message="m"))
    assert await channel.resolve_recipient(context) == {"to": "x"}
    health = await channel.health_check()
    assert health.status == "ok"
    assert health.deliveries_total == 0
