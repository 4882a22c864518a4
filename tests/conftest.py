"""Shared fixtures: every async test runs on asyncio and on trio, watched for a blocked loop.

A call that blocks the event loop (``time.sleep``, ``sqlite3`` or a synchronous HTTP
call in async code) shows nowhere but as latency somewhere else, so, as anyio's own
suite does, the tests watch for it:

- asyncio runs in debug mode (which also checks, for example, that no other thread
  touches the loop) with ``slow_callback_duration`` set to :data:`BLOCKED_AFTER`:
  asyncio then reports every step of a task that held the loop longer;
- trio runs with an instrument that times each task step the same way;
- when a step of the test's own run held the loop longer than that, the test
  fails, naming the task and how long it held the loop.

A test that blocks on purpose says so with ``@pytest.mark.blocks_the_loop``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Generator
from typing import Any

import pytest
import trio
from hypothesis import settings

# Hypothesis' per-example deadline measures wall time, which a shared machine stretches
# at random: the per-test timeout (pyproject.toml) guards against hangs instead.
settings.register_profile("digitorn", deadline=None)
settings.load_profile("digitorn")

#: A task step that holds the event loop longer than this (seconds) fails its test.
#: It is wall time: on a 2-core machine shared by several test runs, a step may wait
#: for a core, so the bar is high enough that only a real blocking call reaches it.
BLOCKED_AFTER = 1.0

#: ``(task, seconds)`` of each step that held the loop too long, since the test started.
_blocked: list[tuple[str, float]] = []


class _AsyncioSlowSteps(logging.Filter):
    """Takes asyncio's debug-mode reports of slow steps off its logger, for the test."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Executing %s took %.3f seconds" and isinstance(record.args, tuple):
            handle, seconds = record.args
            _blocked.append((str(handle), float(seconds)))  # type: ignore[arg-type]
            return False  # reported by the test itself, not left in caplog
        return True


logging.getLogger("asyncio").addFilter(_AsyncioSlowSteps())


def _asyncio_loop() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    loop.slow_callback_duration = BLOCKED_AFTER
    return loop


class _TrioSlowSteps(trio.abc.Instrument):
    """Times each trio task step; records those that held the loop too long."""

    def __init__(self) -> None:
        self._started = 0.0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self._started = time.perf_counter()

    def after_task_step(self, task: trio.lowlevel.Task) -> None:
        seconds = time.perf_counter() - self._started
        if seconds > BLOCKED_AFTER:
            _blocked.append((task.name, seconds))


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"debug": True, "loop_factory": _asyncio_loop}), id="asyncio"),
        pytest.param(("trio", {"instruments": [_TrioSlowSteps()]}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    backend: tuple[str, dict[str, Any]] = request.param
    return backend


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    _blocked.clear()
    result = yield
    blocked, _blocked[:] = list(_blocked), []
    if blocked and item.get_closest_marker("blocks_the_loop") is None:
        worst = max(blocked, key=lambda step: step[1])
        raise BlockedLoopError(
            f"the event loop was blocked {len(blocked)} time(s) for more than "
            f"{BLOCKED_AFTER}s, the longest {worst[1]:.2f}s by {worst[0]}: a blocking call "
            "in async code (run it in a thread), or mark the test blocks_the_loop"
        )
    return result


class BlockedLoopError(AssertionError):
    """A step of the test held the event loop too long."""
