"""The values that cross the channel boundary.

Every channel receives a :class:`ChannelPayload` and answers with a
:class:`DeliveryResult`; channels describe themselves with
:class:`ChannelCapabilities` and report their state as :class:`ChannelHealth`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import attrs

from digitorn_notify._convert import converter

__all__ = [
    "ChannelCapabilities",
    "ChannelHealth",
    "ChannelPayload",
    "DeliveryResult",
    "HealthStatus",
    "PayloadAttachment",
    "Priority",
]


class Priority(enum.StrEnum):
    """How urgent a notification is; compares equal to its string value."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"


def _priority(value: Priority | str) -> Priority:
    if type(value) is Priority:
        return value  # the usual case, without the cost of an enum lookup
    try:
        return Priority(value)
    except ValueError:
        accepted = ", ".join(p.value for p in Priority)
        raise ValueError(f"priority {value!r} is not one of: {accepted}") from None


def _str_list(value: Sequence[str] | None, field: str) -> list[str]:
    """``value`` as a list of strings; the error names ``field``."""
    if value is None:
        return []
    if isinstance(value, str):
        # A lone string is almost always a single tag, not a list of characters.
        return [value]
    if not isinstance(value, list | tuple):
        raise TypeError(f"{field}: expected a list of strings, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{field}: expected strings, found {type(item).__name__}")
    return list(value)


def _tags(value: Sequence[str] | None) -> list[str]:
    return _str_list(value, "tags")


def _formats(value: Sequence[str] | None) -> list[str]:
    return _str_list(value, "supported_formats")


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if value is None else dict(value)


@attrs.frozen
class PayloadAttachment:
    """A file attached to a payload: inline ``content``, a local ``path`` or a ``url``."""

    filename: str
    content: bytes | None = None
    path: str | None = None
    url: str | None = None
    content_type: str = "application/octet-stream"

    def __attrs_post_init__(self) -> None:
        given = [name for name in ("content", "path", "url") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                f"attachment {self.filename!r} needs exactly one of content, path or url "
                f"(got {', '.join(given) or 'none'})"
            )


def _attachments(
    value: Sequence[PayloadAttachment | Mapping[str, Any]] | None,
) -> list[PayloadAttachment]:
    if value is None:
        return []
    return [
        item
        if isinstance(item, PayloadAttachment)
        else converter.structure(item, PayloadAttachment)
        for item in value
    ]


@attrs.frozen
class ChannelPayload:
    """What every channel receives: one notification in all the forms channels need.

    ``message`` is always present (the plain-text fallback); the other fields are for
    channels that can use them.
    """

    message: str = attrs.field(validator=attrs.validators.instance_of(str))
    title: str | None = None
    rich_message: str | None = None
    structured_data: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    attachments: list[PayloadAttachment] = attrs.field(factory=list, converter=_attachments)
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    thread_id: str | None = None
    priority: Priority = attrs.field(default=Priority.NORMAL, converter=_priority)
    tags: list[str] = attrs.field(factory=list, converter=_tags)


@attrs.frozen
class DeliveryResult:
    """The outcome of one delivery.

    ``retryable`` says whether the failure is transient; ``retry_after`` is a delay the
    destination asked for (an HTTP ``Retry-After``), honoured by the registry's retry
    loop within the channel's ``backoff_max``. ``buffered`` is true when the
    notification was stored for later rather than handed over.
    """

    success: bool
    channel_id: str
    delivery_id: str | None = None
    error: str | None = None
    retryable: bool = False
    buffered: bool = False
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_dict)
    retry_after: float | None = None


@attrs.frozen
class ChannelCapabilities:
    """What a channel can render; the default is plain text only."""

    supports_rich_text: bool = False
    supports_attachments: bool = False
    supports_threading: bool = False
    supports_batching: bool = False
    max_message_length: int | None = None
    supported_formats: list[str] = attrs.field(factory=lambda: ["text"], converter=_formats)


HealthStatus = Literal["ok", "degraded", "down"]


@attrs.frozen
class ChannelHealth:
    """A snapshot of one channel instance's delivery health.

    ``status`` is ``"ok"``, ``"degraded"`` (more than 10 % failures over the recent
    window) or ``"down"`` (several consecutive failures). ``latency_ms`` is the mean
    latency over the recent window; ``last_latency_ms`` that of the last delivery.
    """

    status: HealthStatus = "ok"
    deliveries_total: int = 0
    failures_total: int = 0
    failure_rate: float = 0.0
    consecutive_failures: int = 0
    latency_ms: float | None = None
    last_latency_ms: float | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None
