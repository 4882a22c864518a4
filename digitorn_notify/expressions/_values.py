"""The value model: how a path steps, how two values compare, how a value is described.

The compiled closures (the hot path) and the explaining interpreter both call these
functions, so the two cannot drift apart. Every function here is total: whatever
Python object it is handed, it returns a value, :data:`MISSING` or ``None`` (meaning
"undecided") and never raises, because a watcher's data comes from tools we do not
control.

Values are classified from ``type(value)`` with ``issubclass``, never with
``isinstance``: ``isinstance`` falls back to reading ``value.__class__``, an attribute
any object can redefine. Subclasses of ``int``, ``float``, ``str``, ``list``, ``tuple``
and ``dict`` are read through their base type's own methods, so nothing a subclass
overrides ever runs. Only mappings that are not dicts run code of their own (their
``__getitem__``, ``__iter__``, ``__len__``, ``__contains__``); that is the mapping
protocol itself, and every call to it is guarded.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

__all__ = [
    "BOOL",
    "KIND_NAMES",
    "LIST",
    "MAPPING",
    "MAX_COMPARE_DEPTH",
    "MISSING",
    "NULL",
    "NUMBER",
    "OPAQUE",
    "ORDERINGS",
    "STRING",
    "describe",
    "equals",
    "kind_of",
    "list_items",
    "member",
    "order",
    "plain_number",
    "plain_str",
    "step",
    "step_with_reason",
    "type_name",
]


class _Missing:
    """The value of a path that leads nowhere: equal to null, yet told apart in diagnostics."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

# Kinds are small ints rather than an Enum: they are compared on the hot path.
NULL: Final = 0
BOOL: Final = 1
NUMBER: Final = 2
STRING: Final = 3
LIST: Final = 4
MAPPING: Final = 5
OPAQUE: Final = 6
KIND_NAMES: Final = ("null", "boolean", "number", "string", "list", "mapping", "object")

# Equality recurses into lists and mappings; past this depth it gives up (undecided)
# instead of exhausting the stack on deep or self-referencing data.
MAX_COMPARE_DEPTH: Final = 100

ORDERINGS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

_EXACT_KINDS: Final[dict[type, int]] = {
    type(None): NULL,
    _Missing: NULL,
    bool: BOOL,
    int: NUMBER,
    float: NUMBER,
    str: STRING,
    list: LIST,
    tuple: LIST,
    dict: MAPPING,
}


def kind_of(value: object) -> int:
    """The kind of ``value``; anything that is not JSON-like is ``OPAQUE``."""
    cls = type(value)
    try:
        # Hashing a class can run a metaclass's __hash__, hence the guard.
        kind = _EXACT_KINDS.get(cls)
        if kind is not None:
            return kind
        # bool cannot be subclassed, so an int subclass (IntEnum included) is a number.
        if issubclass(cls, (int, float)):
            return NUMBER
        if issubclass(cls, str):
            return STRING
        if issubclass(cls, (list, tuple)):
            return LIST
        if issubclass(cls, Mapping):
            return MAPPING
    except Exception:
        return OPAQUE
    return OPAQUE


def plain_number(value: Any) -> int | float:
    """An exact ``int`` or ``float`` equal to ``value``, a value of kind ``NUMBER``."""
    cls = type(value)
    if cls is int or cls is float:
        return value  # type: ignore[no-any-return]
    if issubclass(cls, int):
        return int.__int__(value)
    return float.__float__(value)


def plain_str(value: Any) -> str:
    """An exact ``str`` equal to ``value``, a value of kind ``STRING``."""
    return value if type(value) is str else str.__str__(value)


def list_items(value: Any) -> Sequence[Any]:
    """The items of ``value``, a value of kind ``LIST``, read without its own methods."""
    cls = type(value)
    if cls is list or cls is tuple:
        return value  # type: ignore[no-any-return]
    if issubclass(cls, list):
        return tuple(list.__iter__(value))
    return tuple(tuple.__iter__(value))


def _is_dict(cls: type) -> bool:
    return cls is dict or issubclass(cls, dict)


def step_with_reason(value: Any, key: str | int) -> tuple[object, str]:
    """Take one path step from ``value``: ``(result, "")`` or ``(MISSING, why)``.

    A ``str`` key looks up a mapping key and nothing else: a key called ``items`` is
    that key, never a method. An ``int`` key indexes a list or tuple, counting from the
    end when negative. ``why`` completes a sentence whose subject is ``value``.
    """
    if value is MISSING:
        return MISSING, "is missing"
    kind = kind_of(value)
    # Keys come from our own parser, exact str or int, so isinstance is safe here.
    if isinstance(key, str):
        if kind != MAPPING:
            return MISSING, _not_a(kind, value, "mapping", key)
        try:
            # dict.get, not value[key]: a defaultdict must not grow an entry per lookup.
            is_dict = _is_dict(type(value))
            found = dict.get(value, key, MISSING) if is_dict else value[key]
        except KeyError:
            found = MISSING
        except Exception as exc:
            return MISSING, f"raised {type_name(exc)} when looking up {key!r}"
        if found is MISSING:
            return MISSING, f"has no key {key!r}"
        return found, ""
    if kind != LIST:
        return MISSING, _not_a(kind, value, "list", key)
    items = list_items(value)
    size = len(items)
    if -size <= key < size:
        return items[key], ""
    return MISSING, f"has {size} item{'' if size == 1 else 's'}, so [{key}] is out of range"


def _not_a(kind: int, value: object, wanted: str, key: str | int) -> str:
    if kind == NULL:
        return "is null"
    hint = ""
    if kind == LIST:
        hint = "; index a list with [0]"
    elif kind == MAPPING:
        hint = f'; [{key}] indexes lists only, a key is quoted: ["{key}"]'
    return f"is {describe(value)}, not a {wanted}{hint}"


def step(value: object, key: str | int) -> object:
    """Like :func:`step_with_reason`, for the compiled closures' less common cases."""
    return step_with_reason(value, key)[0]


def equals(left: object, right: object) -> bool | None:
    """``==`` of the language; ``None`` when it cannot be decided (then ``!=`` fails too).

    Numbers are equal by value (``1 == 1.0``), ``bool`` is not a number, values of
    different kinds are never equal, missing equals null, NaN equals nothing, opaque
    objects equal only themselves. Lists and mappings compare item by item.
    """
    cls = type(left)
    if cls is type(right) and (cls is str or cls is int or cls is float):
        return left == right
    return _equals(left, right, 0)


def _equals(left: object, right: object, depth: int) -> bool | None:
    kind = kind_of(left)
    if kind != kind_of(right):
        return False
    if kind == NULL:
        return True
    if kind == BOOL:
        return left is right
    if kind == NUMBER:
        return plain_number(left) == plain_number(right)
    if kind == STRING:
        return plain_str(left) == plain_str(right)
    if kind == OPAQUE:
        return left is right
    if depth >= MAX_COMPARE_DEPTH:
        return None
    if kind == LIST:
        lefts, rights = list_items(left), list_items(right)
        if len(lefts) != len(rights):
            return False
        return _all_equal(zip(lefts, rights, strict=True), depth)
    return _mappings_equal(left, right, depth)


def _all_equal(pairs: Any, depth: int) -> bool | None:
    # A pair that differs decides; one that cannot be decided only matters if none differs.
    undecided = False
    for a, b in pairs:
        same = _equals(a, b, depth + 1)
        if same is False:
            return False
        if same is None:
            undecided = True
    return None if undecided else True


def _mapping_items(value: Any) -> list[tuple[Any, Any]] | None:
    try:
        if _is_dict(type(value)):
            return list(dict.items(value))
        return [(key, value[key]) for key in value]
    except Exception:
        return None


def _mappings_equal(left: object, right: object, depth: int) -> bool | None:
    lefts, rights = _mapping_items(left), _mapping_items(right)
    if lefts is None or rights is None:
        return None
    if len(lefts) != len(rights):
        return False
    try:
        by_key = dict(rights)
        pairs = [(value, by_key.get(key, MISSING)) for key, value in lefts]
    except Exception:  # keys whose hash or == raise
        return None
    if any(other is MISSING for _, other in pairs):
        return False
    return _all_equal(pairs, depth)


def order(compare: Callable[[Any, Any], bool], left: object, right: object) -> bool | None:
    """An ordering comparison: numbers with numbers, strings with strings, else ``None``."""
    kind = kind_of(left)
    if kind != kind_of(right):
        return None
    if kind == NUMBER:
        # int against float compares exactly in Python, so huge ints never overflow here.
        return compare(plain_number(left), plain_number(right))
    if kind == STRING:
        return compare(plain_str(left), plain_str(right))
    return None


def member(item: object, container: Any) -> bool | None:
    """``item in container``: in a list (by :func:`equals`), a substring, a mapping key.

    ``None`` when the container is none of those, or when a string or key test gets a
    left side that is not a string; then neither ``in`` nor ``not in`` holds.
    """
    kind = kind_of(container)
    if kind == LIST:
        undecided = False
        for element in list_items(container):
            same = equals(item, element)
            if same is True:
                return True
            if same is None:
                undecided = True
        return None if undecided else False
    if kind_of(item) != STRING:
        return None
    if kind == STRING:
        return plain_str(item) in plain_str(container)
    if kind == MAPPING:
        key = plain_str(item)
        try:
            if _is_dict(type(container)):
                return dict.__contains__(container, key)
            found = key in container
        except Exception:
            return None
        return found
    return None


def type_name(value: object) -> str:
    """The name of ``value``'s class, for messages; never raises."""
    try:
        name = type(value).__name__
    except Exception:
        return "object"
    return name if type(name) is str else "object"


def describe(value: object) -> str:
    """A short, safe description of a value for diagnostics ("a number (200)").

    Strings are cut at 40 characters and containers are only counted, so a diagnostic
    never carries a whole payload; huge ints are not turned into text (which Python
    refuses past 4,300 digits).
    """
    if value is MISSING:
        return "missing"
    kind = kind_of(value)
    if kind == NULL:
        return "null"
    if kind == BOOL:
        return "true" if value is True else "false"
    if kind == NUMBER:
        number = plain_number(value)
        if type(number) is int and number.bit_length() > 128:
            return f"a number of about {int(number.bit_length() * 0.30103)} digits"
        return f"a number ({number!r})"
    if kind == STRING:
        text = plain_str(value)
        if len(text) > 40:
            return f"a string ({text[:40]!r}… of {len(text)} characters)"
        return f"a string ({text!r})"
    if kind == LIST:
        size = len(list_items(value))
        return f"a list of {size} item{'' if size == 1 else 's'}"
    if kind == MAPPING:
        return "a mapping"
    return f"an object of type {type_name(value)}"
