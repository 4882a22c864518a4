"""Await a coroutine, and learn the moment it first waits: :func:`on_first_wait`.

Some costs are worth paying only for work that actually waits: a helper task
(``fan_out``), a timer (a delivery's timeout), handing a role to another task (the
watchers' timer), a deadline entry (a watcher's check). Most local work (a ``log``
channel, an in-process tool) returns without ever waiting, and paying up front would
cost it more than the work itself.

``await on_first_wait(coro, hook)`` is ``await coro``, except that ``hook()`` is
called once, just before ``coro`` first gives control to the event loop; never if it
finishes without waiting. Everything else is what ``await`` does: each value the
loop sends and each exception it throws in (a cancellation included) reaches
``coro`` unchanged, ``coro``'s result or exception comes out, and closing the outer
coroutine closes ``coro``. Cancellation only ever lands where a coroutine waits, so
a deadline set in the hook bounds ``coro`` as one set before it started would (give
or take the CPU time before its first wait). This is the one place in the library
that steps a coroutine by hand with ``send`` and ``throw``.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeGuard, TypeVar

__all__ = ["is_coroutine", "on_first_wait"]

T = TypeVar("T")


def is_coroutine(value: object) -> TypeGuard[Coroutine[Any, Any, Any]]:
    """Whether ``value`` is a coroutine :func:`on_first_wait` can drive."""
    # The exact type first: it is what nearly every value is, and the ABC's isinstance
    # costs a tenth of a no-op delivery.
    return type(value) is types.CoroutineType or isinstance(value, Coroutine)


@types.coroutine
def on_first_wait(
    coro: Coroutine[Any, Any, T], hook: Callable[[], object]
) -> Generator[Any, Any, T]:
    """Await ``coro``, calling ``hook()`` once, just before ``coro`` first waits.

    If ``hook`` raises, ``coro`` is closed (its ``finally`` blocks run) and the
    exception propagates.
    """
    try:
        trap = coro.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    try:
        hook()
    except BaseException:
        coro.close()
        raise
    # From here on, exactly what ``yield from coro`` does, written out because the
    # first step is already taken.
    while True:
        try:
            sent = yield trap
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation included: the coroutine must see it
            try:
                trap = coro.throw(exc)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
        else:
            try:
                trap = coro.send(sent)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]
