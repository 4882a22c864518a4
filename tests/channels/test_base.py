"""BaseOutputChannel defaults."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs
import pytest

from digitorn_notify import (
    AppriseChannel,
    BaseOutputChannel,
    ChannelCapabilities,
    ChannelPayload,
    ConfigError,
    DeliveryResult,
    EmailChannel,
    FakeClock,
    LLMNotificationChannel,
    LogChannel,
    MemoryStore,
    RecipientContext,
    RetryPolicy,
    WebhookChannel,
)
from digitorn_notify.channels.builtin import NotificationHub

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


def test_a_misspelled_key_is_named_before_the_missing_one() -> None:
    class Schema(Minimal):
        def config_schema(self) -> dict[str, dict[str, str]]:
            return {"required": {"token": "API token"}, "optional": {"chat": "Chat"}}

    with pytest.raises(ConfigError) as info:
        Schema({"tokn": "t"}).validate_config()
    assert info.value.path == "tokn"
    assert info.value.reason == "unknown key 'tokn' (did you mean 'token'?); accepted: chat, token"


@attrs.frozen(kw_only=True)
class PagerConfig:
    service_key: str = attrs.field(metadata={"description": "Pager service key"})
    severity: str = attrs.field(
        default="warning", metadata={"description": "info, warning or critical"}
    )
    retries: int = attrs.field(default=3, metadata={"description": "Attempts"})


class Pager(Minimal):
    """A plugin that declares its config as an attrs class, as the built-ins do."""

    CONFIG_CLASS: ClassVar[type[Any]] = PagerConfig


def test_a_config_class_gives_the_schema_and_a_typed_config() -> None:
    channel = Pager({"service_key": "k", "retries": 5})
    assert channel.config_schema() == {
        "required": {"service_key": "Pager service key"},
        "optional": {"severity": "info, warning or critical", "retries": "Attempts"},
    }
    channel.validate_config()
    assert channel.structured_config == PagerConfig(service_key="k", retries=5)
    with pytest.raises(ConfigError) as info:
        Pager({"service_key": "k", "retries": "5"}).validate_config()
    assert (info.value.path, info.value.reason) == ("retries", "expected a whole number, got str")
    with pytest.raises(ConfigError) as info:
        Pager({"servce_key": "k"}).validate_config()
    assert info.value.path == "servce_key"
    assert "did you mean 'service_key'?" in info.value.reason


def test_built_in_schemas_come_from_their_config_classes() -> None:
    """One source of truth: every field of a built-in's class is in its schema, and back."""
    hub = NotificationHub(MemoryStore(), FakeClock())
    channels: list[BaseOutputChannel] = [
        WebhookChannel(),
        EmailChannel(),
        AppriseChannel(),
        LogChannel(),
        LLMNotificationChannel(hub=hub),
    ]
    for channel in channels:
        assert channel.CONFIG_CLASS is not None
        fields = attrs.fields(channel.CONFIG_CLASS)
        schema = channel.config_schema()
        described_fields = {**schema.get("required", {}), **schema.get("optional", {})}
        assert set(described_fields) == {f.name for f in fields}, channel
        assert all(described_fields.values()), channel
        assert set(schema.get("required", {})) == {
            f.name for f in fields if f.default is attrs.NOTHING
        }
    assert WebhookChannel().config_schema()["required"] == {"url": "Target URL (http or https)"}
    assert set(EmailChannel().config_schema()["required"]) == {"smtp_host", "from_address"}
    assert LogChannel().config_schema().get("required") is None
    assert LLMNotificationChannel(hub=hub).config_schema() == {}
    assert set(WebhookChannel().per_delivery_config_schema()["optional"]) == {
        "url",
        "headers",
        "payload",
        "idempotency_key",
    }
    assert set(EmailChannel().per_delivery_config_schema()["optional"]) == {
        "to_address",
        "recipient_name",
        "cc",
        "bcc",
        "reply_to",
    }
    assert AppriseChannel().per_delivery_config_schema() == {
        "optional": {"tags": "Only targets with one of these tags"}
    }
    assert LLMNotificationChannel(hub=hub).per_delivery_config_schema() == {
        "optional": {
            "session_id": "Session whose consumers receive it (default: the delivery's session)"
        }
    }
