"""The typed app config: ``variables:``, ``channels:`` and ``execution.default_channel``.

The host owns the rest of its app file; :meth:`AppConfig.from_mapping` reads only
the parts this library acts on. Channel blocks are structured strictly: an unknown
key or a missing ``type`` is a :class:`~digitorn_notify.errors.ConfigError` naming
its path (``channels.slack_alerts.type``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from digitorn_notify._convert import structure
from digitorn_notify.errors import ConfigError

__all__ = ["AppConfig", "ChannelConfig", "UserResolverConfig"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def _positive_or_none(_: Any, attribute: attrs.Attribute[Any], value: float | None) -> None:
    # "not >" also refuses NaN, which compares false with everything.
    if value is not None and not value > 0:
        raise ConfigError(f"must be a number of seconds > 0, got {value!r}", path=attribute.name)


def _not_negative(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise ConfigError(f"must be a number of seconds >= 0, got {value!r}", path=attribute.name)


@attrs.frozen
class UserResolverConfig:
    """How a channel looks up the current user's address (``user_resolver:``)."""

    module: str
    action: str
    params: dict[str, Any] = attrs.field(factory=dict)
    mapping: dict[str, str] = attrs.field(factory=dict)
    cache_ttl: float = attrs.field(default=300.0, validator=_not_negative)


@attrs.frozen
class ChannelConfig:
    """One entry of the ``channels:`` mapping.

    ``fallback`` names the channel that receives the notification when this one fails
    for good (``None`` disables it); ``delivery_timeout`` bounds one ``deliver()`` call;
    ``overflow`` says what happens to a message longer than the channel's
    ``max_message_length``: ``truncate`` (with a visible marker) or ``split`` into
    numbered parts.
    """

    type: str
    config: dict[str, Any] = attrs.field(factory=dict)
    user_resolver: UserResolverConfig | None = None
    fallback: str | None = "llm_notification"
    delivery_timeout: float | None = attrs.field(default=None, validator=_positive_or_none)
    overflow: str = attrs.field(default="truncate")

    @overflow.validator
    def _check_overflow(self, _: attrs.Attribute[str], value: str) -> None:
        if value not in ("truncate", "split"):
            raise ConfigError(
                f"unknown overflow {value!r} (accepted: truncate, split)", path="overflow"
            )


@attrs.frozen
class AppConfig:
    """The parts of an app config this library reads."""

    channels: dict[str, ChannelConfig] = attrs.field(factory=dict)
    variables: dict[str, Any] = attrs.field(factory=dict)
    default_channel: str = "llm_notification"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AppConfig:
        """Build from a parsed app file (a dict from YAML or JSON).

        Variables are kept unresolved here; they are resolved when the app is
        deployed, so secrets are read at the last moment and never stored twice.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"an app config must be a mapping, got {type(data).__name__}")
        variables = data.get("variables") or {}
        if not isinstance(variables, Mapping):
            raise ConfigError("must be a mapping", path="variables")
        execution = data.get("execution") or {}
        if not isinstance(execution, Mapping):
            raise ConfigError("must be a mapping", path="execution")
        default_channel = execution.get("default_channel", "llm_notification")
        if not isinstance(default_channel, str):
            raise ConfigError("must be a channel name", path="execution.default_channel")
        return cls(
            channels=parse_channels(data.get("channels")),
            variables=dict(variables),
            default_channel=default_channel,
        )


def parse_channels(data: Mapping[str, Any] | None) -> dict[str, ChannelConfig]:
    """Structure a ``channels:`` mapping; errors name ``channels.<name>.<field>``."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"must be a mapping of names, got {type(data).__name__}", path="channels")
    channels: dict[str, ChannelConfig] = {}
    for name, block in data.items():
        path = f"channels.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigError(
                "a channel name is letters, digits, '_' or '-', starting with a letter or '_'",
                path=path,
            )
        if isinstance(block, ChannelConfig):
            channels[name] = block
            continue
        if not isinstance(block, Mapping):
            raise ConfigError(
                f"must be a mapping with a 'type', got {type(block).__name__}", path=path
            )
        channels[name] = structure(dict(block), ChannelConfig, path)
    return channels
