"""The batching executor on its own, with a batch runner the tests hold in their hands.

A call goes through these steps: queued (behind a running batch), woken to lead,
leading a batch that has not started yet, inside a running batch, finished but not
yet resumed. Each test cancels a caller at one of them and checks the rules: a call
that had not started does not happen; one that had started completes and its caller
gets its result; the others are unaffected, in order; and the queue never stalls.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitorn_notify.storage._batching import BatchingExecutor, Call, in_worker_thread

pytestmark = pytest.mark.anyio


class Runner:
    """A ``run_batch`` that waits where a test tells it to.

    ``start`` (when set) is awaited before the batch starts, cancellably: what a
    thread pool's queue is. ``hold`` (when set) is awaited once the calls ran,
    shielded: what a thread that is still running is.
    """

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.batches: list[list[str]] = []
        self.start: anyio.Event | None = None
        self.hold: anyio.Event | None = None
        self.executor: BatchingExecutor[list[str]] = BatchingExecutor(self.run_batch)

    async def run_batch(self, batch: list[Call[list[str]]]) -> None:
        self.batches.append([call.kind for call in batch])
        if self.start is not None:
            await self.start.wait()
        with anyio.CancelScope(shield=True):
            for call in batch:
                try:
                    call.succeed(call.func(self.ran))
                except Exception as exc:
                    call.fail(exc)
            if self.hold is not None:
                await self.hold.wait()

    async def call(self, label: str, got: dict[str, Any] | None = None) -> str:
        """Run a call named ``label``; record what it returned in ``got``."""
        def func(ran: list[str]) -> str:
            ran.append(label)
            return label

        result = await self.executor.run(func, label)
        if got is not None:
            got[label] = result
        return result

    def idle(self) -> bool:
        return self.executor.pending == 0 and not self.executor.busy


async def started(group: anyio.abc.TaskGroup, func: Callable[..., Any], *args: Any) -> None:
    group.start_soon(func, *args)
    await anyio.wait_all_tasks_blocked()


async def test_calls_made_during_a_batch_form_the_next_one() -> None:
    runner = Runner()
    runner.hold = anyio.Event()
    got: dict[str, Any] = {}
    async with anyio.create_task_group() as group:
        await started(group, runner.call, "first", got)
        for label in "abc":
            await started(group, runner.call, label, got)
        runner.hold.set()
    assert runner.batches == [["first"], ["a", "b", "c"]]
    assert runner.ran == ["first", "a", "b", "c"]
    assert got == {label: label for label in ["first", "a", "b", "c"]}
    assert runner.idle()


async def test_each_call_gets_its_own_error() -> None:
    runner = Runner()
    runner.hold = anyio.Event()
    outcomes: dict[str, str] = {}

    async def call(label: str) -> None:
        def func(ran: list[str]) -> str:
            ran.append(label)
            if label == "bad":
                raise ValueError(label)
            return label

        try:
            outcomes[label] = await runner.executor.run(func, label)
        except ValueError as exc:
            outcomes[label] = f"raised {exc}"

    async with anyio.create_task_group() as group:
        await started(group, call, "first")
        for label in ["a", "bad", "b"]:
            await started(group, call, label)
        runner.hold.set()
    assert outcomes == {"first": "first", "a": "a", "bad": "raised bad", "b": "b"}
    assert runner.ran == ["first", "a", "bad", "b"]


async def test_cancelled_while_queued_it_does_not_happen() -> None:
    runner = Runner()
    runner.hold = anyio.Event()
    got: dict[str, Any] = {}
    async with anyio.create_task_group() as group:
        await started(group, runner.call, "first", got)

        async def cancelled_call(label: str) -> None:
            with anyio.CancelScope() as scope:
                scopes[label] = scope
                await runner.call(label, got)

        scopes: dict[str, anyio.CancelScope] = {}
        for label in "abc":
            await started(group, cancelled_call, label)
        scopes["b"].cancel()
        await anyio.wait_all_tasks_blocked()
        runner.hold.set()
    assert runner.ran == ["first", "a", "c"]
    assert got == {"first": "first", "a": "a", "c": "c"}
    assert runner.batches == [["first"], ["a", "c"]]
    assert runner.idle()


async def test_the_first_queued_call_cancelled_passes_the_lead_on() -> None:
    runner = Runner()
    runner.hold = anyio.Event()
    got: dict[str, Any] = {}
    scopes: dict[str, anyio.CancelScope] = {}

    async def call(label: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[label] = scope
            await runner.call(label, got)

    async with anyio.create_task_group() as group:
        await started(group, call, "first")
        for label in "abc":
            await started(group, call, label)
        runner.hold.set()  # ``a`` is woken to lead the next batch...
        scopes["a"].cancel()  # ...and cancelled before it could
    assert runner.ran == ["first", "b", "c"]
    assert got == {"first": "first", "b": "b", "c": "c"}
    assert runner.idle()


async def test_a_leader_cancelled_before_its_batch_started_hands_the_batch_back() -> None:
    runner = Runner()
    runner.start = anyio.Event()
    got: dict[str, Any] = {}
    scopes: dict[str, anyio.CancelScope] = {}

    async def call(label: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[label] = scope
            await runner.call(label, got)

    async with anyio.create_task_group() as group:
        await started(group, call, "lead")  # waits for its batch to start
        for label in "ab":
            await started(group, call, label)
        scopes["lead"].cancel()  # nothing started: the batch goes back, without it
        await anyio.wait_all_tasks_blocked()
        runner.start.set()
    assert runner.ran == ["a", "b"]
    assert got == {"a": "a", "b": "b"}
    assert runner.batches == [["lead"], ["a", "b"]]
    assert runner.idle()


async def test_a_leader_cancelled_while_its_batch_runs_gets_its_result() -> None:
    runner = Runner()
    runner.hold = anyio.Event()
    got: dict[str, Any] = {}
    after: list[str] = []

    async def call() -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await runner.call("lead", got)
            after.append("resumed")
            await anyio.lowlevel.checkpoint()  # the cancellation lands here
            after.append("not reached")
        after.append("cancelled" if scope.cancelled_caught else "not cancelled")

    scopes: list[anyio.CancelScope] = []
    async with anyio.create_task_group() as group:
        await started(group, call)
        scopes[0].cancel()
        await anyio.wait_all_tasks_blocked()
        assert "lead" not in got  # it waits for its batch, which runs regardless
        runner.hold.set()
    assert got == {"lead": "lead"}
    assert after == ["resumed", "cancelled"]


async def test_a_follower_cancelled_while_its_batch_runs_gets_its_result() -> None:
    runner = Runner()
    runner.hold = anyio.Event()
    got: dict[str, Any] = {}
    scopes: dict[str, anyio.CancelScope] = {}

    async def call(label: str) -> None:
        with anyio.CancelScope() as scope:
            scopes[label] = scope
            await runner.call(label, got)

    async with anyio.create_task_group() as group:
        await started(group, call, "first")
        for label in "ab":
            await started(group, call, label)
        runner.hold.set()
        await anyio.wait_all_tasks_blocked()
        runner.hold = anyio.Event()
        # Now ``a`` leads a batch of a and b, held in its "thread".
        await anyio.wait_all_tasks_blocked()
        scopes["b"].cancel()
        scopes["a"].cancel()
        await anyio.wait_all_tasks_blocked()
        runner.hold.set()
    assert runner.batches == [["first"], ["a", "b"]]
    assert got == {"first": "first", "a": "a", "b": "b"}
    assert runner.idle()


async def test_a_call_finished_and_cancelled_before_it_resumed_keeps_its_result() -> None:
    # ``b`` is cancelled while it waits, and its batch runs it before ``b`` resumes
    # (a thread finishing just then): its call ran, so ``b`` must get its result.
    runner = Runner()
    runner.hold = anyio.Event()
    got: dict[str, Any] = {}
    scopes: dict[str, anyio.CancelScope] = {}

    def cancel_b(ran: list[str]) -> str:
        ran.append("a")
        scopes["b"].cancel()
        return "a"

    async def follower() -> None:
        with anyio.CancelScope() as scope:
            scopes["b"] = scope
            await runner.call("b", got)
            await anyio.lowlevel.checkpoint()  # where the cancellation lands

    async def leader() -> None:
        got["a"] = await runner.executor.run(cancel_b, "a")

    async with anyio.create_task_group() as group:
        await started(group, runner.call, "first", got)
        await started(group, leader)
        await started(group, follower)
        runner.hold.set()
        runner.hold = None
    assert runner.batches == [["first"], ["a", "b"]]
    assert got == {"first": "first", "a": "a", "b": "b"}
    assert scopes["b"].cancelled_caught
    assert runner.idle()


async def test_an_error_of_the_batch_runner_reaches_the_leader_and_spares_the_queue() -> None:
    failures = [RuntimeError("the pool is gone")]

    async def run_batch(batch: list[Call[None]]) -> None:
        if failures:
            raise failures.pop()
        for call in batch:
            call.succeed(call.func(None))

    executor: BatchingExecutor[None] = BatchingExecutor(run_batch)
    with pytest.raises(RuntimeError, match="the pool is gone"):
        await executor.run(lambda _: "x", "read")
    assert await executor.run(lambda _: "y", "read") == "y"
    assert executor.pending == 0


async def test_in_worker_thread_runs_batches_one_at_a_time_off_the_loop() -> None:
    import threading

    loop_thread = threading.get_ident()
    threads: set[int] = set()
    inside = 0
    overlaps = 0

    def execute(batch: list[Call[None]]) -> None:
        nonlocal inside, overlaps
        inside += 1
        overlaps += inside > 1
        threads.add(threading.get_ident())
        for call in batch:
            call.succeed(call.func(None))
        inside -= 1

    executor: BatchingExecutor[None] = BatchingExecutor(in_worker_thread(execute))
    results: list[int] = []

    async def call(n: int) -> None:
        results.append(await executor.run(lambda _: n, "read"))

    async with anyio.create_task_group() as group:
        for n in range(50):
            group.start_soon(call, n)
    assert sorted(results) == list(range(50))
    assert loop_thread not in threads
    assert overlaps == 0


# -- any interleaving ----------------------------------------------------------------------

steps = st.lists(
    st.tuples(st.sampled_from(["call", "cancel", "tick", "release"]), st.integers(0, 30)),
    min_size=1,
    max_size=40,
)


async def random_schedule(plan: list[tuple[str, int]], seed: int) -> None:
    """Calls started, cancelled and let through in the order ``plan`` says."""
    rnd = random.Random(seed)
    runner = Runner()
    got: dict[str, Any] = {}
    scopes: list[anyio.CancelScope] = []
    made: list[str] = []
    entered: list[str] = []  # the order calls reached the queue (tasks start in any order)

    async def call(label: str, scope: anyio.CancelScope) -> None:
        with scope:
            entered.append(label)
            await runner.call(label, got)
            await anyio.lowlevel.checkpoint()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for kind, number in plan:
                if kind == "call":
                    label = f"c{len(made)}"
                    made.append(label)
                    scope = anyio.CancelScope()
                    scopes.append(scope)
                    group.start_soon(call, label, scope)
                elif kind == "cancel" and scopes:
                    scopes[number % len(scopes)].cancel()
                elif kind == "release":
                    # Batches hold in their "thread" until released, or run through.
                    if runner.hold is not None:
                        runner.hold.set()
                    runner.hold = anyio.Event() if rnd.random() < 0.5 else None
                    if runner.start is not None:
                        runner.start.set()
                    runner.start = anyio.Event() if rnd.random() < 0.3 else None
                for _ in range(number % 4):
                    await anyio.lowlevel.checkpoint()
            if runner.hold is not None:
                runner.hold.set()
            if runner.start is not None:
                runner.start.set()
            runner.hold = runner.start = None
        # Every call that ran reached its caller, and only those.
        assert sorted(runner.ran) == sorted(got)
        assert len(runner.ran) == len(set(runner.ran))
        # They ran in the order they were made.
        assert runner.ran == [label for label in entered if label in got]
        # Calls never cancelled all ran.
        for label, scope in zip(made, scopes, strict=True):
            if not scope.cancel_called:
                assert label in got
        assert runner.idle()
        # And the executor still answers.
        assert await runner.call("after") == "after"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=200, deadline=None)
@given(plan=steps, seed=st.integers(0, 2**32 - 1))
def test_any_interleaving_of_calls_and_cancellations_keeps_the_rules(
    backend: str, plan: list[tuple[str, int]], seed: int
) -> None:
    anyio.run(random_schedule, plan, seed, backend=backend)


@pytest.mark.parametrize("seed", range(30))
async def test_a_few_interleavings_of_calls_and_cancellations_keep_the_rules(seed: int) -> None:
    rnd = random.Random(seed)
    plan = [
        (rnd.choice(["call", "call", "cancel", "tick", "release"]), rnd.randint(0, 30))
        for _ in range(rnd.randint(1, 40))
    ]
    await random_schedule(plan, seed)
