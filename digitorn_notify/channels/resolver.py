"""The YAML ``user_resolver``: look a session's address up through a host tool.

::

    user_resolver:
      module: database
      action: fetch_results
      params:
        query: "SELECT phone, email FROM users WHERE session_id = :session_id"
      mapping:
        to_number: phone
      cache_ttl: 300

:class:`ActionUserResolver` calls ``invoker.invoke("database.fetch_results", params)``
and maps the first row of the result through ``mapping``. The session id never
reaches query text: in SQL fields (``query``, ``sql``, ``statement``) ``:session_id``
stays a bind parameter and its value travels in ``params["params"]["session_id"]``;
in every other string ``:session_id`` and ``{{session_id}}`` are replaced by the
URL-quoted id. An id outside ``[A-Za-z0-9_.:@-]{1,128}`` is refused.

Results are cached per instance (``cache_ttl`` seconds, 0 disables; at most 10,000
sessions, least recently used evicted). Concurrent lookups of one session share one
call; failures are never cached.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import anyio

from digitorn_notify.channels.base import RecipientContext
from digitorn_notify.clock import Clock, SystemClock
from digitorn_notify.config import UserResolverConfig
from digitorn_notify.errors import ConfigError, ResolverError
from digitorn_notify.host import ActionInvoker, as_action_invoker

__all__ = ["SESSION_ID_PATTERN", "ActionUserResolver", "ResolverError"]

logger = logging.getLogger("digitorn_notify.channels.resolver")

#: What a session id may look like; anything else is refused before any lookup.
SESSION_ID_PATTERN = re.compile(r"[A-Za-z0-9_.:@\-]{1,128}")
_SQL_KEYS = frozenset({"query", "sql", "statement"})
_BIND = ":session_id"
_TEMPLATE = re.compile(r"\{\{\s*session_id\s*\}\}")
# `:session_id` but not `:session_ids` or `::session_id` casts.
_BIND_TOKEN = re.compile(r"(?<![:\w]):session_id\b")
_ROW_KEYS = ("rows", "results", "data", "items", "records")


class _Pending:
    """A lookup in flight, shared by the concurrent callers of one session."""

    __slots__ = ("done", "error", "value")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.value: dict[str, Any] | None = None
        self.error: BaseException | None = None


class ActionUserResolver:
    """A :class:`~digitorn_notify.channels.registry.UserResolver` backed by a host tool."""

    def __init__(
        self,
        config: UserResolverConfig,
        invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]],
        *,
        clock: Clock | None = None,
        max_entries: int = 10_000,
        timeout: float = 10.0,
        path: str = "user_resolver",
    ) -> None:
        self.config = config
        self.tool_name = f"{config.module}.{config.action}"
        self._invoker = as_action_invoker(invoker)
        self._clock = clock or SystemClock()
        self._max_entries = max_entries
        self._timeout = timeout
        self._cache: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._pending: dict[str, _Pending] = {}
        #: Calls made to the host tool (lookups that were neither cached nor coalesced).
        self.calls = 0
        _check_params(config.params, f"{path}.params")

    async def resolve(self, context: RecipientContext) -> dict[str, Any]:
        """The mapped fields for ``context.session_id``; ``{}`` without a session."""
        session_id = context.session_id
        if not session_id:
            return {}
        if not SESSION_ID_PATTERN.fullmatch(session_id):
            raise ResolverError(
                "session id refused: it must match [A-Za-z0-9_.:@-]{1,128} "
                f"(got {len(session_id)} characters)"
            )
        ttl = self.config.cache_ttl
        if ttl > 0:
            hit = self._cache.get(session_id)
            if hit is not None:
                if hit[0] > self._clock.monotonic():
                    self._cache.move_to_end(session_id)
                    return dict(hit[1])
                del self._cache[session_id]
        pending = self._pending.get(session_id)
        if pending is not None:
            await pending.done.wait()
            if pending.error is not None:
                raise ResolverError(f"shared lookup failed: {pending.error}")
            return dict(pending.value or {})
        pending = self._pending[session_id] = _Pending()
        try:
            value = await self._lookup(session_id)
        except BaseException as exc:
            pending.error = exc
            raise
        else:
            pending.value = value
            if ttl > 0:
                self._store(session_id, value, ttl)
            return dict(value)
        finally:
            del self._pending[session_id]
            pending.done.set()

    def _store(self, session_id: str, value: dict[str, Any], ttl: float) -> None:
        self._cache[session_id] = (self._clock.monotonic() + ttl, value)
        self._cache.move_to_end(session_id)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)

    def invalidate(self, session_id: str | None = None) -> None:
        """Forget the cached address of ``session_id`` (of every session when ``None``)."""
        if session_id is None:
            self._cache.clear()
        else:
            self._cache.pop(session_id, None)

    async def _lookup(self, session_id: str) -> dict[str, Any]:
        params = _bind(self.config.params, session_id)
        self.calls += 1
        with anyio.fail_after(self._timeout):
            result = await self._invoker.invoke(self.tool_name, params)
        row = first_row(result)
        if row is None:
            raise ResolverError(f"{self.tool_name} returned no row for the session")
        if not self.config.mapping:
            return dict(row)
        resolved = {}
        for field, source in self.config.mapping.items():
            value = _get(row, source)
            if value is not None:
                resolved[field] = value
        if not resolved:
            wanted = ", ".join(self.config.mapping.values())
            raise ResolverError(f"{self.tool_name}'s row has none of the mapped fields ({wanted})")
        return resolved

    def __repr__(self) -> str:
        return (
            f"ActionUserResolver({self.tool_name!r}, cache_ttl={self.config.cache_ttl:g}, "
            f"cached={len(self._cache)})"
        )


def _check_params(params: Any, path: str, key: str = "") -> None:
    """Refuse ``{{session_id}}`` in SQL, where only a bind parameter is safe."""
    if isinstance(params, Mapping):
        for name, value in params.items():
            _check_params(value, f"{path}.{name}", str(name))
    elif isinstance(params, list | tuple):
        for index, value in enumerate(params):
            _check_params(value, f"{path}[{index}]", key)
    elif isinstance(params, str) and key in _SQL_KEYS and _TEMPLATE.search(params):
        raise ConfigError(
            "{{session_id}} would splice the id into SQL text: write :session_id, "
            "which stays a bind parameter",
            path=path,
        )


def _bind(params: Mapping[str, Any], session_id: str) -> dict[str, Any]:
    """``params`` for one session: bind parameters for SQL, quoted ids elsewhere."""
    bound: dict[str, Any] = {}
    binds = False
    for key, value in params.items():
        if key in _SQL_KEYS and isinstance(value, str):
            binds = binds or _BIND_TOKEN.search(value) is not None
            bound[key] = value
        else:
            bound[key] = _substitute(value, quote(session_id, safe=""))
    if binds:
        extra = bound.get("params")
        bound["params"] = (
            {**extra, "session_id": session_id}
            if isinstance(extra, Mapping)
            else {"session_id": session_id}
        )
    return bound


def _substitute(value: Any, quoted: str) -> Any:
    if isinstance(value, str):
        return _BIND_TOKEN.sub(quoted, _TEMPLATE.sub(quoted, value))
    if isinstance(value, Mapping):
        return {k: _substitute(v, quoted) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_substitute(v, quoted) for v in value]
    return value


def first_row(result: Any) -> Mapping[str, Any] | None:
    """The first row of a tool result: a mapping, a list of rows, or ``{"rows": [...]}``.

    Rows given as sequences are zipped with ``result["columns"]`` when present.
    """
    columns = None
    if isinstance(result, Mapping):
        for key in _ROW_KEYS:
            if isinstance(result.get(key), list | tuple):
                columns = result.get("columns")
                result = result[key]
                break
        else:
            return result or None
    if isinstance(result, list | tuple):
        if not result:
            return None
        row = result[0]
        if isinstance(row, Mapping):
            return row
        if isinstance(row, Sequence) and isinstance(columns, Sequence):
            return dict(zip(columns, row, strict=False))
    return None


def _get(row: Mapping[str, Any], source: str) -> Any:
    if source in row:
        return row[source]
    value: Any = row
    for step in source.split("."):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value
