"""One watcher's live state, and the conversions to and from its stored and shown forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import anyio

from digitorn_notify._convert import converter
from digitorn_notify.storage.protocols import unreadable_reason
from digitorn_notify.watchers._history import CheckHistory, HistoryEntry
from digitorn_notify.watchers._models import FORMAT_VERSION, PersistedWatcher, WatcherSpec
from digitorn_notify.watchers._results import HistoryItem, WatcherSummary
from digitorn_notify.watchers._strategies import Strategy, build_strategy

__all__ = ["PAUSED", "RUNNING", "STOPPED", "Watcher", "history_item", "moment"]

RUNNING: Final = "running"
PAUSED: Final = "paused"
STOPPED: Final = "stopped"


def moment(timestamp: float) -> datetime:
    """A POSIX timestamp as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp, UTC)


def _datetime(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else moment(timestamp)


def _timestamp(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def history_item(entry: HistoryEntry) -> HistoryItem:
    """A history entry as ``history`` shows it."""
    ok, truncated = entry.ok, entry.truncated
    return HistoryItem(
        check=entry.check,
        checked_at=moment(entry.at),
        duration_ms=round(entry.duration * 1000, 3),
        ok=ok,
        notified=entry.notified,
        result=json.loads(entry.text) if ok and not truncated else None,
        error=None if ok else entry.text,
        truncated=ok and truncated,
        result_preview=entry.text if ok and truncated else None,
    )


class Watcher:
    """The live state of a watcher inside the engine (not part of the public API).

    ``next_due``, ``tick_seq`` and ``busy`` belong to the engine's timing loop:
    ``tick_seq`` names the one heap entry that is current (others are stale), and
    ``busy`` is true from the moment a check is queued until it is fully recorded.
    ``generation`` changes when a stuck check is abandoned, so its late result is
    ignored.
    """

    __slots__ = (
        "busy",
        "check_count",
        "check_started",
        "consecutive_errors",
        "crash_streak",
        "crashes",
        "error_count",
        "generation",
        "history",
        "last_check_at",
        "last_crash",
        "last_delivery_error",
        "last_error",
        "last_ok",
        "last_result",
        "next_due",
        "notification_count",
        "paused_at",
        "running_check",
        "saved_checks",
        "scope",
        "skipped_checks",
        "spec",
        "status",
        "strategy",
        "tick_seq",
        "timeouts",
        "total_duration",
    )

    def __init__(self, spec: WatcherSpec, strategy: Strategy, history_size: int) -> None:
        self.spec = spec
        self.strategy = strategy
        self.history = CheckHistory(history_size)
        self.status: str = RUNNING
        self.check_count = 0
        self.notification_count = 0
        self.error_count = 0
        self.consecutive_errors = 0
        self.skipped_checks = 0
        self.timeouts = 0
        self.crashes = 0
        self.crash_streak = 0
        self.total_duration = 0.0
        self.last_check_at: float | None = None
        self.last_ok: bool | None = None
        self.last_result: str | None = None
        self.last_error: str | None = None
        self.last_delivery_error: str | None = None
        self.last_crash: str | None = None
        self.paused_at: float | None = None
        self.next_due = 0.0
        self.tick_seq = -1
        self.busy = False
        self.running_check = 0
        self.check_started = 0.0
        self.generation = 0
        self.scope: anyio.CancelScope | None = None
        self.saved_checks = 0

    @property
    def watcher_id(self) -> str:
        """The watcher's id."""
        return self.spec.watcher_id

    @property
    def last_text(self) -> str | None:
        """The text of the last check: its result's JSON, or its error."""
        return self.last_result if self.last_ok else self.last_error

    def snapshot(self, status: str | None = None) -> dict[str, Any]:
        """The stored form (``WatcherRecord.data``), optionally with another status."""
        persisted = PersistedWatcher(
            version=FORMAT_VERSION,
            spec=self.spec,
            status=status or self.status,  # type: ignore[arg-type]
            check_count=self.check_count,
            notification_count=self.notification_count,
            error_count=self.error_count,
            consecutive_errors=self.consecutive_errors,
            skipped_checks=self.skipped_checks,
            timeouts=self.timeouts,
            crashes=self.crashes,
            total_duration=self.total_duration,
            last_check_at=_datetime(self.last_check_at),
            last_ok=self.last_ok,
            last_result=self.last_result,
            last_error=self.last_error,
            paused_at=_datetime(self.paused_at),
            strategy_state=self.strategy.dump(),
        )
        data: dict[str, Any] = converter.unstructure(persisted)
        return data

    @classmethod
    def from_snapshot(cls, data: dict[str, Any], history_size: int) -> Watcher:
        """Rebuild a watcher from :meth:`snapshot`'s output; ``ValueError`` if it is not one."""
        undecodable = unreadable_reason(data)
        if undecodable is not None:  # the store could not decode the row (a torn write...)
            raise ValueError(undecodable)
        version = data.get("version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"stored format version {version!r}; this version reads {FORMAT_VERSION}"
            )
        persisted = converter.structure(data, PersistedWatcher)
        spec = persisted.spec
        strategy = build_strategy(spec.notify_when, spec.notify_config)
        strategy.load(persisted.strategy_state)
        watcher = cls(spec, strategy, history_size)
        watcher.status = persisted.status
        watcher.check_count = watcher.saved_checks = persisted.check_count
        watcher.history.last_check = persisted.check_count
        watcher.notification_count = persisted.notification_count
        watcher.error_count = persisted.error_count
        watcher.consecutive_errors = persisted.consecutive_errors
        watcher.skipped_checks = persisted.skipped_checks
        watcher.timeouts = persisted.timeouts
        watcher.crashes = persisted.crashes
        watcher.total_duration = persisted.total_duration
        watcher.last_check_at = _timestamp(persisted.last_check_at)
        watcher.last_ok = persisted.last_ok
        watcher.last_result = persisted.last_result
        watcher.last_error = persisted.last_error
        watcher.paused_at = _timestamp(persisted.paused_at)
        return watcher

    def summary(self) -> WatcherSummary:
        """The watcher as one line of ``list``."""
        spec = self.spec
        return WatcherSummary(
            watcher_id=spec.watcher_id,
            tool_name=spec.tool_name,
            label=spec.label,
            status=RUNNING if self.status == RUNNING else PAUSED,
            interval=spec.interval,
            notify_when=spec.notify_when,
            check_count=self.check_count,
            notification_count=self.notification_count,
            error_count=self.error_count,
            last_check_at=_datetime(self.last_check_at),
        )

    def __repr__(self) -> str:
        # Never the params or results: they may hold tokens.
        spec = self.spec
        return (
            f"<Watcher {spec.watcher_id} app={spec.app_id!r} tool={spec.tool_name!r} "
            f"{self.status} checks={self.check_count}>"
        )
