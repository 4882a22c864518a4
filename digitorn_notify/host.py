"""The host boundary: what the embedding application provides.

The library never assumes a platform. Everything outside it is one of these small
protocols; wherever a one-method protocol is expected, a plain callable is accepted
too and adapted by the ``as_*`` helpers (an ``async def`` for the async ones).

| protocol | the host provides | used by |
| --- | --- | --- |
| :class:`ActionInvoker` | ``await invoke(tool_name, params)`` runs a host tool | scheduler, watchers, tasks, user resolver |
| :class:`PromptSink` | ``await submit(app_id, session_id, prompt, metadata)`` starts an agent turn | scheduler ``llm_prompt``, triggers |
| :class:`PolicyGuard` | ``decide(tool_name) -> Policy`` | watchers, ``run_parallel``, background tasks |
| :class:`SessionDirectory` | active sessions of an app, sessions of a user | trigger routing |
"""  # noqa: E501 - a table reads better unwrapped

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ActionInvoker",
    "Policy",
    "PolicyGuard",
    "PromptSink",
    "SessionDirectory",
    "allow_all",
    "as_action_invoker",
    "as_policy_guard",
    "as_prompt_sink",
]


@runtime_checkable
class ActionInvoker(Protocol):
    """Runs one of the host's tools (``"http.get"``, ``"database.fetch_results"``)."""

    async def invoke(self, tool_name: str, params: Mapping[str, Any]) -> Any:
        """The tool's result; an exception means the tool failed."""
        ...


@runtime_checkable
class PromptSink(Protocol):
    """Starts an agent turn with ``prompt`` in a session of an app."""

    async def submit(
        self,
        app_id: str,
        session_id: str | None,
        prompt: str,
        metadata: Mapping[str, Any],
    ) -> Any:
        """Whatever the host returns (an id, a reply, ``None``)."""
        ...


class Policy(enum.StrEnum):
    """How the host lets a tool run without a human: automatically, after approval, never."""

    AUTO = "auto"
    APPROVE = "approve"
    BLOCK = "block"


@runtime_checkable
class PolicyGuard(Protocol):
    """The host's permission policy for tools."""

    def decide(self, tool_name: str) -> Policy | str:
        """``Policy.AUTO``, ``APPROVE`` or ``BLOCK`` (or their string values)."""
        ...


@runtime_checkable
class SessionDirectory(Protocol):
    """Which sessions exist, for routing to every session or to one user's sessions."""

    async def active_sessions(self, app_id: str) -> Sequence[str]:
        """Session ids currently active in the app."""
        ...

    async def sessions_of_user(self, app_id: str, user_id: str) -> Sequence[str]:
        """Session ids belonging to ``user_id`` in the app."""
        ...


class _FunctionInvoker:
    __slots__ = ("_func",)

    def __init__(self, func: Callable[[str, Mapping[str, Any]], Awaitable[Any]]) -> None:
        self._func = func

    async def invoke(self, tool_name: str, params: Mapping[str, Any]) -> Any:
        return await self._func(tool_name, params)

    def __repr__(self) -> str:
        return f"ActionInvoker({self._func!r})"


class _FunctionSink:
    __slots__ = ("_func",)

    def __init__(self, func: Callable[..., Awaitable[Any]]) -> None:
        self._func = func

    async def submit(
        self, app_id: str, session_id: str | None, prompt: str, metadata: Mapping[str, Any]
    ) -> Any:
        return await self._func(app_id, session_id, prompt, metadata)

    def __repr__(self) -> str:
        return f"PromptSink({self._func!r})"


class _FunctionGuard:
    __slots__ = ("_func",)

    def __init__(self, func: Callable[[str], Policy | str]) -> None:
        self._func = func

    def decide(self, tool_name: str) -> Policy | str:
        return self._func(tool_name)

    def __repr__(self) -> str:
        return f"PolicyGuard({self._func!r})"


def _require_async(func: Callable[..., Any], what: str) -> None:
    if not (
        inspect.iscoroutinefunction(func)
        or inspect.iscoroutinefunction(
            getattr(func, "__call__", None)  # noqa: B004 - async callable objects count too
        )
    ):
        raise TypeError(f"{what} must be an async function or have an async method, got {func!r}")


def as_action_invoker(
    invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]],
) -> ActionInvoker:
    """Accept an :class:`ActionInvoker` or an ``async def (tool_name, params)``."""
    if isinstance(invoker, ActionInvoker):
        return invoker
    _require_async(invoker, "an action invoker")
    return _FunctionInvoker(invoker)


def as_prompt_sink(
    sink: PromptSink | Callable[..., Awaitable[Any]],
) -> PromptSink:
    """Accept a :class:`PromptSink` or an ``async def (app_id, session_id, prompt, metadata)``."""
    if isinstance(sink, PromptSink):
        return sink
    _require_async(sink, "a prompt sink")
    return _FunctionSink(sink)


def as_policy_guard(guard: PolicyGuard | Callable[[str], Policy | str] | None) -> PolicyGuard:
    """Accept a :class:`PolicyGuard`, a ``(tool_name) -> policy`` callable, or ``None``.

    ``None`` is :func:`allow_all`: every tool is ``AUTO``.
    """
    if guard is None:
        return _FunctionGuard(allow_all)
    if isinstance(guard, PolicyGuard):
        return guard
    return _FunctionGuard(guard)


def allow_all(tool_name: str) -> Policy:
    """The default guard: every tool is ``AUTO``."""
    return Policy.AUTO
