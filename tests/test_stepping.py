"""on_first_wait: ``await coro`` plus a hook called just before ``coro`` first waits.

Two halves: driven by hand against plain ``await`` (hypothesis sends values, throws
exceptions and closes at every step, and both must behave the same), and on the
real event loops, where cancellation is what gets thrown in.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Coroutine, Generator
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitorn_notify._stepping import is_coroutine, on_first_wait

# -- by hand: the same as ``await`` at every step -----------------------------------------


class Boom(Exception):
    pass


# A step of the inner coroutine: yield a trap (and, if an exception is thrown in
# there, swallow it or let it through), return a value, or raise.
inner_steps = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 9), st.booleans()),
        st.tuples(st.just("return"), st.integers(0, 9), st.just(False)),
        st.tuples(st.just("raise"), st.integers(0, 9), st.just(False)),
    ),
    max_size=8,
)
# What the event loop does at each step: send a value, throw an exception, close.
loop_actions = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 9)),
        st.tuples(st.just("throw"), st.integers(0, 9)),
        st.tuples(st.just("close"), st.just(0)),
    ),
    max_size=10,
)


def scripted(log: list[Any], script: list[tuple[str, int, bool]]) -> Coroutine[Any, Any, Any]:
    @types.coroutine
    def inner() -> Generator[Any, Any, Any]:
        try:
            for kind, value, swallow in script:
                if kind == "return":
                    return f"returned {value}"
                if kind == "raise":
                    raise Boom(f"raised {value}")
                try:
                    got = yield f"trap {value}"
                    log.append(("got", got))
                except Boom as exc:
                    log.append(("caught", str(exc)))
                    if not swallow:
                        raise
            return "ran out"
        finally:
            log.append("finally")

    async def wrapper() -> Any:  # a real coroutine, as a channel's deliver() is
        return await inner()

    return wrapper()


def drive(coro: Coroutine[Any, Any, Any], actions: list[tuple[str, int]]) -> list[Any]:
    """Step ``coro`` as an event loop would; what came out at each step."""
    trace: list[Any] = []
    try:
        trace.append(("yielded", coro.send(None)))
        for action, value in actions:
            if action == "send":
                trace.append(("yielded", coro.send(value)))
            elif action == "throw":
                trace.append(("yielded", coro.throw(Boom(f"thrown {value}"))))
            else:
                coro.close()
                trace.append("closed")
                return trace
        coro.close()
        trace.append("closed at the end")
    except StopIteration as stop:
        trace.append(("returned", stop.value))
    except Boom as exc:
        trace.append(("raised", str(exc)))
    return trace


@settings(max_examples=400, deadline=None)
@given(script=inner_steps, actions=loop_actions)
def test_it_is_await_plus_a_hook_at_the_first_wait(
    script: list[tuple[str, int, bool]], actions: list[tuple[str, int]]
) -> None:
    # Held here, so that only the outer coroutine closing them can run their
    # ``finally`` before the trace is compared (not the garbage collector).
    plain_log: list[Any] = []
    plain_inner = scripted(plain_log, script)

    async def plain() -> Any:
        return await plain_inner

    hooked_log: list[Any] = []
    hooked_inner = scripted(hooked_log, script)

    async def hooked() -> Any:
        return await on_first_wait(hooked_inner, lambda: hooked_log.append("hook"))

    assert drive(hooked(), actions) == drive(plain(), actions)
    if script and script[0][0] == "wait":  # it waits at least once
        # Called once, before the coroutine saw anything from the loop.
        assert hooked_log[0] == "hook"
        assert hooked_log.count("hook") == 1
    else:
        assert "hook" not in hooked_log
    assert [entry for entry in hooked_log if entry != "hook"] == plain_log
    plain_inner.close()
    hooked_inner.close()


def test_a_coroutine_that_never_waits_never_calls_the_hook() -> None:
    calls: list[str] = []

    async def quick() -> str:
        return "done"

    coro = on_first_wait(quick(), lambda: calls.append("hook"))
    with pytest.raises(StopIteration) as stop:
        coro.send(None)
    assert stop.value.value == "done"
    assert calls == []


def test_a_hook_that_raises_closes_the_coroutine() -> None:
    log: list[Any] = []

    def hook() -> None:
        raise RuntimeError("hook failed")

    async def outer() -> Any:
        return await on_first_wait(scripted(log, [("wait", 1, False), ("return", 2, False)]), hook)

    with pytest.raises(RuntimeError, match="hook failed"):
        outer().send(None)
    assert log == ["finally"]


def test_is_coroutine() -> None:
    async def coro() -> None:
        pass

    made = coro()
    assert is_coroutine(made)
    made.close()
    assert not is_coroutine(anyio.sleep)
    assert not is_coroutine(object())


# -- on the event loops --------------------------------------------------------------------


async def waits(times: int, log: list[Any], cancel_at: int | None = None) -> str:
    """Wait ``times`` times; cancel the current scope at wait ``cancel_at``."""
    try:
        for step in range(times):
            log.append(("wait", step))
            if step == cancel_at:
                scopes[-1].cancel()
            await anyio.lowlevel.checkpoint()
    except anyio.get_cancelled_exc_class():
        log.append("saw the cancellation")
        raise
    finally:
        log.append("finally")
    return f"waited {times}"


scopes: list[anyio.CancelScope] = []


@pytest.mark.anyio
@pytest.mark.parametrize("times", [0, 1, 2, 5])
async def test_the_hook_runs_once_before_the_first_wait(times: int) -> None:
    log: list[Any] = []
    result = await on_first_wait(waits(times, log), lambda: log.append("hook"))
    assert result == f"waited {times}"
    expected = [("wait", n) for n in range(times)] + ["finally"]
    if times:
        expected.insert(1, "hook")  # after the code before its first wait, before the wait
    assert log == expected


@pytest.mark.anyio
@pytest.mark.parametrize("times", [1, 2, 5])
async def test_cancellation_at_every_wait_reaches_the_coroutine(times: int) -> None:
    for cancel_at in range(times):
        log: list[Any] = []
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            await on_first_wait(waits(times, log, cancel_at), functools.partial(log.append, "hook"))
        scopes.pop()
        assert scope.cancelled_caught
        assert log[-2:] == ["saw the cancellation", "finally"]
        assert ("wait", cancel_at) in log
        assert ("wait", cancel_at + 1) not in log
        assert log.count("hook") == 1


@pytest.mark.anyio
async def test_a_deadline_set_in_the_hook_bounds_the_coroutine() -> None:
    with anyio.CancelScope() as scope:

        def arm() -> None:
            scope.deadline = anyio.current_time() + 0.05

        await on_first_wait(anyio.sleep(30), arm)
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_scopes_the_coroutine_opens_work_as_under_await() -> None:
    async def inner() -> str:
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(30)
        return "timed out" if scope.cancelled_caught else "slept"

    assert await on_first_wait(inner(), lambda: None) == "timed out"


@pytest.mark.anyio
async def test_an_exception_after_any_wait_comes_out_unchanged() -> None:
    for after in range(4):

        async def failing(after: int = after) -> None:
            for _ in range(after):
                await anyio.lowlevel.checkpoint()
            raise Boom(f"after {after}")

        hooked: list[str] = []
        with pytest.raises(Boom, match=f"after {after}"):
            await on_first_wait(failing(), functools.partial(hooked.append, "hook"))
        assert hooked == (["hook"] if after else [])


@pytest.mark.anyio
async def test_the_task_group_of_a_hooked_coroutine_runs_its_children() -> None:
    seen: list[int] = []

    async def child(n: int) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(n)

    async def parent() -> str:
        async with anyio.create_task_group() as group:
            for n in range(3):
                group.start_soon(child, n)
        return "done"

    calls: list[str] = []
    assert await on_first_wait(parent(), lambda: calls.append("hook")) == "done"
    assert sorted(seen) == [0, 1, 2]
    assert calls == ["hook"]
