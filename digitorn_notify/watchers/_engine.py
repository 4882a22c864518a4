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
from datetime import datetime
from typing import Any

import anyio

from digitorn_notify._convert import describe_structure_error, structure
from digitorn_notify.channels._choice import (
    DefaultChannel,
    check_default_channel,
    check_output_channel,
)
from digitorn_notify.channels.registry import ChannelRegistry
from digitorn_notify.clock import Clock, iso
from digitorn_notify.errors import ConfigError, ToolNotAllowedError, WatcherNotFoundError
from digitorn_notify.host import ActionInvoker, Policy, PolicyGuard
from digitorn_notify.storage.protocols import WatcherRecord, WatcherStore
from digitorn_notify.watchers._format import format_interval
from digitorn_notify.watchers._history import HISTORY_SIZE
from digitorn_notify.watchers._models import WatcherSpec, validate_last_n
from digitorn_notify.watchers._results import (
    RestoreReport,
    WatcherChange,
    WatcherHistory,
    WatcherList,
    WatcherStarted,
    WatcherStatus,
)
from digitorn_notify.watchers._runner import ErrorDetector, Runner, WatcherEngineStats
from digitorn_notify.watchers._strategies import build_strategy
from digitorn_notify.watchers._watcher import PAUSED, RUNNING, Watcher, history_item, moment

__all__ = ["WatcherEngine"]

logger = logging.getLogger("digitorn_notify.watchers")

_RECENT = 5


class WatcherEngine:
    """Persistent watchers: check a host tool on an interval, notify only when it matters.

    Run it as an async context manager inside your program::

        async with WatcherEngine(registry, invoker, store=store, guard=guard) as engine:
            await engine.restore(app_id="my-app")          # after a restart
            started = await engine.start("http.get", {"url": "..."}, app_id="my-app",
                                         interval=30, label="API health",
                                         notify_when="on_error")
            print(started.to_dict())                         # the spec's watch_start answer

    One engine serves many apps: every call takes ``app_id``, and one app never sees
    another's watchers. Calls return frozen attrs objects whose ``to_dict()`` is the
    spec's response shape.

    ``registry`` delivers the notifications; ``invoker`` runs the checks (an
    :class:`~digitorn_notify.host.ActionInvoker` or an ``async def (tool_name, params)``);
    ``guard`` says which tools may run unattended (``None`` allows every tool); ``store``
    keeps watchers across restarts (default: a fresh ``MemoryStore``); ``clock`` defaults
    to the registry's.

    ``default_channel`` is where watchers without an ``output_channel`` report, read at
    each notification: a channel name, or a function of the app id returning one
    (``None`` for ``llm_notification``), so that the app's ``execution.default_channel``
    can be honoured. ``check_timeout`` bounds each check
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
        default_channel: DefaultChannel = "llm_notification",
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
            default_channel=check_default_channel(default_channel),
            check_timeout=check_timeout,
            max_concurrent_checks=max_concurrent_checks,
            save_every=save_every,
            max_result_chars=max_result_chars,
            error_detector=error_detector,
        )
        # Creating a watcher with a given id checks, then saves: one at a time.
        self._creating = anyio.Lock()

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
        app_id: str,
        watcher_id: str | None = None,
        replace_existing: bool = False,
    ) -> WatcherStarted:
        """Start watching ``tool_name`` for ``app_id``; the first check runs at once.

        Give ``watcher_id`` to name the watcher yourself; creating an id that exists
        raises, unless ``replace_existing=True``, which replaces it. A host that starts
        its watchers at every boot with fixed ids and then calls :meth:`restore` gets
        each watcher once.

        Raises :class:`~digitorn_notify.errors.ConfigError` naming the argument for an
        interval outside 5..3600 s, an unknown strategy, a bad ``notify_config``, an
        ``output_channel`` the app does not have, arguments that are not JSON or an id
        that exists; and :class:`~digitorn_notify.errors.ToolNotAllowedError` when the
        host's policy does not rate the tool ``AUTO``. Nothing is created when it raises.
        """
        self._runner.require_running()
        if not isinstance(replace_existing, bool):
            raise ConfigError(
                f"expected true or false, got {type(replace_existing).__name__}",
                path="replace_existing",
            )
        arguments = {
            "watcher_id": self._new_id() if watcher_id is None else watcher_id,
            "app_id": app_id,
            "tool_name": tool_name,
            "params": params,
            "interval": interval,
            "label": label,
            "notify_when": notify_when,
            "notify_config": notify_config,
            "output_channel": output_channel,
            "output_config": output_config,
            "session_id": session_id,
            "created_at": self.clock.now(),
        }
        spec = structure(arguments, WatcherSpec)
        strategy = build_strategy(spec.notify_when, spec.notify_config)
        if spec.output_channel is not None:
            check_output_channel(self.registry, spec.app_id, spec.output_channel)
        policy = self._runner.policy_of(spec.tool_name)
        if policy is not None:
            raise ToolNotAllowedError(
                f"{spec.tool_name!r} cannot be watched: {policy}; watchers run unattended, so "
                "only tools the host's policy rates AUTO can be watched"
            )
        if watcher_id is None:
            await self._create(Watcher(spec, strategy, HISTORY_SIZE))
        else:
            async with self._creating:
                await self._replace(spec.watcher_id, spec.app_id, replace=replace_existing)
                await self._create(Watcher(spec, strategy, HISTORY_SIZE))
        shown = spec.label or spec.tool_name
        return WatcherStarted(
            watcher_id=spec.watcher_id,
            tool_name=spec.tool_name,
            label=spec.label,
            status=RUNNING,
            interval=spec.interval,
            notify_when=spec.notify_when,
            hint=(
                f"Watcher '{shown}' started. Checking {spec.tool_name} every "
                f"{format_interval(spec.interval)}. You'll be notified via "
                f"'{spec.notify_when}' strategy."
            ),
        )

    async def _create(self, watcher: Watcher) -> None:
        await self._runner.saver.save(watcher)  # persisted before it runs
        self._runner.add(watcher, due=self.clock.monotonic())

    async def _replace(self, watcher_id: str, app_id: str, *, replace: bool) -> None:
        """Make room for a watcher created with ``watcher_id``, or refuse to."""
        loaded = self._runner.watchers.get(watcher_id)
        if loaded is not None:
            owner: str | None = loaded.spec.app_id
        else:
            record = await self.store.get_watcher(watcher_id)
            owner = None if record is None else record.app_id
        if owner is None:
            return
        if owner != app_id:
            raise ConfigError(
                f"watcher id {watcher_id!r} belongs to another app; choose another id",
                path="watcher_id",
            )
        if not replace:
            raise ConfigError(
                f"a watcher with id {watcher_id!r} already exists; pass replace_existing=True"
                " to replace it",
                path="watcher_id",
            )
        if loaded is not None:
            await self._runner.remove(loaded)

    async def stop(self, watcher_id: str, *, app_id: str) -> WatcherChange:
        """Stop and remove the watcher (from the store too); its history is discarded.

        A check in flight is cancelled. Raises :class:`WatcherNotFoundError` for an
        id the app has no watcher by (another app's watcher is not found either).
        """
        watcher = self._get(watcher_id, app_id)
        previous = watcher.status
        await self._runner.remove(watcher)
        return self._change(watcher, "stopped", previous, "It was removed; its history is gone.")

    async def pause(self, watcher_id: str, *, app_id: str) -> WatcherChange:
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

    async def resume(self, watcher_id: str, *, app_id: str) -> WatcherChange:
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
        when = iso(moment(self._runner.wall_time_of(watcher.next_due)))
        return self._change(watcher, RUNNING, previous, f"Next check at {when}.")

    async def status(self, watcher_id: str, *, app_id: str) -> WatcherStatus:
        """Metrics, last result and error, the five latest checks, and the full configuration."""
        watcher = self._get(watcher_id, app_id)
        spec = watcher.spec
        running = watcher.status == RUNNING
        return WatcherStatus(
            watcher_id=spec.watcher_id,
            app_id=spec.app_id,
            tool_name=spec.tool_name,
            label=spec.label,
            status=RUNNING if running else PAUSED,
            interval=spec.interval,
            notify_when=spec.notify_when,
            notify_config=spec.notify_config,
            params=spec.params,
            output_channel=self._runner.channel_of(spec),
            output_config=spec.output_config,
            session_id=spec.session_id,
            created_at=spec.created_at,
            paused_at=_moment(watcher.paused_at),
            check_count=watcher.check_count,
            notification_count=watcher.notification_count,
            error_count=watcher.error_count,
            consecutive_errors=watcher.consecutive_errors,
            skipped_checks=watcher.skipped_checks,
            timeouts=watcher.timeouts,
            crashes=watcher.crashes,
            last_check_at=_moment(watcher.last_check_at),
            next_check_at=(
                moment(self._runner.wall_time_of(watcher.next_due)) if running else None
            ),
            mean_check_duration_ms=(
                round(watcher.total_duration / watcher.check_count * 1000, 3)
                if watcher.check_count
                else None
            ),
            last_result=_decoded(watcher.last_result),
            last_error=watcher.last_error,
            last_delivery_error=watcher.last_delivery_error,
            last_crash=watcher.last_crash,
            check_running=watcher.running_check != 0,
            recent_history=tuple(history_item(e) for e in watcher.history.last(_RECENT)),
        )

    async def list(self, *, app_id: str) -> WatcherList:
        """The app's watchers, running ones first, each group oldest first."""
        watchers = sorted(
            self._runner.watchers_of(app_id),
            key=lambda w: (w.status != RUNNING, w.spec.created_at, w.spec.watcher_id),
        )
        return WatcherList(tuple(w.summary() for w in watchers))

    async def history(self, watcher_id: str, last_n: int = 10, *, app_id: str) -> WatcherHistory:
        """The newest ``last_n`` (1..100) checks, oldest first."""
        last_n = validate_last_n(last_n, HISTORY_SIZE)
        watcher = self._get(watcher_id, app_id)
        return WatcherHistory(
            watcher_id=watcher.spec.watcher_id,
            tool_name=watcher.spec.tool_name,
            label=watcher.spec.label,
            check_count=watcher.check_count,
            entries=tuple(history_item(e) for e in watcher.history.last(last_n)),
        )

    async def restore(self, *, app_id: str) -> RestoreReport:
        """Recreate the app's stored watchers: running ones resume, paused ones stay paused.

        Counters and the strategies' state (the ``on_change`` baseline, a run of
        failures) are kept; the history starts empty. A running watcher's next check
        comes one interval after its last one (at once if that time has passed). A
        watcher this engine already runs (started again with its ``watcher_id`` at
        boot) is left as it is and listed in ``already_loaded``. A record that cannot
        be read is reported in ``skipped`` and left in the store.
        """
        self._runner.require_running()
        restored: list[str] = []
        already_loaded: list[str] = []
        skipped: dict[str, str] = {}
        counts = {RUNNING: 0, PAUSED: 0}
        for record in await self.store.list_watchers(app_id):
            if record.watcher_id in self._runner.watchers:
                already_loaded.append(record.watcher_id)
                continue
            try:
                watcher = self._rebuild(record)
            except Exception as exc:  # anything unreadable is reported, never fatal
                reason = _restore_failure(exc)
                skipped[record.watcher_id] = reason
                logger.error(  # noqa: TRY400 - the reason says it all; no traceback needed
                    "watcher %s of app %s could not be restored and stays in the store: %s",
                    record.watcher_id,
                    app_id,
                    reason,
                    extra={"watcher_id": record.watcher_id, "app_id": app_id},
                )
                continue
            self._runner.add(watcher, due=self._restored_due(watcher))
            restored.append(record.watcher_id)
            counts[RUNNING if watcher.status == RUNNING else PAUSED] += 1
        return RestoreReport(
            app_id=app_id,
            restored=tuple(restored),
            running=counts[RUNNING],
            paused=counts[PAUSED],
            already_loaded=tuple(already_loaded),
            skipped=skipped,
        )

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

    def _get(self, watcher_id: str, app_id: str) -> Watcher:
        watcher = self._runner.watchers.get(watcher_id) if isinstance(watcher_id, str) else None
        if watcher is None or watcher.spec.app_id != app_id:
            raise WatcherNotFoundError(
                f"no watcher {watcher_id!r} in app {app_id!r}; watch_list shows the existing ones"
            )
        return watcher

    def _change(self, watcher: Watcher, status: Any, previous: str, hint: str) -> WatcherChange:
        spec = watcher.spec
        shown = spec.label or spec.tool_name
        verb = {"stopped": "stopped", PAUSED: "paused", RUNNING: "running"}[status]
        unchanged = "already " if status == previous else ""
        return WatcherChange(
            watcher_id=spec.watcher_id,
            tool_name=spec.tool_name,
            label=spec.label,
            status=status,
            previous_status=RUNNING if previous == RUNNING else PAUSED,
            check_count=watcher.check_count,
            notification_count=watcher.notification_count,
            hint=f"Watcher '{shown}' {unchanged}{verb}. {hint}",
        )

    def stats(self) -> WatcherEngineStats:
        """Engine-wide counters, for monitoring."""
        return self._runner.collect_stats()

    def __repr__(self) -> str:
        runner = self._runner
        state = "running" if runner.is_running else "stopped"
        return f"<WatcherEngine {state} watchers={len(runner.watchers)}>"


def _moment(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else moment(timestamp)


def _decoded(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _restore_failure(exc: BaseException) -> str:
    lines = describe_structure_error(exc, "data")
    return "; ".join(lines) if lines else f"{type(exc).__name__}: {exc}"
