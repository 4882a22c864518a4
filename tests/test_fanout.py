"""fan_out: inline when jobs do not wait, concurrent when they do, results in order."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from anyio import get_current_task

from digitorn_notify._fanout import fan_out

pytestmark = pytest.mark.anyio


async def test_results_keep_input_order() -> None:
    async def job(n: int) -> int:
        if n % 2:
            await anyio.sleep(0.01 * (5 - n))
        return n * 10

    assert await fan_out([0, 1, 2, 3, 4], job) == [0, 10, 20, 30, 40]
    assert await fan_out([], job) == []


async def test_waiting_jobs_run_concurrently() -> None:
    arrived = 0
    everyone = anyio.Event()

    async def job(n: int) -> int:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            everyone.set()
        # Each job waits for all five: this only finishes if all run at once.
        await everyone.wait()
        return n

    with anyio.fail_after(5):
        assert await fan_out(range(5), job) == [0, 1, 2, 3, 4]  # type: ignore[arg-type]


async def test_jobs_that_never_wait_run_inline_in_the_caller_task() -> None:
    caller = get_current_task().id
    seen: list[int] = []

    async def job(n: int) -> int:
        seen.append(get_current_task().id)
        return n

    await fan_out(list(range(10)), job)
    assert set(seen) == {caller}


async def test_a_waiting_job_does_not_hold_back_the_others() -> None:
    release = anyio.Event()
    finished: list[int] = []

    async def job(n: int) -> int:
        if n == 0:
            await release.wait()
        finished.append(n)
        if n == 3:
            release.set()
        return n

    with anyio.fail_after(5):
        await fan_out([0, 1, 2, 3], job)
    assert finished == [1, 2, 3, 0]


async def test_exception_propagates_and_cancels_the_rest() -> None:
    cancelled = []

    async def job(n: int) -> int:
        if n == 1:
            await anyio.sleep(0.01)
            raise ValueError("job 1 failed")
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            cancelled.append(n)
            raise
        return n

    with anyio.fail_after(5), pytest.raises(ExceptionGroup) as info:
        await fan_out([0, 1, 2], job)
    assert info.group_contains(ValueError, match="job 1 failed")
    assert sorted(cancelled) == [0, 2]


async def test_outer_cancellation_reaches_every_job() -> None:
    cancelled = []

    async def job(n: int) -> int:
        try:
            await anyio.sleep(10)
        except anyio.get_cancelled_exc_class():
            cancelled.append(n)
            raise
        return n

    with anyio.move_on_after(0.05) as scope:
        await fan_out([0, 1, 2], job)
    assert scope.cancelled_caught
    assert sorted(cancelled) == [0, 1, 2]


async def test_plain_awaitables_are_accepted() -> None:
    class Ready:
        def __await__(self):  # type: ignore[no-untyped-def]
            yield from anyio.lowlevel.checkpoint().__await__()
            return "ready"

    assert await fan_out([1, 2], lambda n: Ready()) == ["ready", "ready"]
