"""The machinery under :class:`WatcherEngine`: timing, checks and notifications.

Ten thousand watchers at a 5 s interval are 2,000 checks a second, so nothing here
costs a task per watcher, nor a task switch per check that does not wait:

- **Timing.** A heap of ``(due, seq, watcher)`` on the clock's monotonic time. One
  task at a time, the *timer*, sleeps until the earliest entry (forever when idle;
  an earlier entry wakes it). A due watcher is rescheduled one interval later (fixed
  rate: no drift) and checked, unless its previous check is still running: then the
  tick is skipped and counted, so slow checks never pile up. Ticks due within
  :data:`TIMER_SLACK` of the wake-up run in the same wake-up.
- **Checks run inline in the timer** until one actually waits (network I/O, a
  sleep): at that moment the timer role passes to an idle task, or a new one (the
  same idea as ``_fanout``), and the old timer finishes that check as a plain task.
  Checks that return at once therefore cost no task switch, no cancel scope and no
  deadline. At most ``max_concurrent_checks`` checks wait at once; beyond that, due
  watchers queue until a task is free.
- **Timeouts** are measured on the engine's clock: a check that waits gets a deadline
  (a FIFO, since every check has the same timeout) and a cancel scope, which the
  timer cancels when the deadline passes. A fake clock drives them like the ticks.
- **Crashes.** Each task runs under a supervisor that logs and restarts it; a
  watcher whose check processing raises is reported (log, ``crashes``, one
  notification per streak) and checked again at its next tick; a check that ignores
  its cancellation is abandoned after a grace period so that the watcher goes on.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from contextlib import AsyncExitStack
from typing import Any, Final, TypeVar

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from digitorn_notify.channels.builtin.llm_notification import LLMNotificationChannel
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
from digitorn_notify.watchers._watcher import PAUSED, RUNNING, STOPPED, Watcher

__all__ = ["TIMER_SLACK", "ErrorDetector", "Runner", "WatcherEngineStats"]

logger = logging.getLogger("digitorn_notify.watchers")

T = TypeVar("T")

#: ``(result) -> error text or None``: whether a returned result reports a failure.
ErrorDetector = Callable[[Any], "str | None"]

#: Ticks due this close after a wake-up (seconds) run in it, so that 2,000 checks a
#: second spread over the interval do not cost 2,000 wake-ups.
TIMER_SLACK: Final = 0.01
# Float rounding between a clock's datetime arithmetic and its monotonic seconds
# must not make a deadline look a hair early (and the timer spin on zero sleeps).
_EPSILON: Final = 1e-6
# Checks the timer runs back to back before letting other tasks in.
_BURST: Final = 32
_INF: Final = math.inf


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


@types.coroutine
def _resume(coro: Coroutine[Any, Any, T], trap: Any) -> Generator[Any, Any, T]:
    """Go on awaiting ``coro``, which already yielded ``trap`` to us, as ``await`` would."""
    while True:
        try:
            sent = yield trap
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # cancellation included: the check must see it
            try:
                trap = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
        else:
            try:
                trap = coro.send(sent)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class _Slot:
    """The cancel scope of a check task's turn, and the check waiting in it, if any."""

    __slots__ = ("generation", "number", "scope", "started", "watcher")

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.watcher: Watcher | None = None
        self.number = 0
        self.generation = 0
        self.started = 0.0


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
        self.registry = registry
        self.invoker = as_action_invoker(invoker)
        self.guard = as_policy_guard(guard)
        self.clock: Clock = clock if clock is not None else registry.clock
        self.saver = Saver(store if store is not None else MemoryStore(), self.clock)
        self.default_channel = default_channel
        self.check_timeout = float(check_timeout)
        self.max_concurrent_checks = max_concurrent_checks
        self.save_every = save_every
        self.max_result_chars = max_result_chars
        self.error_detector: ErrorDetector = error_detector or default_error_detector
        #: Every live watcher by id.
        self.watchers: dict[str, Watcher] = {}
        self._apps: dict[str, dict[str, Watcher]] = {}
        self._ticks: list[tuple[float, int, Watcher]] = []
        self._seq = itertools.count()
        self._deadlines: deque[tuple[float, Watcher, int]] = deque()
        self._ready: deque[Watcher] = deque()
        self._idle: list[anyio.Event] = []
        self._tasks = 0
        self._has_timer = False
        self._timer_epoch = 0
        self._heap_suspect = False
        self._sleep_until = _INF
        self._wake_scope: anyio.CancelScope | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._stack: AsyncExitStack | None = None
        self._counts = dict.fromkeys(
            ("checks", "notifications", "errors", "skipped", "timeouts", "crashes", "restarts"), 0
        )

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
            self._group = group
            self._has_timer = True
            self._start_task(timer=True)
            group.start_soon(self._supervise, "saver", self.saver.run)
        except BaseException:
            self._group = None
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
            self._group = None
            self._has_timer = False
            self._heap_suspect = True  # entered again, the timer starts from the watchers
            self._tasks = 0
            self._idle.clear()
            self._ready.clear()
            self._deadlines.clear()

    def require_running(self) -> None:
        """Raise ``RuntimeError`` unless the engine's context is entered."""
        if self._group is None:
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
            self._schedule(watcher, due)
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
        self._schedule(watcher, due)

    def _schedule(self, watcher: Watcher, due: float) -> None:
        seq = next(self._seq)
        watcher.next_due = due
        watcher.tick_seq = seq
        heapq.heappush(self._ticks, (due, seq, watcher))
        self._wake(due)

    def _wake(self, due: float) -> None:
        if due < self._sleep_until and self._wake_scope is not None:
            self._wake_scope.cancel()

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
        default = self.default_channel
        if isinstance(default, str):
            return default
        try:
            name = default(spec.app_id)
        except Exception:
            logger.exception("default_channel(%r) failed; using llm_notification", spec.app_id)
            name = None
        return name or LLMNotificationChannel.CHANNEL_ID

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
            tasks=self._tasks,
        )

    # -- tasks and the timer role -------------------------------------------------------------

    def _start_task(self, *, timer: bool) -> None:
        assert self._group is not None
        self._tasks += 1
        self._group.start_soon(functools.partial(self._task, timer=timer))

    def _hand_off_timer(self) -> None:
        """The timer's check waits: make another task the timer (it ensured one can be)."""
        self._timer_epoch += 1
        if self._idle:
            self._idle.pop().set()
        else:
            self._start_task(timer=True)

    def _can_hand_off(self) -> bool:
        return bool(self._idle) or self._tasks <= self.max_concurrent_checks

    async def _task(self, *, timer: bool) -> None:
        """A check task: the timer while it holds the role, else finishing checks.

        It supervises itself: if timing crashes (a bug), the role is released, the
        heap rebuilt, and the task takes the role again after a short backoff.
        """
        failures = 0
        while True:
            if not timer:
                if self._has_timer:
                    event = anyio.Event()
                    self._idle.append(event)
                    try:
                        await event.wait()
                    finally:
                        if not event.is_set():
                            self._idle.remove(event)
                self._has_timer = True
            timer = False
            epoch = self._timer_epoch
            try:
                await self._scoped(self._time)
            except Exception:
                if self._timer_epoch == epoch:
                    self._has_timer = False
                    self._heap_suspect = True
                self._counts["restarts"] += 1
                failures += 1
                delay = min(0.1 * 2 ** (failures - 1), 30.0)
                logger.exception("the watcher engine's timer crashed; restarting it in %gs", delay)
                await self.clock.sleep(delay)
                continue
            except BaseException:
                if self._timer_epoch == epoch:
                    self._has_timer = False
                raise
            failures = 0
            # This task's check waited and finished; another task is the timer now.
            while self._ready:
                watcher = self._ready.popleft()
                await self._scoped(
                    functools.partial(self._check_safely, watcher, watcher.generation)
                )

    async def _scoped(self, run: Callable[[_Slot], Awaitable[None]]) -> None:
        """``run(slot)`` in a cancel scope that times out the check that waits in it.

        A check's cancel scope must be entered before the check starts (cancel scopes
        nest), yet entering one per check costs more than a check that returns at once.
        So the scope wraps the timer's whole turn: checks that return at once run
        inside it for free; the one check that waits (the timer role has left this task
        by then) is the only one it can cancel. The timeout is recorded after the
        scope, once the check has unwound.
        """
        slot = _Slot()
        with anyio.CancelScope() as scope:
            slot.scope = scope
            await run(slot)
        watcher = slot.watcher
        if not scope.cancelled_caught or watcher is None:
            return
        if (
            watcher.generation != slot.generation
            or watcher.status == STOPPED
            # A tool that swallowed its cancellation returned a result, recorded already.
            or watcher.check_count >= slot.number
        ):
            return
        watcher.timeouts += 1
        self._counts["timeouts"] += 1
        watcher.busy = True  # it was cleared while unwinding; nothing ran since
        text = f"the check timed out after {self.check_timeout:g}s"
        duration = self.clock.monotonic() - slot.started
        await self._check_safely(
            watcher, slot.generation, slot, outcome=(slot.number, text, duration)
        )

    async def _time(self, slot: _Slot) -> None:
        """Be the timer until a check run inline waits (then return once it is done)."""
        if self._heap_suspect:
            self._rebuild_heap()
        clock = self.clock
        burst = 0
        while True:
            now = clock.monotonic()
            watcher = self._next_due(now)
            if watcher is not None:
                check = self._check_safely(watcher, watcher.generation, slot)
                if await self._run_inline(check):
                    return
                burst += 1
                if burst >= _BURST:
                    # Checks that never wait would otherwise keep the loop to themselves.
                    burst = 0
                    await anyio.lowlevel.checkpoint()
                continue
            burst = 0
            target = self._expire(now)
            self._sleep_until = target
            try:
                with anyio.CancelScope() as scope:
                    self._wake_scope = scope
                    if target == _INF:
                        await anyio.sleep_forever()
                    else:
                        await clock.sleep(target - now)
            finally:
                self._wake_scope = None
                self._sleep_until = _INF

    async def _run_inline(self, coro: Coroutine[Any, Any, None]) -> bool:
        """Run ``coro`` here; if it waits, hand the timer role over first. Did it wait?"""
        try:
            trap = coro.send(None)
        except StopIteration:
            return False
        self._hand_off_timer()
        await _resume(coro, trap)
        return True

    def _rebuild_heap(self) -> None:
        # A task crashed while timing: an entry may have been lost mid-update.
        self._heap_suspect = False
        self._ticks = []
        for watcher in self.watchers.values():
            if watcher.status == RUNNING:
                seq = next(self._seq)
                watcher.tick_seq = seq
                self._ticks.append((watcher.next_due, seq, watcher))
        heapq.heapify(self._ticks)

    def _next_due(self, now: float) -> Watcher | None:
        """The next due watcher to check here; queues the others while tasks are scarce."""
        limit = now + TIMER_SLACK
        ticks = self._ticks
        while ticks and ticks[0][0] <= limit:
            due, seq, watcher = heapq.heappop(ticks)
            if seq != watcher.tick_seq:
                continue  # paused, stopped or rescheduled since
            interval = watcher.spec.interval
            following = due + interval
            if following <= limit:
                # The timer itself fell behind (a blocked event loop): skip the missed
                # ticks rather than firing them in a burst, and keep the phase.
                missed = math.floor((limit - due) / interval)
                watcher.skipped_checks += missed
                self._counts["skipped"] += missed
                following = due + (missed + 1) * interval
            seq = next(self._seq)
            watcher.next_due = following
            watcher.tick_seq = seq
            heapq.heappush(ticks, (following, seq, watcher))
            if watcher.busy:
                self._skip_busy(watcher, now)
                continue
            watcher.busy = True
            if self._can_hand_off():
                return watcher
            self._ready.append(watcher)  # every task is waiting on a check
        return None

    def _expire(self, now: float) -> float:
        """Cancel checks past their deadline; the time the timer must wake up next."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now + _EPSILON:
            _, watcher, number = deadlines.popleft()
            if watcher.running_check == number and watcher.scope is not None:
                watcher.scope.cancel()
        target = self._ticks[0][0] if self._ticks else _INF
        if deadlines and deadlines[0][0] < target:
            target = deadlines[0][0]
        return target

    def _skip_busy(self, watcher: Watcher, now: float) -> None:
        watcher.skipped_checks += 1
        self._counts["skipped"] += 1
        # A check still running long after its deadline ignored the cancellation (a
        # tool that shields itself or blocks): abandon it so the watcher goes on.
        overdue = now - watcher.check_started - self.check_timeout
        if watcher.running_check and overdue > max(self.check_timeout, watcher.spec.interval):
            number = watcher.running_check
            watcher.generation += 1
            watcher.running_check = 0
            watcher.scope = None
            watcher.busy = False
            error = RuntimeError(
                f"check #{number} ignored its cancellation {overdue:.0f}s after timing out "
                "and was abandoned"
            )
            assert self._group is not None
            self._group.start_soon(self._report_crash, watcher, error)

    # -- checks ---------------------------------------------------------------------------------

    async def _check_safely(
        self,
        watcher: Watcher,
        generation: int,
        slot: _Slot,
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

    async def _check(self, watcher: Watcher, generation: int, slot: _Slot) -> None:
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
            deadlines = self._deadlines
            while deadlines and deadlines[0][1].running_check != deadlines[0][2]:
                deadlines.popleft()
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

    async def _invoke(self, watcher: Watcher, number: int, slot: _Slot) -> tuple[bool, str, Any]:
        """Run the tool: ``(ok, error text, result)``; it can time out once it waits."""
        spec = watcher.spec
        refusal = self.policy_of(spec.tool_name)
        if refusal is not None:
            return False, f"{spec.tool_name!r} may not run unattended: {refusal}", None
        try:
            awaitable = self.invoker.invoke(spec.tool_name, dict(spec.params))
            coro = awaitable if isinstance(awaitable, Coroutine) else _awaited(awaitable)
            trap = coro.send(None)
        except StopIteration as stop:
            return True, "", stop.value
        except Exception as exc:
            return False, str(exc) or type(exc).__name__, None
        # The check waits: from here on the slot's scope can time it out.
        slot.watcher = watcher
        slot.number = number
        slot.generation = watcher.generation
        slot.started = watcher.check_started
        watcher.scope = slot.scope
        deadline = watcher.check_started + self.check_timeout
        self._deadlines.append((deadline, watcher, number))
        self._wake(deadline)
        try:
            return True, "", await _resume(coro, trap)
        except Exception as exc:
            return False, str(exc) or type(exc).__name__, None

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
