"""What the watcher engine answers: frozen attrs objects whose ``to_dict()`` is the spec's shape.

Times are aware UTC datetimes on the objects and ISO 8601 with a ``Z`` in the dicts
(as the scheduler's answers); intervals are floats on the objects and, in the dicts,
whole numbers when they are whole (``30``, as the spec writes them). Lists are their
own objects (:class:`WatcherList`) that also iterate over their items.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from digitorn_notify.clock import iso
from digitorn_notify.watchers._models import Status, number_for_json

__all__ = [
    "HistoryItem",
    "RestoreReport",
    "WatcherChange",
    "WatcherHistory",
    "WatcherList",
    "WatcherStarted",
    "WatcherStatus",
    "WatcherSummary",
]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


@attrs.frozen(kw_only=True)
class WatcherStarted:
    """What ``start`` returns (``to_dict()`` is the spec's ``watch_start`` response)."""

    watcher_id: str
    tool_name: str
    label: str
    status: Status
    interval: float
    notify_when: str
    hint: str

    def to_dict(self) -> dict[str, Any]:
        """``watcher_id``, ``tool_name``, ``label``, ``status``, ``interval``,
        ``notify_when`` and the ``hint`` sentence."""
        return {
            "watcher_id": self.watcher_id,
            "tool_name": self.tool_name,
            "label": self.label,
            "status": self.status,
            "interval": number_for_json(self.interval),
            "notify_when": self.notify_when,
            "hint": self.hint,
        }


@attrs.frozen(kw_only=True)
class WatcherChange:
    """What ``stop``, ``pause`` and ``resume`` return."""

    watcher_id: str
    tool_name: str
    label: str
    status: Literal["running", "paused", "stopped"]
    previous_status: Status
    check_count: int
    notification_count: int
    hint: str

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON values."""
        return attrs.asdict(self)


@attrs.frozen(kw_only=True)
class HistoryItem:
    """One check in ``history`` and ``status``: ``result`` or ``error``, per ``ok``.

    A result longer than the engine's ``max_result_chars`` is kept as the
    ``result_preview`` text, with ``truncated`` set.
    """

    check: int
    checked_at: datetime
    duration_ms: float
    ok: bool
    notified: bool
    result: Any = None
    error: str | None = None
    truncated: bool = False
    result_preview: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``check``, ``checked_at``, ``duration_ms``, ``ok``, then ``error``, or
        ``truncated`` and ``result_preview``, or ``result``; then ``notified``."""
        item: dict[str, Any] = {
            "check": self.check,
            "checked_at": iso(self.checked_at),
            "duration_ms": self.duration_ms,
            "ok": self.ok,
        }
        if not self.ok:
            item["error"] = self.error
        elif self.truncated:
            item["truncated"] = True
            item["result_preview"] = self.result_preview
        else:
            item["result"] = self.result
        item["notified"] = self.notified
        return item


@attrs.frozen(kw_only=True)
class WatcherSummary:
    """One watcher in ``list``."""

    watcher_id: str
    tool_name: str
    label: str
    status: Status
    interval: float
    notify_when: str
    check_count: int
    notification_count: int
    error_count: int
    last_check_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON values."""
        return {
            "watcher_id": self.watcher_id,
            "tool_name": self.tool_name,
            "label": self.label,
            "status": self.status,
            "interval": number_for_json(self.interval),
            "notify_when": self.notify_when,
            "check_count": self.check_count,
            "notification_count": self.notification_count,
            "error_count": self.error_count,
            "last_check_at": _iso(self.last_check_at),
        }


@attrs.frozen
class WatcherList:
    """What ``list`` returns: the app's watchers, running ones first.

    Iterates over its :class:`WatcherSummary` items; ``to_dict()`` is ``watch_list``'s
    answer (``watchers``, ``total``, ``running``, ``paused``).
    """

    watchers: tuple[WatcherSummary, ...] = ()

    def __iter__(self) -> Iterator[WatcherSummary]:
        return iter(self.watchers)

    def __len__(self) -> int:
        return len(self.watchers)

    def __getitem__(self, index: int) -> WatcherSummary:
        return self.watchers[index]

    @property
    def total(self) -> int:
        """How many watchers the app has."""
        return len(self.watchers)

    @property
    def running(self) -> int:
        """How many of them are running."""
        return sum(1 for w in self.watchers if w.status == "running")

    @property
    def paused(self) -> int:
        """How many of them are paused."""
        return self.total - self.running

    def to_dict(self) -> dict[str, Any]:
        """``watchers`` (summaries), ``total``, ``running`` and ``paused``."""
        return {
            "watchers": [w.to_dict() for w in self.watchers],
            "total": self.total,
            "running": self.running,
            "paused": self.paused,
        }


@attrs.frozen(kw_only=True)
class WatcherStatus:
    """What ``status`` returns: metrics, last result, recent history, full configuration.

    ``output_channel`` is where the next notification goes (the default channel when
    the watcher names none); ``next_check_at`` is ``None`` while paused;
    ``mean_check_duration_ms`` is ``None`` before the first check.
    """

    watcher_id: str
    app_id: str
    tool_name: str
    label: str
    status: Status
    interval: float
    notify_when: str
    notify_config: dict[str, Any]
    params: dict[str, Any]
    output_channel: str
    output_config: dict[str, Any]
    session_id: str | None
    created_at: datetime
    paused_at: datetime | None
    check_count: int
    notification_count: int
    error_count: int
    consecutive_errors: int
    skipped_checks: int
    timeouts: int
    crashes: int
    last_check_at: datetime | None
    next_check_at: datetime | None
    mean_check_duration_ms: float | None
    last_result: Any
    last_error: str | None
    last_delivery_error: str | None
    last_crash: str | None
    check_running: bool
    recent_history: tuple[HistoryItem, ...]

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON values (times as ISO 8601 text)."""
        data: dict[str, Any] = {}
        for field in attrs.fields(WatcherStatus):
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = iso(value)
            elif field.name == "interval":
                value = number_for_json(value)
            elif field.name == "recent_history":
                value = [item.to_dict() for item in value]
            elif isinstance(value, dict):
                value = dict(value)
            data[field.name] = value
        return data


@attrs.frozen(kw_only=True)
class WatcherHistory:
    """What ``history`` returns: the newest ``last_n`` checks, oldest first."""

    watcher_id: str
    tool_name: str
    label: str
    check_count: int
    entries: tuple[HistoryItem, ...]

    @property
    def count(self) -> int:
        """How many entries there are."""
        return len(self.entries)

    def to_dict(self) -> dict[str, Any]:
        """``watcher_id``, ``tool_name``, ``label``, ``check_count``, ``count``, ``entries``."""
        return {
            "watcher_id": self.watcher_id,
            "tool_name": self.tool_name,
            "label": self.label,
            "check_count": self.check_count,
            "count": self.count,
            "entries": [entry.to_dict() for entry in self.entries],
        }


@attrs.frozen(kw_only=True)
class RestoreReport:
    """What ``restore`` returns.

    ``restored`` lists the ids recreated, ``running`` and ``paused`` count them by
    status, ``already_loaded`` lists ids this engine was already running (a host that
    starts its watchers with ``watcher_id=`` at boot and then restores finds them
    here, not twice), and ``skipped`` maps the id of every record that could not be
    restored to the reason (the record stays in the store).
    """

    app_id: str
    restored: tuple[str, ...] = ()
    running: int = 0
    paused: int = 0
    already_loaded: tuple[str, ...] = ()
    skipped: Mapping[str, str] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Every field, as JSON values."""
        return {
            "app_id": self.app_id,
            "restored": list(self.restored),
            "running": self.running,
            "paused": self.paused,
            "already_loaded": list(self.already_loaded),
            "skipped": dict(self.skipped),
        }
