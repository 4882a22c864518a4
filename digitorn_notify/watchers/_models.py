"""A watcher's configuration, its stored form, and the shapes of the engine's answers.

:class:`WatcherSpec` is what ``start`` validated and what never changes afterwards.
:class:`PersistedWatcher` is what the :class:`~digitorn_notify.storage.WatcherStore`
holds (``WatcherRecord.data`` is its unstructured form): the spec, the status, the
counters and the strategy's decision state, but not the history, which a restart
starts afresh. The ``TypedDict`` classes describe the JSON-ready dicts the engine
returns, in the spec's shapes.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, TypedDict

import attrs

from digitorn_notify._limits import MAX_DEPTH, too_deep
from digitorn_notify.errors import ConfigError

__all__ = [
    "FORMAT_VERSION",
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "HistoryItem",
    "PersistedWatcher",
    "RestoreReport",
    "WatcherChange",
    "WatcherHistory",
    "WatcherList",
    "WatcherSpec",
    "WatcherStarted",
    "WatcherStatus",
    "WatcherSummary",
    "validate_interval",
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


@attrs.frozen
class WatcherSpec:
    """What a watcher checks, how often, and where it reports. Fixed at ``start``."""

    watcher_id: str
    app_id: str
    tool_name: str
    params: dict[str, Any]
    interval: float
    label: str
    notify_when: str
    notify_config: dict[str, Any]
    output_channel: str | None
    output_config: dict[str, Any]
    session_id: str | None
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


def validate_interval(interval: Any) -> float:
    """``interval`` as a float, or :class:`ConfigError`."""
    if (
        not isinstance(interval, int | float)
        or isinstance(interval, bool)
        or not math.isfinite(interval)
        or not MIN_INTERVAL <= interval <= MAX_INTERVAL
    ):
        raise ConfigError(
            f"must be a number of seconds between {MIN_INTERVAL:g} and {MAX_INTERVAL:g}, "
            f"got {interval!r}",
            path="interval",
        )
    return float(interval)


def validate_last_n(last_n: Any, size: int) -> int:
    """``last_n`` checked against 1..``size``, or :class:`ConfigError`."""
    if not isinstance(last_n, int) or isinstance(last_n, bool) or not 1 <= last_n <= size:
        raise ConfigError(
            f"must be a whole number between 1 and {size}, got {last_n!r}", path="last_n"
        )
    return last_n


def validate_tool_name(tool_name: Any) -> str:
    """A non-empty name without spaces or control characters, at most 200 characters."""
    if not isinstance(tool_name, str) or not _TOOL_NAME.fullmatch(tool_name):
        raise ConfigError(
            "must be the tool's name ('module.action'), 1 to 200 characters without spaces, "
            f"got {tool_name!r}",
            path="tool_name",
        )
    return tool_name


def validate_label(label: Any) -> str:
    """A string of at most 500 characters."""
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
        shown = f"{len(label)} characters" if isinstance(label, str) else repr(label)
        raise ConfigError(
            f"must be a string of at most {MAX_LABEL_LENGTH} characters, got {shown}", path="label"
        )
    return label


def json_object(value: Any, path: str) -> dict[str, Any]:
    """A deep, JSON-normalised copy of a mapping (``None`` is ``{}``), or :class:`ConfigError`.

    Watcher arguments are stored for restore, so they must survive a JSON round trip;
    copying also means a caller mutating its dict later does not change the watcher.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"must be an object, got {type(value).__name__}", path=path)
    if too_deep(value):
        raise ConfigError(f"is nested deeper than {MAX_DEPTH} levels", path=path)
    try:
        copied = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"must hold only JSON values (they are stored to survive restarts): {exc}", path=path
        ) from None
    assert isinstance(copied, dict)
    return copied


def optional_name(value: Any, path: str) -> str | None:
    """``None`` or a non-empty string."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"must be a non-empty string or null, got {value!r}", path=path)
    return value


class WatcherStarted(TypedDict):
    """What ``start`` returns (the spec's ``watch_start`` response)."""

    watcher_id: str
    tool_name: str
    label: str
    status: Status
    interval: int | float
    notify_when: str
    hint: str


class WatcherChange(TypedDict):
    """What ``stop``, ``pause`` and ``resume`` return."""

    watcher_id: str
    tool_name: str
    label: str
    status: Literal["running", "paused", "stopped"]
    previous_status: Status
    check_count: int
    notification_count: int
    hint: str


class HistoryItem(TypedDict, total=False):
    """One check in ``history`` and ``status``: ``result`` or ``error``, per ``ok``.

    A result longer than the engine's ``max_result_chars`` is kept as the
    ``result_preview`` text with ``truncated`` set and ``result_chars`` its full length.
    """

    check: int
    checked_at: str
    duration_ms: float
    ok: bool
    result: Any
    error: str
    notified: bool
    truncated: bool
    result_preview: str


class WatcherSummary(TypedDict):
    """One watcher in ``list``."""

    watcher_id: str
    tool_name: str
    label: str
    status: Status
    interval: int | float
    notify_when: str
    check_count: int
    notification_count: int
    error_count: int
    last_check_at: str | None


class WatcherList(TypedDict):
    """What ``list`` returns: running watchers first."""

    watchers: list[WatcherSummary]
    total: int
    running: int
    paused: int


class WatcherStatus(TypedDict):
    """What ``status`` returns: metrics, last result, recent history, full configuration."""

    watcher_id: str
    app_id: str
    tool_name: str
    label: str
    status: Status
    interval: int | float
    notify_when: str
    notify_config: dict[str, Any]
    params: dict[str, Any]
    output_channel: str
    output_config: dict[str, Any]
    session_id: str | None
    created_at: str
    paused_at: str | None
    check_count: int
    notification_count: int
    error_count: int
    consecutive_errors: int
    skipped_checks: int
    timeouts: int
    crashes: int
    last_check_at: str | None
    next_check_at: str | None
    mean_check_duration_ms: float | None
    last_result: Any
    last_error: str | None
    last_delivery_error: str | None
    last_crash: str | None
    check_running: bool
    recent_history: list[HistoryItem]


class WatcherHistory(TypedDict):
    """What ``history`` returns: the newest ``last_n`` checks, oldest first."""

    watcher_id: str
    tool_name: str
    label: str
    check_count: int
    count: int
    entries: list[HistoryItem]


class RestoreReport(TypedDict):
    """What ``restore`` returns.

    ``restored`` lists the ids recreated, ``running`` and ``paused`` count them by
    status, ``already_loaded`` lists ids this engine was already running, and
    ``skipped`` maps the id of every record that could not be restored to the reason
    (the record stays in the store).
    """

    app_id: str
    restored: list[str]
    running: int
    paused: int
    already_loaded: list[str]
    skipped: dict[str, str]
