"""``WatcherEngine``: the public face of watchers (start, stop, pause, ..., restore).

The machinery lives below it: :mod:`._timing` decides when checks run (one timer over
a heap of due times, checks inline until one waits), :mod:`._runner` runs a check and
reports it, :mod:`._saver` keeps the store up to date. This module validates requests,
keeps the per-app bookkeeping and shapes the answers.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from digitorn_notify._convert import describe_structure_error
from digitorn_notify.channels.registry import ChannelRegistry
from digitorn_notify.clock import Clock
from digitorn_notify.errors import ConfigError, ToolNotAllowedError, WatcherNotFoundError
from digitorn_notify.host import ActionInvoker, Policy, PolicyGuard
from digitorn_notify.storage.protocols import WatcherRecord, WatcherStore
from digitorn_notify.watchers._format import format_interval
from digitorn_notify.watchers._history import HISTORY_SIZE
from digitorn_notify.watchers._models import (
    RestoreReport,
    WatcherChange,
    WatcherHistory,
    WatcherList,
    WatcherSpec,
    WatcherStarted,
    WatcherStatus,
    json_object,
    number_for_json,
    optional_name,
    validate_interval,
    validate_label,
    validate_last_n,
    validate_tool_name,
)
from digitorn_notify.watchers._runner import ErrorDetector, Runner, WatcherEngineStats
from digitorn_notify.watchers._strategies import build_strategy
from digitorn_notify.watchers._watcher import PAUSED, RUNNING, Watcher, history_item, iso

__all__ = ["WatcherEngine"]

logger = logging.getLogger("digitorn_notify.watchers")

_RECENT = 5


class WatcherEngine:
    """Persistent watchers: check a host tool on an interval, notify only when it matters.

    Run it as an async context manager inside your program::

        async with WatcherEngine(registry, invoker, store=store, guard=guard) as engine:
            await engine.restore("my-app")          # after a restart
            started = await engine.start("http.get", {"url": "..."}, interval=30,
                                         label="API health", notify_when="on_error")

    ``registry`` delivers the notifications; ``invoker`` runs the checks (an
    :class:`~digitorn_notify.host.ActionInvoker` or an ``async def (tool_name, params)``);
    ``guard`` says which tools may run unattended (``None`` allows every tool); ``store``
    keeps watchers across restarts (default: a fresh ``MemoryStore``); ``clock`` defaults
    to the registry's.

    ``app_id`` is the app of calls that do not name one. ``default_channel`` is where
    watchers without an ``output_channel`` report: a channel name, or a function of the
    app id returning one (``None`` for ``llm_notification``), so that the app's
    ``execution.default_channel`` can be honoured. ``check_timeout`` bounds each check
    (seconds, measured on ``clock``); ``max_concurrent_checks`` bounds checks in flight
    across all watchers; ``save_every`` is how many checks a watcher may run between two
    saves of its counters; ``max_result_chars`` is the longest result text kept whole in
    the history; ``error_detector`` decides whether a result that came back without an
    exception reports a failure (default: :func:`default_error_detector`).
    """

    def __init__(
        self,
        registry: ChannelRegistry,
        invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]],
        *,
        store: WatcherStore | None = None,
        guard: PolicyGuard | Callable[[str], Policy | str] | None = None,
        clock: Clock | None = None,
        app_id: str = "default",
        default_channel: str | Callable[[str], str | None] = "llm_notification",
        check_timeout: float = 30.0,
        max_concurrent_checks: int = 100,
        save_every: int = 10,
        max_result_chars: int = 65_536,
        error_detector: ErrorDetector | None = None,
    ) -> None:
        self._runner = Runner(
            registry,
            invoker,
            store=store,
            guard=guard,
            clock=clock,
            default_channel=default_channel,
            check_timeout=check_timeout,
            max_concurrent_checks=max_concurrent_checks,
            save_every=save_every,
            max_result_chars=max_result_chars,
            error_detector=error_detector,
        )
        #: The app of calls that do not name one.
        self.app_id = app_id

    @property
    def registry(self) -> ChannelRegistry:
        """The registry notifications go through."""
        return self._runner.registry

    @property
    def store(self) -> WatcherStore:
        """Where watchers are saved."""
        return self._runner.store

    @property
    def clock(self) -> Clock:
        """The engine's clock (intervals, timeouts and timestamps)."""
        return self._runner.clock

    async def __aenter__(self) -> WatcherEngine:
        await self._runner.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._runner.close()

    # -- requests ---------------------------------------------------------------------------

    async def start(
        self,
        tool_name: str,
        params: Mapping[str, Any] | None = None,
        interval: float = 30,
        label: str = "",
        notify_when: str = "on_change",
        notify_config: Mapping[str, Any] | None = None,
        output_channel: str | None = None,
        output_config: Mapping[str, Any] | None = None,
        session_id: str | None = None,
        *,
        app_id: str | None = None,
    ) -> WatcherStarted:
        """Start watching ``tool_name``; the first check runs at once.

        Raises :class:`~digitorn_notify.errors.ConfigError` (naming the argument) for an
        interval outside 5..3600 s, an unknown strategy, a bad ``notify_config``, an
        unknown ``output_channel`` or arguments that are not JSON, and
        :class:`~digitorn_notify.errors.ToolNotAllowedError` when the host's policy does
        not rate the tool ``AUTO``. Nothing is created when it raises.
        """
        self._runner.require_running()
        app = self.app_id if app_id is None else app_id
        tool_name = validate_tool_name(tool_name)
        interval = validate_interval(interval)
        label = validate_label(label)
        strategy = build_strategy(notify_when, notify_config)
        spec = WatcherSpec(
            watcher_id=self._new_id(),
            app_id=app,
            tool_name=tool_name,
            params=json_object(params, "params"),
            interval=interval,
            label=label,
            notify_when=notify_when,
            notify_config=json_object(notify_config, "notify_config"),
            output_channel=self._validate_channel(output_channel, app),
            output_config=json_object(output_config, "output_config"),
            session_id=optional_name(session_id, "session_id"),
            created_at=self.clock.now(),
        )
        policy = self._runner.policy_of(tool_name)
        if policy is not None:
            raise ToolNotAllowedError(
                f"{tool_name!r} cannot be watched: {policy}; watchers run unattended, so only "
                "tools the host's policy rates AUTO can be watched"
            )
        watcher = Watcher(spec, strategy, HISTORY_SIZE)
        await self._runner.saver.save(watcher)  # persisted before it runs
        self._runner.add(watcher, due=self.clock.monotonic())
        shown = label or tool_name
        return {
            "watcher_id": spec.watcher_id,
            "tool_name": tool_name,
            "label": label,
            "status": RUNNING,
            "interval": number_for_json(interval),
            "notify_when": notify_when,
            "hint": (
                f"Watcher '{shown}' started. Checking {tool_name} every "
                f"{format_interval(interval)}. You'll be notified via '{notify_when}' strategy."
            ),
        }

    async def stop(self, watcher_id: str, *, app_id: str | None = None) -> WatcherChange:
        """Stop and remove the watcher (from the store too); its history is discarded.

        A check in flight is cancelled. Raises :class:`WatcherNotFoundError` for an
        unknown id (or one of another app than ``app_id``, when given).
        """
        watcher = self._get(watcher_id, app_id)
        previous = watcher.status
        await self._runner.remove(watcher)
        return self._change(watcher, "stopped", previous, "It was removed; its history is gone.")

    async def pause(self, watcher_id: str, *, app_id: str | None = None) -> WatcherChange:
        """Skip the watcher's checks until :meth:`resume`; history and counters are kept.

        Its cadence goes on: on resume, checks continue at the next tick of the original
        schedule. A check already running finishes and is recorded. Pausing a paused
        watcher changes nothing.
        """
        watcher = self._get(watcher_id, app_id)
        previous = watcher.status
        if previous == RUNNING:
            await self._runner.set_paused(watcher, paused=True)
        return self._change(
            watcher, PAUSED, previous, "Checks are skipped; call watch_resume to restart them."
        )

    async def resume(self, watcher_id: str, *, app_id: str | None = None) -> WatcherChange:
        """Restart the checks of a paused watcher, at the next tick of its cadence.

        Raises :class:`ToolNotAllowedError` if the host's policy no longer rates the
        tool ``AUTO``. Resuming a running watcher changes nothing.
        """
        watcher = self._get(watcher_id, app_id)
        previous = watcher.status
        if previous == PAUSED:
            policy = self._runner.policy_of(watcher.spec.tool_name)
            if policy is not None:
                raise ToolNotAllowedError(f"{watcher.spec.tool_name!r} cannot be resumed: {policy}")
            await self._runner.set_paused(watcher, paused=False)
        when = iso(self._runner.wall_time_of(watcher.next_due))
        return self._change(watcher, RUNNING, previous, f"Next check at {when}.")

    async def status(self, watcher_id: str, *, app_id: str | None = None) -> WatcherStatus:
        """Metrics, last result and error, the five latest checks, and the full configuration."""
        watcher = self._get(watcher_id, app_id)
        spec = watcher.spec
        running = watcher.status == RUNNING
        return {
            "watcher_id": spec.watcher_id,
            "app_id": spec.app_id,
            "tool_name": spec.tool_name,
            "label": spec.label,
            "status": RUNNING if running else PAUSED,
            "interval": number_for_json(spec.interval),
            "notify_when": spec.notify_when,
            "notify_config": spec.notify_config,
            "params": spec.params,
            "output_channel": self._runner.channel_of(spec),
            "output_config": spec.output_config,
            "session_id": spec.session_id,
            "created_at": spec.created_at.isoformat(),
            "paused_at": iso(watcher.paused_at),
            "check_count": watcher.check_count,
            "notification_count": watcher.notification_count,
            "error_count": watcher.error_count,
            "consecutive_errors": watcher.consecutive_errors,
            "skipped_checks": watcher.skipped_checks,
            "timeouts": watcher.timeouts,
            "crashes": watcher.crashes,
            "last_check_at": iso(watcher.last_check_at),
            "next_check_at": iso(self._runner.wall_time_of(watcher.next_due)) if running else None,
            "mean_check_duration_ms": (
                round(watcher.total_duration / watcher.check_count * 1000, 3)
                if watcher.check_count
                else None
            ),
            "last_result": _decoded(watcher.last_result),
            "last_error": watcher.last_error,
            "last_delivery_error": watcher.last_delivery_error,
            "last_crash": watcher.last_crash,
            "check_running": watcher.running_check != 0,
            "recent_history": [history_item(e) for e in watcher.history.last(_RECENT)],
        }

    async def list(self, *, app_id: str | None = None) -> WatcherList:
        """The app's watchers, running ones first, each group oldest first."""
        app = self.app_id if app_id is None else app_id
        watchers = sorted(
            self._runner.watchers_of(app),
            key=lambda w: (w.status != RUNNING, w.spec.created_at, w.spec.watcher_id),
        )
        running = sum(1 for w in watchers if w.status == RUNNING)
        return {
            "watchers": [w.summary() for w in watchers],
            "total": len(watchers),
            "running": running,
            "paused": len(watchers) - running,
        }

    async def history(
        self, watcher_id: str, last_n: int = 10, *, app_id: str | None = None
    ) -> WatcherHistory:
        """The newest ``last_n`` (1..100) checks, oldest first."""
        last_n = validate_last_n(last_n, HISTORY_SIZE)
        watcher = self._get(watcher_id, app_id)
        entries = [history_item(e) for e in watcher.history.last(last_n)]
        return {
            "watcher_id": watcher.spec.watcher_id,
            "tool_name": watcher.spec.tool_name,
            "label": watcher.spec.label,
            "check_count": watcher.check_count,
            "count": len(entries),
            "entries": entries,
        }

    async def restore(self, app_id: str | None = None) -> RestoreReport:
        """Recreate the app's stored watchers: running ones resume, paused ones stay paused.

        Counters and the strategies' state (the ``on_change`` baseline, a run of
        failures) are kept; the history starts empty. A running watcher's next check
        comes one interval after its last one (at once if that time has passed). A
        record that cannot be read is reported in ``skipped`` and left in the store.
        """
        self._runner.require_running()
        app = self.app_id if app_id is None else app_id
        report: RestoreReport = {
            "app_id": app,
            "restored": [],
            "running": 0,
            "paused": 0,
            "already_loaded": [],
            "skipped": {},
        }
        for record in await self.store.list_watchers(app):
            if record.watcher_id in self._runner.watchers:
                report["already_loaded"].append(record.watcher_id)
                continue
            try:
                watcher = self._rebuild(record)
            except Exception as exc:  # anything unreadable is reported, never fatal
                reason = _restore_failure(exc)
                report["skipped"][record.watcher_id] = reason
                logger.error(  # noqa: TRY400 - the reason says it all; no traceback needed
                    "watcher %s of app %s could not be restored and stays in the store: %s",
                    record.watcher_id,
                    app,
                    reason,
                    extra={"watcher_id": record.watcher_id, "app_id": app},
                )
                continue
            self._runner.add(watcher, due=self._restored_due(watcher))
            report["restored"].append(record.watcher_id)
            report["running" if watcher.status == RUNNING else "paused"] += 1
        return report

    # -- helpers -----------------------------------------------------------------------------

    def _rebuild(self, record: WatcherRecord) -> Watcher:
        watcher = Watcher.from_snapshot(record.data, HISTORY_SIZE)
        if (watcher.spec.watcher_id, watcher.spec.app_id) != (record.watcher_id, record.app_id):
            raise ValueError(
                f"the record is stored as {record.watcher_id!r} of app {record.app_id!r} but "
                f"describes {watcher.spec.watcher_id!r} of app {watcher.spec.app_id!r}"
            )
        return watcher

    def _restored_due(self, watcher: Watcher) -> float:
        now = self.clock.monotonic()
        if watcher.last_check_at is None:
            return now
        wait = watcher.last_check_at + watcher.spec.interval - self.clock.now().timestamp()
        return now + min(max(wait, 0.0), watcher.spec.interval)

    def _new_id(self) -> str:
        while True:
            watcher_id = secrets.token_hex(6)
            if watcher_id not in self._runner.watchers:
                return watcher_id

    def _get(self, watcher_id: str, app_id: str | None) -> Watcher:
        watcher = self._runner.watchers.get(watcher_id) if isinstance(watcher_id, str) else None
        if watcher is None or (app_id is not None and watcher.spec.app_id != app_id):
            where = f" in app {app_id!r}" if app_id is not None else ""
            raise WatcherNotFoundError(
                f"no watcher {watcher_id!r}{where}; watch_list shows the existing ones"
            )
        return watcher

    def _validate_channel(self, name: Any, app_id: str) -> str | None:
        checked = optional_name(name, "output_channel")
        if checked is None:
            return None
        known = set(self.registry.instances(app_id)) | set(self.registry.types)
        if checked not in known:
            raise ConfigError(
                f"unknown channel {checked!r}; app {app_id!r} has: {', '.join(sorted(known))}",
                path="output_channel",
            )
        return checked

    def _change(self, watcher: Watcher, status: Any, previous: str, hint: str) -> WatcherChange:
        spec = watcher.spec
        shown = spec.label or spec.tool_name
        verb = {"stopped": "stopped", PAUSED: "paused", RUNNING: "running"}[status]
        unchanged = "already " if status == previous else ""
        return {
            "watcher_id": spec.watcher_id,
            "tool_name": spec.tool_name,
            "label": spec.label,
            "status": status,
            "previous_status": RUNNING if previous == RUNNING else PAUSED,
            "check_count": watcher.check_count,
            "notification_count": watcher.notification_count,
            "hint": f"Watcher '{shown}' {unchanged}{verb}. {hint}",
        }

    def stats(self) -> WatcherEngineStats:
        """Engine-wide counters, for monitoring."""
        return self._runner.collect_stats()

    def __repr__(self) -> str:
        runner = self._runner
        state = "running" if runner.is_running else "stopped"
        return f"<WatcherEngine app_id={self.app_id!r} {state} watchers={len(runner.watchers)}>"


def _decoded(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _restore_failure(exc: BaseException) -> str:
    lines = describe_structure_error(exc, "data")
    return "; ".join(lines) if lines else f"{type(exc).__name__}: {exc}"
