"""Concurrent fan-out that only pays for a task when a job actually waits.

Spawning a task costs more than delivering to a local channel (``log``,
``llm_notification``, an in-process queue) does. :func:`fan_out` therefore runs the
jobs one after another in the calling task and starts a helper task only at the
moment a job suspends (waits on I/O, sleeps, takes a lock): the helper picks up the
remaining jobs while the suspended one waits. Jobs that never wait cost no task at
all; jobs that do wait all run concurrently, exactly as with one task each.

Each job runs from start to finish in the task that started it, so cancel scopes and
context variables behave as usual. Suspension is observed by
:func:`~digitorn_notify._stepping.on_first_wait`, which awaits the job's coroutine as
``await`` would and works on every anyio backend.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio

from digitorn_notify._stepping import is_coroutine, on_first_wait

__all__ = ["fan_out"]

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item, as in the signature below


async def fan_out(items: Sequence[I], job: Callable[[I], Awaitable[T]]) -> list[T]:
    """Run ``job(item)`` for every item, concurrently where they wait; results in order.

    An exception raised by a job propagates (in an ``ExceptionGroup`` if it was
    raised in a helper task) after the other jobs are cancelled, as in a task group.
    """
    if not items:
        return []
    results: list[Any] = [None] * len(items)
    queue = deque(enumerate(items))
    idle_helpers = 0

    async with anyio.create_task_group() as group:

        def add_helper() -> None:
            nonlocal idle_helpers
            # One helper waiting to start is enough: it takes the next job and, if
            # that one waits too, starts the next helper itself.
            if queue and not idle_helpers:
                idle_helpers += 1
                group.start_soon(work, 1, name="digitorn_notify fan-out helper")

        async def work(helper: int) -> None:
            nonlocal idle_helpers
            idle_helpers -= helper
            while queue:
                index, item = queue.popleft()
                awaitable = job(item)
                if is_coroutine(awaitable):
                    results[index] = await on_first_wait(awaitable, add_helper)
                else:  # any other awaitable: assume it waits
                    add_helper()
                    results[index] = await awaitable

        await work(0)
    return results
