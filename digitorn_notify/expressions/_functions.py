"""The fixed set of functions an expression may call.

The set is closed on purpose: no regular expressions (a pattern is an easy
denial-of-service), nothing that reaches outside the value it is given. A function
handed a value it does not accept returns :data:`MISSING` instead of raising, and the
explaining interpreter turns that into a diagnostic built from ``accepts``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs

from digitorn_notify.expressions._values import (
    LIST,
    MAPPING,
    MISSING,
    NUMBER,
    STRING,
    kind_of,
    list_items,
    member,
    plain_number,
    plain_str,
)

__all__ = ["FUNCTIONS", "Function", "accepted_functions"]


@attrs.frozen
class Function:
    """One callable name: how many arguments it takes and what it accepts."""

    name: str
    params: tuple[str, ...]
    impl: Callable[..., object] = attrs.field(repr=False)
    accepts: str

    @property
    def arity(self) -> int:
        """How many arguments a call must pass."""
        return len(self.params)

    @property
    def signature(self) -> str:
        """``"startswith(text, prefix)"``, for messages and docs."""
        return f"{self.name}({', '.join(self.params)})"


def _len(value: Any) -> object:
    kind = kind_of(value)
    if kind == STRING:
        return len(plain_str(value))
    if kind == LIST:
        return len(list_items(value))
    if kind == MAPPING:
        try:
            if issubclass(type(value), dict):
                return dict.__len__(value)
            return len(value)
        except Exception:
            return MISSING
    return MISSING


def _lower(value: object) -> object:
    return plain_str(value).lower() if kind_of(value) == STRING else MISSING


def _upper(value: object) -> object:
    return plain_str(value).upper() if kind_of(value) == STRING else MISSING


def _abs(value: object) -> object:
    return abs(plain_number(value)) if kind_of(value) == NUMBER else MISSING


def _two_strings(text: object, part: object) -> tuple[str, str] | None:
    if kind_of(text) == STRING and kind_of(part) == STRING:
        return plain_str(text), plain_str(part)
    return None


def _startswith(text: object, prefix: object) -> object:
    pair = _two_strings(text, prefix)
    return MISSING if pair is None else pair[0].startswith(pair[1])


def _endswith(text: object, suffix: object) -> object:
    pair = _two_strings(text, suffix)
    return MISSING if pair is None else pair[0].endswith(pair[1])


def _contains(container: object, item: object) -> object:
    found = member(item, container)
    return MISSING if found is None else found


def _table(*functions: Function) -> Mapping[str, Function]:
    return {function.name: function for function in functions}


FUNCTIONS: Final[Mapping[str, Function]] = _table(
    Function("abs", ("number",), _abs, "a number"),
    Function(
        "contains",
        ("container", "item"),
        _contains,
        "a list and any value, or a string or mapping and a string",
    ),
    Function("endswith", ("text", "suffix"), _endswith, "two strings"),
    Function("len", ("value",), _len, "a string, a list or a mapping"),
    Function("lower", ("text",), _lower, "a string"),
    Function("startswith", ("text", "prefix"), _startswith, "two strings"),
    Function("upper", ("text",), _upper, "a string"),
)


def accepted_functions() -> str:
    """``"abs(number), contains(container, item), …"``: what an unknown name error lists."""
    return ", ".join(function.signature for function in FUNCTIONS.values())
