"""The engine's machinery: what a check is, and the engine's lifecycle.

With a :class:`~._timing.Timing` (which decides when checks run), a check runs
the host's tool (asking the policy guard first), turns the result into JSON text,
records it in the history and the counters, lets the strategy decide, and delivers
the notification through the registry. Nothing a check does can take down the
engine or another watcher: failures are failed checks, bugs are reported crashes.
Saving goes through :class:`~._saver.Saver`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from digitorn_notify.channels._choice import default_channel_for
from digitorn_notify.channels.registry import ChannelRegistry
from digitorn_notify.clock import Clock
from digitorn_notify.errors import WatcherNotFoundError
from digitorn_notify.host import (
    ActionInvoker,
    Policy,
    PolicyGuard,
    as_action_invoker,
    as_policy_guard,
)
from digitorn_notify.storage.memory import MemoryStore
from digitorn_notify.storage.protocols import WatcherStore
from digitorn_notify.watchers._encode import (
    ResultEncodingError,
    default_error_detector,
    encode_result,
)
from digitorn_notify.watchers._format import WatcherNotice, build_payload
from digitorn_notify.watchers._models import WatcherSpec
from digitorn_notify.watchers._saver import Saver
from digitorn_notify.watchers._strategies import Notice
from digitorn_notify.watchers._timing import Slot, Timing
from digitorn_notify.watchers._watcher import PAUSED, RUNNING, STOPPED, Watcher

__all__ = ["ErrorDetector", "Runner", "WatcherEngineStats"]

logger = logging.getLogger("digitorn_notify.watchers")


#: ``(result) -> error text or None``: whether a returned result reports a failure.
ErrorDetector = Callable[[Any], "str | None"]


@attrs.frozen
class WatcherEngineStats:
    """Engine-wide counters since the engine started (``WatcherEngine.stats()``)."""

    watchers: int
    running: int
    paused: int
    checks: int
    notifications: int
    errors: int
    skipped_checks: int
    timeouts: int
    crashes: int
    task_restarts: int
    checks_waiting: int
    tasks: int


class Runner:
    """Timer, check tasks and notifications shared by every watcher of an engine."""

    def __init__(
        self,
        registry: ChannelRegistry,
        invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]],
        *,
        store: WatcherStore | None,
        guard: PolicyGuard | Callable[[str], Policy | str] | None,
        clock: Clock | None,
        default_channel: str | Callable[[str], str | None],
        check_timeout: float,
        max_concurrent_checks: int,
        save_every: int,
        max_result_chars: int,
        error_detector: ErrorDetector | None,
    ) -> None:
        _positive("check_timeout", check_timeout)
        _at_least("max_concurrent_checks", max_concurrent_checks, 1)
        _at_least("save_every", save_every, 1)
        _at_least("max_result_chars", max_result_chars, 1)
        self.clock = clock if clock is not None else registry.clock
        self.check_timeout = float(check_timeout)
        self.timing = Timing(
            self.clock,
            check=self._check_safely,
            report_crash=self._report_crash,
            check_timeout=check_timeout,
            max_concurrent_checks=max_concurrent_checks,
        )
        #: Every live watcher by id (the timing's: it reschedules them).
        self.watchers = self.timing.watchers
        self._counts = self.timing.counts
        self.registry = registry
        self.invoker = as_action_invoker(invoker)
        self.guard = as_policy_guard(guard)
        self.saver = Saver(store if store is not None else MemoryStore(), self.clock)
        self.default_channel = default_channel
        self.save_every = save_every
        self.max_result_chars = max_result_chars
        self.error_detector: ErrorDetector = error_detector or default_error_detector
        self._apps: dict[str, dict[str, Watcher]] = {}
        self._stack: AsyncExitStack | None = None

    @property
    def store(self) -> WatcherStore:
        """Where watchers are saved."""
        return self.saver.store

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Start the timer and the saver inside a task group of our own."""
        if self._stack is not None:
            raise RuntimeError("the watcher engine is already running")
        stack = AsyncExitStack()
        try:
            stack.push_async_callback(lambda: self.saver.flush(self.watchers.values()))
            group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(group.cancel_scope.cancel)
            self.timing.start(group)
            group.start_soon(self._supervise, "saver", self.saver.run)
        except BaseException:
            self.timing.stop()
            await stack.aclose()
            raise
        self._stack = stack

    async def close(self) -> None:
        """Cancel checks in flight, stop the tasks, save what changed since the last save."""
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            # Not given the host's exception: the task group would wrap it in an
            # exception group, and the host's own exception must come out unchanged.
            await stack.aclose()
        finally:
            self.timing.stop()

    @property
    def is_running(self) -> bool:
        """Whether the engine's context is entered."""
        return self.timing.running

    def require_running(self) -> None:
        """Raise ``RuntimeError`` unless the engine's context is entered."""
        if not self.timing.running:
            raise RuntimeError("the watcher engine is not running: use `async with engine:`")

    async def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        failures = 0
        while True:
            started = self.clock.monotonic()
            try:
                await loop()
            except Exception:
                self._counts["restarts"] += 1
                failures = 1 if self.clock.monotonic() - started > 60 else failures + 1
                delay = min(0.1 * 2 ** (failures - 1), 30.0)
                logger.exception(
                    "the watcher engine's %s crashed; restarting it in %gs", name, delay
                )
                await self.clock.sleep(delay)
            else:
                return

    # -- registration --------------------------------------------------------------------------

    def add(self, watcher: Watcher, *, due: float) -> None:
        """Register ``watcher``; if running, its first check is due at ``due`` (monotonic)."""
        self.watchers[watcher.watcher_id] = watcher
        self._apps.setdefault(watcher.spec.app_id, {})[watcher.watcher_id] = watcher
        if watcher.status == RUNNING:
            self.timing.schedule(watcher, due)
        else:
            watcher.next_due = due

    def watchers_of(self, app_id: str) -> Iterable[Watcher]:
        """The app's watchers."""
        return self._apps.get(app_id, {}).values()

    async def remove(self, watcher: Watcher) -> None:
        """Delete ``watcher`` from the store, then forget it and cancel its check."""
        await self.saver.delete(watcher)
        watcher.tick_seq = -1
        # Two stops of one watcher may race: the second finds it gone already.
        self.watchers.pop(watcher.watcher_id, None)
        app = self._apps.get(watcher.spec.app_id, {})
        app.pop(watcher.watcher_id, None)
        if not app:
            self._apps.pop(watcher.spec.app_id, None)
        if watcher.scope is not None:
            watcher.scope.cancel()

    async def set_paused(self, watcher: Watcher, *, paused: bool) -> None:
        """Pause or resume ``watcher``, saved first."""
        previous_paused_at = watcher.paused_at
        watcher.paused_at = self.clock.now().timestamp() if paused else None
        try:
            saved = await self.saver.save_status(watcher, PAUSED if paused else RUNNING)
        except BaseException:
            watcher.paused_at = previous_paused_at
            raise
        if not saved:
            raise WatcherNotFoundError(f"watcher {watcher.watcher_id!r} was stopped meanwhile")
        if paused:
            watcher.tick_seq = -1  # its heap entry is now stale
            return
        now = self.clock.monotonic()
        due = watcher.next_due
        if due < now:
            # Keep the phase: the next tick of the original cadence.
            due += math.ceil((now - due) / watcher.spec.interval) * watcher.spec.interval
        self.timing.schedule(watcher, due)

    # -- host boundary --------------------------------------------------------------------------

    def policy_of(self, tool_name: str) -> str | None:
        """``None`` when the guard rates the tool AUTO, else why it may not run unattended."""
        try:
            decision = self.guard.decide(tool_name)
        except Exception as exc:
            return f"the host's policy guard failed ({type(exc).__name__})"
        if decision == Policy.AUTO:
            return None
        if decision in (Policy.APPROVE, Policy.BLOCK):
            return f"the host's policy rates it {str(decision).upper()}"
        return f"the host's policy guard answered {decision!r}, not AUTO"

    def channel_of(self, spec: WatcherSpec) -> str:
        """The channel the watcher reports to."""
        if spec.output_channel is not None:
            return spec.output_channel
        return default_channel_for(self.default_channel, spec.app_id)

    def wall_time_of(self, monotonic: float) -> float:
        """A monotonic instant as a POSIX timestamp."""
        return self.clock.now().timestamp() + (monotonic - self.clock.monotonic())

    def collect_stats(self) -> WatcherEngineStats:
        """The engine-wide counters."""
        running = sum(1 for w in self.watchers.values() if w.status == RUNNING)
        counts = self._counts
        return WatcherEngineStats(
            watchers=len(self.watchers),
            running=running,
            paused=len(self.watchers) - running,
            checks=counts["checks"],
            notifications=counts["notifications"],
            errors=counts["errors"],
            skipped_checks=counts["skipped"],
            timeouts=counts["timeouts"],
            crashes=counts["crashes"],
            task_restarts=counts["restarts"],
            checks_waiting=sum(1 for w in self.watchers.values() if w.scope is not None),
            tasks=self.timing.tasks,
        )

    # -- tasks and the timer role -------------------------------------------------------------

    # -- checks ---------------------------------------------------------------------------------

    async def _check_safely(
        self,
        watcher: Watcher,
        generation: int,
        slot: Slot,
        *,
        outcome: tuple[int, str, float] | None = None,
    ) -> None:
        """Check ``watcher`` (or record ``outcome``, a timeout); a crash is reported."""
        try:
            if outcome is None:
                await self._check(watcher, generation, slot)
            else:
                number, text, duration = outcome
                await self._record(
                    watcher, number, ok=False, text=text, result=None, duration=duration
                )
        except Exception as exc:
            if watcher.generation == generation:
                await self._report_crash(watcher, exc)
        else:
            watcher.crash_streak = 0
        finally:
            if watcher.generation == generation:
                watcher.busy = False

    async def _check(self, watcher: Watcher, generation: int, slot: Slot) -> None:
        if watcher.status != RUNNING:
            return
        clock = self.clock
        number = watcher.check_count + 1
        started = clock.monotonic()
        watcher.running_check = number
        watcher.check_started = started
        try:
            ok, text, result = await self._invoke(watcher, number, slot)
        finally:
            if watcher.generation == generation:
                watcher.scope = None
                watcher.running_check = 0
            self.timing.forget_deadlines()
        if watcher.status == STOPPED or watcher.generation != generation:
            return
        duration = clock.monotonic() - started
        if ok:
            failure = self.error_detector(result)
            if failure is not None:
                ok, text, result = False, str(failure), None
            else:
                try:
                    text = encode_result(result)
                except ResultEncodingError as exc:
                    ok, text, result = False, str(exc), None
        await self._record(watcher, number, ok, text, result, duration)

    async def _invoke(self, watcher: Watcher, number: int, slot: Slot) -> tuple[bool, str, Any]:
        """Run the tool: ``(ok, error text, result)``; it can time out once it waits."""
        spec = watcher.spec
        refusal = self.policy_of(spec.tool_name)
        if refusal is not None:
            return False, f"{spec.tool_name!r} may not run unattended: {refusal}", None
        try:
            awaitable = self.invoker.invoke(spec.tool_name, dict(spec.params))
            # From here on the check can time out. (Registering the deadline only once
            # the tool first waits, with on_first_wait, measured no faster: see
            # docs/performance.md.)
            self.timing.watch_deadline(watcher, number, slot)
            result = await awaitable
        except Exception as exc:
            return False, str(exc) or type(exc).__name__, None
        return True, "", result

    async def _record(
        self,
        watcher: Watcher,
        number: int,
        ok: bool,
        text: str,
        result: Any,
        duration: float,
    ) -> None:
        at = self.clock.now().timestamp()
        unchanged = ok is watcher.last_ok and text == watcher.last_text
        history = watcher.history
        stored: str | None = None
        if unchanged:
            # Share one string between identical results: the history then costs a
            # reference per entry, not a copy.
            text = watcher.last_text  # type: ignore[assignment]
            stored = history.newest_text(number - 1)
        truncated = ok and len(text) > self.max_result_chars
        if stored is None:
            stored = text[: self.max_result_chars] if truncated else text
        history.append(number, at, duration, ok, stored, truncated=truncated)
        watcher.check_count = number
        watcher.last_check_at = at
        watcher.total_duration += duration
        watcher.last_ok = ok
        counts = self._counts
        counts["checks"] += 1
        if ok:
            watcher.last_result = text
            watcher.consecutive_errors = 0
        else:
            watcher.last_error = text
            watcher.error_count += 1
            watcher.consecutive_errors += 1
            counts["errors"] += 1
        notice = watcher.strategy.observe(number, ok, text, result, unchanged)
        if notice is not None:
            history.mark_notified()
            await self._notify(watcher, number, ok=ok, text=text, at=at, notice=notice)
            self.saver.mark_dirty(watcher)
        elif number - watcher.saved_checks >= self.save_every:
            self.saver.mark_dirty(watcher)

    async def _notify(
        self, watcher: Watcher, number: int, *, ok: bool, text: str, at: float, notice: Notice
    ) -> None:
        spec = watcher.spec
        watcher.notification_count += 1
        self._counts["notifications"] += 1
        payload = build_payload(
            WatcherNotice(
                watcher_id=spec.watcher_id,
                app_id=spec.app_id,
                label=spec.label,
                tool_name=spec.tool_name,
                interval=spec.interval,
                strategy=spec.notify_when,
                check=number,
                notification_count=watcher.notification_count,
                ok=ok,
                text=text,
                checked_at=at,
                notice=notice,
            )
        )
        channel = self.channel_of(spec)
        extra = {"watcher_id": spec.watcher_id, "app_id": spec.app_id}
        try:
            delivered = await self.registry.deliver(
                channel,
                spec.app_id,
                payload,
                spec.output_config or None,
                session_id=spec.session_id,
            )
        except Exception as exc:
            watcher.last_delivery_error = f"{type(exc).__name__}: {exc}"
            logger.exception(
                "watcher %s could not deliver to %s", spec.watcher_id, channel, extra=extra
            )
            return
        if not delivered.success:
            watcher.last_delivery_error = delivered.error or "delivery failed"
            logger.warning(
                "watcher %s: delivery to %s failed: %s",
                spec.watcher_id,
                channel,
                delivered.error,
                extra=extra,
            )

    async def _report_crash(self, watcher: Watcher, error: BaseException) -> None:
        watcher.crashes += 1
        watcher.crash_streak += 1
        self._counts["crashes"] += 1
        watcher.last_crash = f"{type(error).__name__}: {error}"
        logger.error(
            "watcher %s (%s): processing check #%d crashed; the watcher goes on at its next tick",
            watcher.watcher_id,
            watcher.spec.tool_name,
            watcher.check_count + 1,
            exc_info=error,
            extra={"watcher_id": watcher.watcher_id, "app_id": watcher.spec.app_id},
        )
        self.saver.mark_dirty(watcher)
        if watcher.crash_streak != 1 or watcher.status == STOPPED:
            return  # one notification per streak of crashes
        detail = (
            f"Internal error: processing this check failed ({watcher.last_crash}). "
            "The watcher was restarted and checks go on at the next tick."
        )
        try:
            await self._notify(
                watcher,
                watcher.check_count + 1,
                ok=False,
                text="",
                at=self.clock.now().timestamp(),
                notice=Notice("crashed", detail),
            )
        except Exception:
            logger.exception("watcher %s: could not report its crash", watcher.watcher_id)


def _positive(name: str, value: Any) -> None:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


def _at_least(name: str, value: Any, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be a whole number of at least {low}, got {value!r}")
