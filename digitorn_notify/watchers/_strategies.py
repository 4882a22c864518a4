"""Escalation strategies: which checks are worth a notification.

A strategy sees every check of its watcher, in order, and answers with a
:class:`Notice` or ``None``. It keeps only what it needs to decide (a 16-byte digest, a
counter), can dump that state for persistence, and is rebuilt from the watcher's
``notify_when`` / ``notify_config`` on restore.

| strategy | notifies |
| --- | --- |
| ``on_change`` | the first check (the baseline), then each check whose result differs from the previous one |
| ``on_error`` | the first failed check of a run, and the first success after it (recovery) |
| ``on_threshold`` | when ``expression`` becomes true (and every ``repeat_every`` checks while it stays true) |
| ``summary`` | every ``batch_size`` checks, with the batch |
| ``always`` | every check |
"""  # noqa: E501 - a table reads better unwrapped

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Final

import attrs

from digitorn_notify._convert import unknown_key
from digitorn_notify.errors import ConfigError, ExpressionError
from digitorn_notify.expressions import Expression, compile_expression
from digitorn_notify.watchers._encode import canonical_key, error_key, strip_fields

__all__ = ["STRATEGIES", "BatchItem", "Notice", "Strategy", "build_strategy"]

#: The largest ``batch_size`` of ``summary`` (a batch must fit in the history).
MAX_BATCH_SIZE: Final = 100
#: The names a threshold expression may read.
EXPRESSION_NAMES: Final = frozenset({"result", "error"})


@attrs.frozen
class BatchItem:
    """One check inside a ``summary`` notice."""

    check: int
    ok: bool
    text: str


@attrs.frozen
class Notice:
    """A strategy's decision to notify, and why.

    ``reason`` is one of ``baseline``, ``changed``, ``error``, ``still_failing``,
    ``recovered``, ``threshold``, ``summary``, ``always``; ``detail`` is a sentence for
    the reader (or ``None``); ``batch`` holds the checks of a ``summary``.
    """

    reason: str
    detail: str | None = None
    batch: tuple[BatchItem, ...] = ()


class Strategy(abc.ABC):
    """The interface every strategy implements."""

    __slots__ = ()
    name: ClassVar[str]

    @abc.abstractmethod
    def observe(
        self,
        check: int,
        ok: bool,
        text: str,
        result: Any,
        unchanged: bool,
    ) -> Notice | None:
        """Decide about check number ``check``.

        ``ok`` says whether it succeeded; ``text`` is the result's JSON text, or the
        error message; ``result`` the tool's result (``None`` on error); ``unchanged``
        is true when ``ok`` and ``text`` are exactly those of the previous check.
        """

    def dump(self) -> dict[str, Any]:
        """The decision state, JSON-compatible, for persistence."""
        return {}

    def load(self, state: Mapping[str, Any]) -> None:
        """Take back a state :meth:`dump` produced; ``ValueError`` if it is not one."""
        if state:
            raise ValueError(f"{self.name} keeps no state, got keys {sorted(state)}")


def _check_keys(config: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> None:
    for key in config:
        if key not in allowed:
            raise ConfigError(
                f"{unknown_key(key, allowed, noun='option')} (for {name})",
                path=f"notify_config.{key}",
            )


def _int_option(
    config: Mapping[str, Any], key: str, low: int, high: int | None, default: int | None
) -> int | None:
    value = config.get(key, default)
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    bound = f"between {low} and {high}" if high is not None else f"at least {low}"
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(
            f"must be a whole number {bound}, got {value!r}", path=f"notify_config.{key}"
        )
    if value < low or (high is not None and value > high):
        raise ConfigError(f"must be {bound}, got {value}", path=f"notify_config.{key}")
    return value


def _repeat_due(run: int, repeat_every: int | None) -> bool:
    """Whether the ``run``-th check in a row (from 2) is a reminder."""
    return repeat_every is not None and run > 1 and (run - 1) % repeat_every == 0


class OnChange(Strategy):
    """Notify on the baseline, then whenever the (canonical) result changes."""

    __slots__ = ("_ignore", "_key")
    name = "on_change"

    def __init__(self, ignore_fields: tuple[tuple[str, ...], ...] = ()) -> None:
        self._ignore = ignore_fields
        self._key: bytes | None = None

    def observe(
        self, check: int, ok: bool, text: str, result: Any, unchanged: bool
    ) -> Notice | None:
        previous = self._key
        if unchanged and previous is not None:
            return None
        if not ok:
            key = error_key(text)
        elif self._ignore:
            key = canonical_key(strip_fields(result, self._ignore))
        else:
            key = canonical_key(result)
        self._key = key
        if previous is None:
            return Notice("baseline", "First check: this result is the baseline.")
        if key == previous:
            return None
        return Notice("changed", None)

    def dump(self) -> dict[str, Any]:
        return {"key": None if self._key is None else self._key.hex()}

    def load(self, state: Mapping[str, Any]) -> None:
        key = state.get("key")
        if set(state) - {"key"} or not (key is None or isinstance(key, str)):
            raise ValueError(f"not an on_change state: {state!r}")
        self._key = None if key is None else bytes.fromhex(key)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnChange:
        _check_keys(config, cls.name, ("ignore_fields",))
        fields = config.get("ignore_fields", ())
        path = "notify_config.ignore_fields"
        if isinstance(fields, str) or not isinstance(fields, list | tuple):
            raise ConfigError(f"must be a list of field names, got {fields!r}", path=path)
        parsed = []
        for index, field in enumerate(fields):
            parts = tuple(field.split(".")) if isinstance(field, str) else ()
            if not parts or not all(parts):
                raise ConfigError(
                    f"must be a field name or a dotted path like 'meta.fetched_at', got {field!r}",
                    path=f"{path}[{index}]",
                )
            parsed.append(parts)
        return cls(tuple(parsed))


class OnError(Strategy):
    """Notify on the first failure of a run, on recovery, and optionally as a reminder."""

    __slots__ = ("_failures", "_repeat")
    name = "on_error"

    def __init__(self, repeat_every: int | None = None) -> None:
        self._repeat = repeat_every
        self._failures = 0

    def observe(
        self, check: int, ok: bool, text: str, result: Any, unchanged: bool
    ) -> Notice | None:
        if not ok:
            self._failures += 1
            if self._failures == 1:
                return Notice("error", None)
            if _repeat_due(self._failures, self._repeat):
                return Notice(
                    "still_failing", f"Still failing: {self._failures} failed checks in a row."
                )
            return None
        if self._failures:
            failures, self._failures = self._failures, 0
            return Notice("recovered", f"Recovered after {failures} failed check(s).")
        return None

    def dump(self) -> dict[str, Any]:
        return {"failures": self._failures}

    def load(self, state: Mapping[str, Any]) -> None:
        self._failures = _counter_state(state, "failures", self.name)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnError:
        _check_keys(config, cls.name, ("repeat_every",))
        return cls(_int_option(config, "repeat_every", 1, None, None))


class OnThreshold(Strategy):
    """Notify when a safe expression over ``result`` (and ``error``) becomes true."""

    __slots__ = ("_expression", "_repeat", "_run")
    name = "on_threshold"

    def __init__(self, expression: Expression, repeat_every: int | None = None) -> None:
        self._expression = expression
        self._repeat = repeat_every
        self._run = 0

    def observe(
        self, check: int, ok: bool, text: str, result: Any, unchanged: bool
    ) -> Notice | None:
        if ok:
            # The expression reads what history shows: the JSON form of the result
            # (datetimes as text, objects as mappings), whatever the tool returned.
            holds = self._expression.evaluate({"result": json.loads(text), "error": None})
        else:
            holds = self._expression.evaluate({"result": None, "error": text})
        if not holds:
            # A failed check cannot tell whether the condition cleared: keep the run.
            if ok:
                self._run = 0
            return None
        self._run += 1
        if self._run == 1:
            return Notice("threshold", f"Condition met: {self._expression.text}")
        if _repeat_due(self._run, self._repeat):
            return Notice(
                "threshold",
                f"Condition still met ({self._run} checks in a row): {self._expression.text}",
            )
        return None

    def dump(self) -> dict[str, Any]:
        return {"run": self._run}

    def load(self, state: Mapping[str, Any]) -> None:
        self._run = _counter_state(state, "run", self.name)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnThreshold:
        _check_keys(config, cls.name, ("expression", "repeat_every"))
        text = config.get("expression")
        path = "notify_config.expression"
        if text is None:
            raise ConfigError(
                "on_threshold needs an expression, e.g. 'result.status_code != 200'", path=path
            )
        try:
            expression = compile_expression(text)
        except ExpressionError as exc:
            raise ConfigError(str(exc), path=path) from None
        unknown = sorted(expression.root_names - EXPRESSION_NAMES)
        if unknown:
            raise ConfigError(
                f"the expression reads {', '.join(map(repr, unknown))}; a watcher provides "
                "'result' (the check's result) and 'error' (the error message, or null)",
                path=path,
            )
        return cls(expression, _int_option(config, "repeat_every", 1, None, None))


class Summary(Strategy):
    """Notify every ``batch_size`` checks with the whole batch."""

    __slots__ = ("_batch", "_size")
    name = "summary"

    def __init__(self, batch_size: int = 10) -> None:
        self._size = batch_size
        self._batch: list[BatchItem] = []

    def observe(
        self, check: int, ok: bool, text: str, result: Any, unchanged: bool
    ) -> Notice | None:
        self._batch.append(BatchItem(check, ok, text))
        if len(self._batch) < self._size:
            return None
        batch, self._batch = tuple(self._batch), []
        return Notice("summary", None, batch)

    def dump(self) -> dict[str, Any]:
        return {"batch": [[item.check, item.ok, item.text] for item in self._batch]}

    def load(self, state: Mapping[str, Any]) -> None:
        batch = state.get("batch")
        if set(state) != {"batch"} or not isinstance(batch, list):
            raise ValueError(f"not a summary state: {state!r}")
        items = []
        for item in batch:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and isinstance(item[0], int)
                and isinstance(item[1], bool)
                and isinstance(item[2], str)
            ):
                raise ValueError(f"not a summary batch entry: {item!r}")
            items.append(BatchItem(item[0], item[1], item[2]))
        self._batch = items

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Summary:
        _check_keys(config, cls.name, ("batch_size",))
        size = _int_option(config, "batch_size", 1, MAX_BATCH_SIZE, 10)
        assert size is not None
        return cls(size)


class Always(Strategy):
    """Notify on every check (for debugging: it saves nothing)."""

    __slots__ = ()
    name = "always"

    def observe(
        self, check: int, ok: bool, text: str, result: Any, unchanged: bool
    ) -> Notice | None:
        return Notice("always", None)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Always:
        _check_keys(config, cls.name, ())
        return cls()


def _counter_state(state: Mapping[str, Any], key: str, name: str) -> int:
    value = state.get(key)
    if set(state) != {key} or not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"not an {name} state: {state!r}")
    return value


#: Every strategy by name, with the function that builds it from ``notify_config``.
STRATEGIES: Final[Mapping[str, Callable[[Mapping[str, Any]], Strategy]]] = {
    "on_change": OnChange.from_config,
    "on_error": OnError.from_config,
    "on_threshold": OnThreshold.from_config,
    "summary": Summary.from_config,
    "always": Always.from_config,
}


def build_strategy(notify_when: Any, notify_config: Any) -> Strategy:
    """The strategy ``notify_when`` configured by ``notify_config``; :class:`ConfigError` if bad."""
    if not isinstance(notify_when, str) or notify_when not in STRATEGIES:
        raise ConfigError(unknown_key(notify_when, STRATEGIES, noun="strategy"), path="notify_when")
    if notify_config is None:
        notify_config = {}
    if not isinstance(notify_config, Mapping):
        raise ConfigError(
            f"must be an object of options, got {type(notify_config).__name__}",
            path="notify_config",
        )
    for key in notify_config:
        if not isinstance(key, str):
            raise ConfigError(f"option names are strings, got {key!r}", path="notify_config")
    return STRATEGIES[notify_when](notify_config)
