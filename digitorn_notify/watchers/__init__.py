"""Watchers: persistent monitors that check a tool on an interval and notify when it matters.

::

    async with WatcherEngine(registry, invoker, store=store) as engine:
        started = await engine.start("http.get", {"url": "https://api.example.com/health"},
                                     app_id="my-app", interval=30, label="API health",
                                     notify_when="on_error")

A check runs the host's tool through its :class:`~digitorn_notify.host.ActionInvoker`;
an escalation strategy (``on_change``, ``on_error``, ``on_threshold``, ``summary``,
``always``) decides whether the result is worth a ``[WATCHER UPDATE]`` notification,
which the :class:`~digitorn_notify.channels.ChannelRegistry` delivers. Watchers are
saved in a :class:`~digitorn_notify.storage.WatcherStore` and come back with
:meth:`WatcherEngine.restore`. The guide is ``docs/watchers.md``.

Modules: ``_engine`` (the public requests), ``_timing`` (when checks run), ``_runner``
(what a check does), ``_saver`` (the store), ``_watcher`` (one watcher's state),
``_strategies``, ``_history`` (the ring buffer), ``_encode`` (results as JSON text),
``_format`` (the notification), ``_models`` (the arguments and the stored form),
``_results`` (the answers).
"""

from digitorn_notify.errors import ToolNotAllowedError, WatcherError, WatcherNotFoundError
from digitorn_notify.watchers._encode import default_error_detector
from digitorn_notify.watchers._engine import WatcherEngine
from digitorn_notify.watchers._format import MAX_NOTICE_CHARS
from digitorn_notify.watchers._history import HISTORY_SIZE
from digitorn_notify.watchers._models import MAX_INTERVAL, MIN_INTERVAL, WatcherSpec
from digitorn_notify.watchers._results import (
    HistoryItem,
    RestoreReport,
    WatcherChange,
    WatcherHistory,
    WatcherList,
    WatcherStarted,
    WatcherStatus,
    WatcherSummary,
)
from digitorn_notify.watchers._runner import ErrorDetector, WatcherEngineStats
from digitorn_notify.watchers._strategies import MAX_BATCH_SIZE, STRATEGIES

STRATEGY_NAMES: tuple[str, ...] = tuple(STRATEGIES)
"""``on_change``, ``on_error``, ``on_threshold``, ``summary``, ``always``."""

__all__ = [
    "HISTORY_SIZE",
    "MAX_BATCH_SIZE",
    "MAX_INTERVAL",
    "MAX_NOTICE_CHARS",
    "MIN_INTERVAL",
    "STRATEGY_NAMES",
    "ErrorDetector",
    "HistoryItem",
    "RestoreReport",
    "ToolNotAllowedError",
    "WatcherChange",
    "WatcherEngine",
    "WatcherEngineStats",
    "WatcherError",
    "WatcherHistory",
    "WatcherList",
    "WatcherNotFoundError",
    "WatcherSpec",
    "WatcherStarted",
    "WatcherStatus",
    "WatcherSummary",
    "default_error_detector",
]
