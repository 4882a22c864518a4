"""A watcher's configuration and its stored form.

:class:`WatcherSpec` is what ``start``'s arguments are structured into (through the
one converter, so a bad argument is a :class:`~digitorn_notify.errors.ConfigError`
naming it) and what never changes afterwards; the same rules hold when a stored
watcher is read back. :class:`PersistedWatcher` is what the
:class:`~digitorn_notify.storage.WatcherStore` holds (``WatcherRecord.data`` is its
unstructured form): the spec, the status, the counters and the strategy's decision
state, but not the history, which a restart starts afresh. The answers of the
engine are in :mod:`._results`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final, Literal

import attrs

from digitorn_notify._validators import identifier, json_object, non_empty
from digitorn_notify.errors import ConfigError

__all__ = [
    "FORMAT_VERSION",
    "MAX_INTERVAL",
    "MAX_LABEL_LENGTH",
    "MIN_INTERVAL",
    "PersistedWatcher",
    "Status",
    "WatcherSpec",
    "number_for_json",
    "validate_last_n",
]

#: The shortest and longest interval between checks, in seconds.
MIN_INTERVAL: Final = 5.0
MAX_INTERVAL: Final = 3600.0
#: The version of :class:`PersistedWatcher` this code writes (and the only one it reads).
FORMAT_VERSION: Final = 1
MAX_LABEL_LENGTH: Final = 500
_TOOL_NAME = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")

Status = Literal["running", "paused"]


def _tool_name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _TOOL_NAME.fullmatch(value):
        raise ConfigError(
            "must be the tool's name ('module.action'), 1 to 200 characters without spaces, "
            f"got {value!r}",
            path=attribute.name,
        )


def _interval(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if not MIN_INTERVAL <= value <= MAX_INTERVAL:
        raise ConfigError(
            f"must be a number of seconds between {MIN_INTERVAL:g} and {MAX_INTERVAL:g}, "
            f"got {value!r}",
            path=attribute.name,
        )


def _label(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if len(value) > MAX_LABEL_LENGTH:
        raise ConfigError(
            f"must be at most {MAX_LABEL_LENGTH} characters, got {len(value)}", path=attribute.name
        )


def _params(value: Any) -> dict[str, Any]:
    return json_object(value, "params")


def _notify_config(value: Any) -> dict[str, Any]:
    return json_object(value, "notify_config")


def _output_config(value: Any) -> dict[str, Any]:
    return json_object(value, "output_config")


@attrs.frozen
class WatcherSpec:
    """What a watcher checks, how often, and where it reports. Fixed at ``start``.

    Mappings are JSON-normalised copies (they are stored, and must survive a
    restart); ``output_channel`` ``None`` means the engine's ``default_channel``,
    read at each notification.
    """

    watcher_id: str = attrs.field(validator=identifier)
    app_id: str = attrs.field(validator=identifier)
    tool_name: str = attrs.field(validator=_tool_name)
    params: dict[str, Any] = attrs.field(converter=_params)
    interval: float = attrs.field(validator=_interval)
    label: str = attrs.field(validator=_label)
    notify_when: str
    notify_config: dict[str, Any] = attrs.field(converter=_notify_config)
    output_channel: str | None = attrs.field(validator=non_empty)
    output_config: dict[str, Any] = attrs.field(converter=_output_config)
    session_id: str | None = attrs.field(validator=non_empty)
    created_at: datetime


@attrs.frozen
class PersistedWatcher:
    """The stored state of a watcher (``WatcherRecord.data``, through the cattrs converter)."""

    version: int
    spec: WatcherSpec
    status: Status
    check_count: int = 0
    notification_count: int = 0
    error_count: int = 0
    consecutive_errors: int = 0
    skipped_checks: int = 0
    timeouts: int = 0
    crashes: int = 0
    total_duration: float = 0.0
    last_check_at: datetime | None = None
    last_ok: bool | None = None
    last_result: str | None = None
    last_error: str | None = None
    paused_at: datetime | None = None
    strategy_state: dict[str, Any] = attrs.field(factory=dict)


def number_for_json(value: float) -> int | float:
    """``30.0`` as ``30``: how the spec's responses write whole intervals."""
    return int(value) if float(value).is_integer() else value


def validate_last_n(last_n: Any, size: int) -> int:
    """``last_n`` checked against 1..``size``, or :class:`ConfigError`."""
    if not isinstance(last_n, int) or isinstance(last_n, bool) or not 1 <= last_n <= size:
        raise ConfigError(
            f"must be a whole number between 1 and {size}, got {last_n!r}", path="last_n"
        )
    return last_n
