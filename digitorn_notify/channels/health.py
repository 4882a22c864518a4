"""Per-instance delivery health: counters, a recent window, and the derived status."""

from __future__ import annotations

from collections import deque
from datetime import datetime

from digitorn_notify.payload import ChannelHealth, HealthStatus

__all__ = ["HealthTracker"]


class HealthTracker:
    """Records delivery attempts and summarises them as a :class:`ChannelHealth`.

    The status is ``down`` after ``down_after`` consecutive failures, ``degraded`` when
    more than ``degraded_above`` of the last ``window`` attempts failed, else ``ok``.
    """

    __slots__ = (
        "_failures_in_window",
        "_latencies",
        "_latency_sum",
        "_outcomes",
        "consecutive_failures",
        "degraded_above",
        "deliveries_total",
        "down_after",
        "failures_total",
        "last_error",
        "last_error_at",
        "last_latency_ms",
        "last_success_at",
    )

    def __init__(
        self, *, window: int = 100, degraded_above: float = 0.10, down_after: int = 5
    ) -> None:
        self.degraded_above = degraded_above
        self.down_after = down_after
        self.deliveries_total = 0
        self.failures_total = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.last_success_at: datetime | None = None
        self.last_latency_ms: float | None = None
        self._outcomes: deque[bool] = deque(maxlen=window)
        self._latencies: deque[float] = deque(maxlen=window)
        self._failures_in_window = 0
        self._latency_sum = 0.0

    def _push(self, *, failed: bool, latency_ms: float) -> None:
        outcomes = self._outcomes
        if len(outcomes) == outcomes.maxlen:
            self._failures_in_window -= outcomes[0]
            self._latency_sum -= self._latencies[0]
        outcomes.append(failed)
        self._latencies.append(latency_ms)
        self._failures_in_window += failed
        self._latency_sum += latency_ms
        self.deliveries_total += 1
        self.last_latency_ms = latency_ms

    def record_success(self, latency_ms: float, now: datetime) -> None:
        """Count a successful attempt."""
        self._push(failed=False, latency_ms=latency_ms)
        self.consecutive_failures = 0
        self.last_success_at = now

    def record_failure(self, error: str | None, latency_ms: float, now: datetime) -> None:
        """Count a failed attempt; ``error`` must already be redacted."""
        self._push(failed=True, latency_ms=latency_ms)
        self.failures_total += 1
        self.consecutive_failures += 1
        self.last_error = error
        self.last_error_at = now

    @property
    def failure_rate(self) -> float:
        """Failures over the recent window, 0.0 to 1.0."""
        return self._failures_in_window / len(self._outcomes) if self._outcomes else 0.0

    @property
    def status(self) -> HealthStatus:
        """``ok``, ``degraded`` or ``down``."""
        if self.consecutive_failures >= self.down_after:
            return "down"
        if self.failure_rate > self.degraded_above:
            return "degraded"
        return "ok"

    def snapshot(self) -> ChannelHealth:
        """An immutable summary."""
        count = len(self._latencies)
        return ChannelHealth(
            status=self.status,
            deliveries_total=self.deliveries_total,
            failures_total=self.failures_total,
            failure_rate=self.failure_rate,
            consecutive_failures=self.consecutive_failures,
            latency_ms=self._latency_sum / count if count else None,
            last_latency_ms=self.last_latency_ms,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            last_success_at=self.last_success_at,
        )
