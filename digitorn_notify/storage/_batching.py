"""A batching executor: calls made while a batch runs go together in the next one.

A store whose every call costs a fixed overhead (a worker-thread hop and a commit for
SQLite, a round trip for a network store) pays it once per *batch* instead of once
per call: while one batch runs, the calls made meanwhile queue up, and when it ends
the first of them leads the next batch with all of them.

Each call still behaves as if it ran alone:

- calls run in the order they were made, each with its own result or error;
- a call cancelled while queued (or while its batch had not started) does not
  happen, and leaves the queue to the others;
- a call cancelled once its batch has started runs to its end, as a call in a
  worker thread would; its caller gets its result, or its error, and the
  cancellation lands at the caller's next checkpoint (a lease taken or a buffer
  drained is never lost between the store and its caller);
- however callers are cancelled, the queue never stalls: someone always leads it.

What a batch does is the store's business: :class:`BatchingExecutor` is given
``run_batch``, which runs a list of :class:`Call` (for example in a worker thread:
:func:`in_worker_thread`) and finishes each one it ran with :meth:`Call.succeed` or
:meth:`Call.fail`. ``run_batch`` may be cancelled only before it started any call
(``anyio.to_thread.run_sync`` is: its wait for a thread is cancellable, the thread
is not); the calls it did not finish go back to the front of the queue.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

__all__ = ["BatchingExecutor", "Call", "in_worker_thread"]

T = TypeVar("T")
C = TypeVar("C")  # what a call's function is given (a connection, a pipeline...)


class Call(Generic[C]):
    """One call waiting for (or done by) a batch: ``func(resource)`` and its outcome.

    ``kind`` is the store's label for it (SQLite's are ``"read"``, ``"write"``,
    ``"transaction"`` and ``"close"``); the executor never looks at it.
    """

    __slots__ = ("error", "finished", "func", "kind", "result", "wake")

    def __init__(self, func: Callable[[C], Any], kind: str) -> None:
        self.func = func
        self.kind = kind
        self.result: Any = None
        self.error: Exception | None = None
        self.finished = False
        #: Set when the call is finished, or when its caller must lead the next batch.
        self.wake: anyio.Event | None = None

    def succeed(self, result: Any) -> None:
        """The call ran and returned ``result``."""
        self.result, self.finished = result, True

    def fail(self, error: Exception) -> None:
        """The call ran (or could not run) and its caller must get ``error``."""
        self.error, self.finished = error, True

    def __repr__(self) -> str:
        state = "failed" if self.error is not None else "done" if self.finished else "waiting"
        return f"<Call {self.kind} {state}>"


class BatchingExecutor(Generic[C]):
    """Runs calls through ``run_batch``, one batch at a time (see the module docstring)."""

    __slots__ = ("_busy", "_pending", "_run_batch")

    def __init__(self, run_batch: Callable[[list[Call[C]]], Awaitable[None]]) -> None:
        self._run_batch = run_batch
        self._pending: list[Call[C]] = []  # calls waiting for the next batch
        self._busy = False  # a batch is running

    @property
    def pending(self) -> int:
        """How many calls wait for the next batch."""
        return len(self._pending)

    @property
    def busy(self) -> bool:
        """Whether a batch is running."""
        return self._busy

    async def run(self, func: Callable[[C], T], kind: str) -> T:
        """``func(resource)`` in the next batch: its result, or its error raised here."""
        call: Call[C] = Call(func, kind)
        self._pending.append(call)
        try:
            while not call.finished:
                if self._busy:
                    call.wake = anyio.Event()
                    await call.wake.wait()  # until it is done, or it is our turn to lead
                else:
                    await self._lead()
        except BaseException as exc:
            ran = call.finished  # done, and woken, just as the caller was cancelled
            if not ran:
                with anyio.CancelScope(shield=True):
                    ran = await self._settle(call)
            if not ran or not isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            # It ran: its outcome stands, as a worker thread's did; the cancellation
            # lands at the caller's next checkpoint.
        if call.error is not None:
            raise call.error
        return call.result  # type: ignore[no-any-return]

    async def _settle(self, call: Call[C]) -> bool:
        """After the caller was interrupted: ``True`` once ``call`` ran, ``False`` if it
        never will (it was still queued, or its batch never started, and is dropped)."""
        while not call.finished:
            if call in self._pending:
                self._pending.remove(call)
                self._pass_lead()
                return False
            # In a batch under way: it runs regardless, as a thread call would.
            call.wake = anyio.Event()
            await call.wake.wait()
        return True

    async def _lead(self) -> None:
        """Run everything pending as one batch."""
        self._busy = True
        batch, self._pending = self._pending, []
        try:
            await self._run_batch(batch)
        finally:
            self._busy = False
            # Cancelled before the batch started: its calls go back, in order.
            self._pending[:0] = [call for call in batch if not call.finished]
            for call in batch:
                if call.finished and call.wake is not None:
                    call.wake.set()
            self._pass_lead()

    def _pass_lead(self) -> None:
        if not self._busy and self._pending:
            first = self._pending[0]
            if first.wake is not None:
                first.wake.set()

    def __repr__(self) -> str:
        return f"<BatchingExecutor pending={len(self._pending)} busy={self._busy}>"


def in_worker_thread(
    execute: Callable[[list[Call[C]]], None],
) -> Callable[[list[Call[C]]], Awaitable[None]]:
    """A ``run_batch`` that runs ``execute(batch)`` in a worker thread, one at a time.

    The limiter keeps batches queued in the event loop rather than in blocked
    threads. Waiting for the thread can be cancelled; the thread cannot (its calls
    run to their end), which is what :class:`BatchingExecutor` expects.
    """
    limiter: anyio.CapacityLimiter | None = None

    async def run_batch(batch: list[Call[C]]) -> None:
        nonlocal limiter
        if limiter is None:  # made in the event loop, on first use
            limiter = anyio.CapacityLimiter(1)
        await anyio.to_thread.run_sync(execute, batch, limiter=limiter)

    return run_batch
