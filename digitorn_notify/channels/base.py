"""``BaseOutputChannel``: the contract every channel implements.

A channel subclass sets ``CHANNEL_ID``, ``CHANNEL_NAME``, ``CHANNEL_VERSION`` (and
``CHANNEL_DESCRIPTION``) and implements ``deliver(app_id, payload, config)``; every
other member has a working default. The registry creates one instance per channel
block of an app, with the resolved block in :attr:`BaseOutputChannel.channel_config`.

A channel describes its config block in one of two ways. The spec's way is
``config_schema()`` (``{"required": {...}, "optional": {...}}``), which the default
``validate_config()`` checks keys against. The typed way, which the built-in channels
use, is an attrs class in ``CONFIG_CLASS``: the block is structured into it (so
types and values are checked too), the result is :attr:`structured_config`, and
``config_schema()`` is derived from the class. Both report errors the same way: the
field's path, an unknown key with the closest accepted one, the accepted keys.
"""

from __future__ import annotations

import abc
import html
from collections.abc import Awaitable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import attrs

from digitorn_notify._convert import structure, unknown_key
from digitorn_notify.channels._schema import schema_of
from digitorn_notify.channels.health import HealthTracker
from digitorn_notify.clock import Clock, SystemClock
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import (
    ChannelCapabilities,
    ChannelHealth,
    ChannelPayload,
    DeliveryResult,
)
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.secrets import Redactor

__all__ = ["BaseOutputChannel", "ConfigSchema", "RecipientContext"]

#: ``{"required": {field: description}, "optional": {field: description}}``
ConfigSchema = Mapping[str, Mapping[str, str]]

T = TypeVar("T")


@attrs.frozen
class RecipientContext:
    """What a channel may use to find the recipient of one delivery."""

    app_id: str
    channel_name: str
    session_id: str | None
    output_config: dict[str, Any]
    payload: ChannelPayload


class BaseOutputChannel(abc.ABC):
    """Base class of every output channel (built-in or plugin)."""

    CHANNEL_ID: ClassVar[str] = ""
    CHANNEL_NAME: ClassVar[str] = ""
    CHANNEL_VERSION: ClassVar[str] = "0.0.0"
    CHANNEL_DESCRIPTION: ClassVar[str] = ""
    #: An attrs class the config block is structured into (see the module docstring);
    #: ``None`` checks the block against :meth:`config_schema` instead.
    CONFIG_CLASS: ClassVar[type[Any] | None] = None
    #: An attrs class describing the per-delivery config, for
    #: :meth:`per_delivery_config_schema`.
    PER_DELIVERY_CONFIG_CLASS: ClassVar[type[Any] | None] = None

    def __init__(
        self,
        channel_config: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        app_id: str | None = None,
    ) -> None:
        #: The instance's resolved config block (secrets are :class:`Secret` strings).
        self.channel_config: dict[str, Any] = dict(channel_config or {})
        #: The instance name in its app (``slack_alerts``); the type id when implicit.
        self.name: str = name or self.CHANNEL_ID
        self.app_id: str | None = app_id
        #: The registry's clock (set when the registry creates the instance).
        self.clock: Clock = SystemClock()
        #: ``channel_config`` structured into ``CONFIG_CLASS`` by :meth:`validate_config`.
        self.structured_config: Any = None
        self._health = HealthTracker()

    # -- required --------------------------------------------------------------------

    @abc.abstractmethod
    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Deliver ``payload``; ``config`` is the per-delivery config (overrides).

        Return a :class:`DeliveryResult`; a transient failure sets ``retryable`` (and
        ``retry_after`` when the destination said how long to wait). An exception
        raised here becomes a failed result in the registry.
        """

    # -- optional, with defaults ------------------------------------------------------

    def capabilities(self) -> ChannelCapabilities:
        """What this channel can render; plain text only by default."""
        return ChannelCapabilities()

    def config_schema(self) -> ConfigSchema:
        """Required and optional fields of the channel's config block.

        Derived from ``CONFIG_CLASS`` when it is set; empty otherwise.
        """
        return {} if self.CONFIG_CLASS is None else schema_of(self.CONFIG_CLASS)

    def per_delivery_config_schema(self) -> ConfigSchema:
        """Fields a job, watcher or caller may set per delivery (``output_config``).

        Derived from ``PER_DELIVERY_CONFIG_CLASS`` when it is set; empty otherwise.
        """
        cls = self.PER_DELIVERY_CONFIG_CLASS
        return {} if cls is None else schema_of(cls)

    def validate_config(self) -> Awaitable[None] | None:
        """Check ``channel_config``: structure it into ``CONFIG_CLASS``, or check its
        keys against :meth:`config_schema`.

        Raises :class:`ConfigError` whose ``path`` is the field name; the registry
        prefixes it with ``channels.<name>.config``. An unknown key is reported
        before a missing one (a misspelled key is usually both) with the closest
        accepted key and the accepted list. Subclasses may extend this (and may make
        it ``async`` for checks that need I/O), calling ``super()`` first.
        """
        if self.CONFIG_CLASS is not None:
            self.structured_config = structure(self.channel_config, self.CONFIG_CLASS)
            return None
        schema = self.config_schema()
        required = schema.get("required", {})
        optional = schema.get("optional", {})
        if required or optional:
            known = set(required) | set(optional)
            for field in self.channel_config:
                if field not in known:
                    raise ConfigError(unknown_key(field, known), path=str(field))
        for field, description in required.items():
            value = self.channel_config.get(field)
            if value is None or value == "":
                raise ConfigError(f"missing required field ({description})", path=field)
        return None

    def _structured(self, cls: type[T]) -> T:
        """:attr:`structured_config`, structuring ``channel_config`` on first use.

        For channels created without :meth:`validate_config` (a type id used
        directly, a channel built by hand in a test).
        """
        current = self.structured_config
        if not isinstance(current, cls):
            current = self.structured_config = structure(self.channel_config, cls)
        return current

    def sensitive_values(self) -> Iterable[str]:
        """Config values to mask wherever the instance's text is shown.

        Values resolved from ``{{env.X}}``/``{{secret.X}}`` are masked already; override
        this for secrets written literally in the config (a token in a webhook URL's
        path, an ``Authorization`` header). The registry masks them in errors, health
        and the HTTP stack's logs; the default ``repr`` masks them too.
        """
        return ()

    async def on_start(self) -> None:
        """Open connections, pools or tokens; called when the app is deployed."""

    async def on_stop(self) -> None:
        """Close what :meth:`on_start` opened; called when the app is undeployed."""

    async def health_check(self) -> ChannelHealth:
        """Current health; by default the registry's record of recent deliveries."""
        return self._health.snapshot()

    def retry_policy(self) -> RetryPolicy:
        """How failed, retryable deliveries are retried: 3 retries, 1 s to 60 s."""
        return RetryPolicy()

    def format_text(self, payload: ChannelPayload) -> str:
        """Plain text: ``[title] message`` followed by ``#tags``."""
        text = f"[{payload.title}] {payload.message}" if payload.title else payload.message
        if payload.tags:
            text = f"{text} {' '.join('#' + tag for tag in payload.tags)}"
        return text

    def format_rich(self, payload: ChannelPayload) -> str:
        """``rich_message`` when given, else an escaped HTML rendering of the payload."""
        if payload.rich_message:
            return payload.rich_message
        parts = []
        if payload.title:
            parts.append(f"<b>{html.escape(payload.title)}</b>")
        parts.append(html.escape(payload.message).replace("\n", "<br>"))
        if payload.tags:
            parts.append(" ".join(f"<i>#{html.escape(tag)}</i>" for tag in payload.tags))
        return "<br>".join(parts)

    async def resolve_recipient(self, context: RecipientContext) -> dict[str, Any]:
        """Per-delivery config for ``context``; explicit ``output_config`` must win.

        The default returns ``context.output_config`` unchanged. Override it to look
        the recipient up from ``context.session_id``; a YAML ``user_resolver`` on the
        channel, when configured, takes precedence over this method.
        """
        return context.output_config

    # -- health bookkeeping (called by the registry) --------------------------------------

    def _record_success(self, latency_ms: float, now: datetime) -> None:
        self._health.record_success(latency_ms, now)

    def _record_failure(self, error: str | None, latency_ms: float, now: datetime) -> None:
        self._health.record_failure(error, latency_ms, now)

    def __repr__(self) -> str:
        # channel_config holds Secret strings, whose repr is masked; literal secrets
        # (a token in a URL path) are masked through sensitive_values().
        config = Redactor(self.sensitive_values()).redact(repr(self.channel_config))
        return (
            f"<{type(self).__name__} name={self.name!r} type={self.CHANNEL_ID!r} "
            f"app={self.app_id!r} config={config}>"
        )
