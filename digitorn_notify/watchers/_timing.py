"""Timing checks: the heap of due times, the timer role, timeouts on the clock.

Ten thousand watchers at a 5 s interval are 2,000 checks a second, so nothing here
costs a task per watcher, nor a task switch per check that does not wait:

- **The heap.** ``(due, seq, watcher)`` on the clock's monotonic time. One task at a
  time, the *timer*, sleeps until the earliest entry (forever when idle; an earlier
  entry wakes it). A due watcher is rescheduled one interval later (fixed rate: no
  drift) and checked, unless its previous check is still running: then the tick is
  skipped and counted, so slow checks never pile up. Ticks due within
  :data:`TIMER_SLACK` of a wake-up run in it.
- **Checks run inline in the timer** until one actually waits (network I/O, a
  sleep): at that moment the timer role passes to an idle task, or a new one (the
  same idea as ``_fanout``), and the old timer finishes that check as a plain task.
  Checks that return at once cost no task switch, no cancel scope and no deadline.
  At most ``max_concurrent_checks`` checks wait at once; beyond that, due watchers
  queue until a task is free.
- **Timeouts** are measured on the engine's clock: a check that waits gets a
  deadline (a FIFO, since every check has the same timeout), and the timer cancels
  the check's scope when the deadline passes. A fake clock drives them like ticks.
- **Crashes.** A task whose timing crashes (a bug) logs it, releases the role,
  rebuilds the heap and takes the role again after a backoff; a check that ignores
  its cancellation is abandoned after a grace period so that its watcher goes on.

What a check does is not this module's business: :class:`Timing` is given ``check``
and ``report_crash`` by its owner, :class:`~._runner.Runner`, which calls
:meth:`Timing.start`, :meth:`Timing.schedule`, :meth:`Timing.watch_deadline` and
:meth:`Timing.forget_deadlines` back. Two objects with a small interface between
them, rather than a base class whose methods and state a subclass shares: the timer's
state (heap, deadlines, tasks) stays here, and a check cannot reach into it.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, Protocol

import anyio
import anyio.abc
import anyio.lowlevel

from digitorn_notify._stepping import on_first_wait
from digitorn_notify.clock import Clock
from digitorn_notify.watchers._watcher import RUNNING, STOPPED, Watcher

__all__ = ["TIMER_SLACK", "CheckFn", "CrashFn", "Slot", "Timing"]

logger = logging.getLogger("digitorn_notify.watchers")


#: Ticks due this close after a wake-up (seconds) run in it, so that 2,000 checks a
#: second spread over the interval do not cost 2,000 wake-ups.
TIMER_SLACK: Final = 0.01
# Float rounding between a clock's datetime arithmetic and its monotonic seconds
# must not make a deadline look a hair early (and the timer spin on zero sleeps).
_EPSILON: Final = 1e-6
# Checks the timer runs back to back before letting other tasks in.
_BURST: Final = 32
_INF: Final = math.inf


class Slot:
    """The cancel scope of a check task's turn, and the check waiting in it, if any."""

    __slots__ = ("generation", "number", "scope", "started", "watcher")

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.watcher: Watcher | None = None
        self.number = 0
        self.generation = 0
        self.started = 0.0


class CheckFn(Protocol):
    """Check ``watcher`` (or record ``outcome``, a timeout); never raises an Exception."""

    def __call__(
        self,
        watcher: Watcher,
        generation: int,
        slot: Slot,
        *,
        outcome: tuple[int, str, float] | None = None,
    ) -> Coroutine[Any, Any, None]: ...


#: Tell about a check whose processing failed (a bug, or a check that ignored its
#: cancellation and was abandoned).
CrashFn = Callable[[Watcher, BaseException], Coroutine[Any, Any, None]]


class Timing:
    """The heap, the timer role and the check tasks; ``check`` says what a check is."""

    def __init__(
        self,
        clock: Clock,
        *,
        check: CheckFn,
        report_crash: CrashFn,
        check_timeout: float,
        max_concurrent_checks: int,
    ) -> None:
        self.clock = clock
        self._check_safely = check
        self._report_crash = report_crash
        self.check_timeout = float(check_timeout)
        self.max_concurrent_checks = max_concurrent_checks
        #: Every live watcher by id.
        self.watchers: dict[str, Watcher] = {}
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
        #: Engine-wide counters, shared with the owner (which counts checks and the like).
        self.counts = dict.fromkeys(
            ("checks", "notifications", "errors", "skipped", "timeouts", "crashes", "restarts"), 0
        )

    # -- the timer --------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether :meth:`start` was called (and :meth:`stop` not since)."""
        return self._group is not None

    @property
    def tasks(self) -> int:
        """Check tasks alive (the timer included)."""
        return self._tasks

    def start(self, group: anyio.abc.TaskGroup) -> None:
        """Start timing in ``group`` (the owner's task group)."""
        self._group = group
        self._has_timer = True
        self._start_task(timer=True)

    def stop(self) -> None:
        """Forget the tasks (the owner cancelled its group); :meth:`start` may follow."""
        self._group = None
        self._has_timer = False
        self._heap_suspect = True  # entered again, the timer starts from the watchers
        self._tasks = 0
        self._idle.clear()
        self._ready.clear()
        self._deadlines.clear()

    def schedule(self, watcher: Watcher, due: float) -> None:
        """Check ``watcher`` at ``due`` (monotonic), then every interval."""
        seq = next(self._seq)
        watcher.next_due = due
        watcher.tick_seq = seq
        heapq.heappush(self._ticks, (due, seq, watcher))
        self._wake(due)

    def _wake(self, due: float) -> None:
        if due < self._sleep_until and self._wake_scope is not None:
            self._wake_scope.cancel()

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
                self.counts["restarts"] += 1
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

    async def _scoped(self, run: Callable[[Slot], Awaitable[None]]) -> None:
        """``run(slot)`` in a cancel scope that times out the check that waits in it.

        A check's cancel scope must be entered before the check starts (cancel scopes
        nest), yet entering one per check costs more than a check that returns at once.
        So the scope wraps the timer's whole turn: checks that return at once run
        inside it for free; the one check that waits (the timer role has left this task
        by then) is the only one it can cancel. The timeout is recorded after the
        scope, once the check has unwound.
        """
        slot = Slot()
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
        self.counts["timeouts"] += 1
        watcher.busy = True  # it was cleared while unwinding; nothing ran since
        text = f"the check timed out after {self.check_timeout:g}s"
        duration = self.clock.monotonic() - slot.started
        await self._check_safely(
            watcher, slot.generation, slot, outcome=(slot.number, text, duration)
        )

    async def _time(self, slot: Slot) -> None:
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
        # A hand-off moves the epoch on; without a wait, no other task ran meanwhile.
        epoch = self._timer_epoch
        await on_first_wait(coro, self._hand_off_timer)
        return self._timer_epoch != epoch

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
                self.counts["skipped"] += missed
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
        self.counts["skipped"] += 1
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

    def watch_deadline(self, watcher: Watcher, number: int, slot: Slot) -> None:
        """Check ``number`` of ``watcher`` waits: from now on, it can time out."""
        slot.watcher = watcher
        slot.number = number
        slot.generation = watcher.generation
        slot.started = watcher.check_started
        watcher.scope = slot.scope
        deadline = watcher.check_started + self.check_timeout
        self._deadlines.append((deadline, watcher, number))
        self._wake(deadline)

    def forget_deadlines(self) -> None:
        """Drop the deadlines of checks that are over, from the front."""
        deadlines = self._deadlines
        while deadlines and deadlines[0][1].running_check != deadlines[0][2]:
            deadlines.popleft()
