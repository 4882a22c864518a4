"""A reference interpreter, written straight from docs/expressions.md, and its generators.

It shares nothing with the package: its own tree (plain tuples), its own renderer to
text, its own reading of the semantics, kept as plain as possible so that a
disagreement with the compiled closures points at a bug rather than at a shared
mistake. It only needs to handle JSON-like data (what the generators produce).

Tree nodes::

    ("lit", value)                 null / true / false / number / string
    ("path", (root, *steps))       steps are str keys or int indexes
    ("list", (item, ...))
    ("call", name, (arg, ...))
    ("cmp", op, left, right)       op in == != < <= > >= in, "not in"
    ("not", operand)
    ("and", left, right) / ("or", left, right)
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from hypothesis import strategies as st

MISSING = object()
DEPTH_LIMIT = 100  # "Lists and mappings nested deeper than 100 levels cannot be compared"

ROOTS = ["result", "a", "b"]
KEYS = ["a", "b", "items", "keys", "status", "in", "null", "content-type", "", "é"]
FUNCTION_ARITY = {
    "abs": 1,
    "contains": 2,
    "endswith": 2,
    "len": 1,
    "lower": 1,
    "startswith": 2,
    "upper": 1,
}


# -- the semantics -------------------------------------------------------------------


def kind(value: Any) -> str:
    if value is None or value is MISSING:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return "object"


def lookup(value: Any, step: str | int) -> Any:
    if isinstance(step, str):
        return value.get(step, MISSING) if isinstance(value, dict) else MISSING
    if isinstance(value, list | tuple) and -len(value) <= step < len(value):
        return value[step]
    return MISSING


def equal(a: Any, b: Any, depth: int = 0) -> bool | None:
    """True, False, or None when undecided (too deep)."""
    if kind(a) != kind(b):
        return False
    k = kind(a)
    if k == "null":
        return True
    if k in ("boolean", "object"):
        return a is b
    if k in ("number", "string"):
        return a == b
    if depth >= DEPTH_LIMIT:
        return None
    if k == "list":
        if len(a) != len(b):
            return False
        results = [equal(x, y, depth + 1) for x, y in zip(a, b, strict=True)]
    else:
        if set(a) != set(b):
            return False
        results = [equal(a[key], b[key], depth + 1) for key in a]
    if False in results:
        return False
    return None if None in results else True


def membership(item: Any, container: Any) -> bool | None:
    if kind(container) == "list":
        results = [equal(item, element) for element in container]
        if True in results:
            return True
        return None if None in results else False
    if kind(container) == "string" and kind(item) == "string":
        return item in container
    if kind(container) == "mapping" and kind(item) == "string":
        return item in container
    return None


def call(name: str, args: list[Any]) -> Any:
    kinds = [kind(arg) for arg in args]
    if name == "len":
        return len(args[0]) if kinds[0] in ("string", "list", "mapping") else MISSING
    if name in ("lower", "upper"):
        return getattr(args[0], name)() if kinds[0] == "string" else MISSING
    if name == "abs":
        return abs(args[0]) if kinds[0] == "number" else MISSING
    if name in ("startswith", "endswith"):
        if kinds != ["string", "string"]:
            return MISSING
        return args[0].startswith(args[1]) if name == "startswith" else args[0].endswith(args[1])
    assert name == "contains"
    found = membership(args[1], args[0])
    return MISSING if found is None else found


def value_of(node: tuple[Any, ...], names: Any) -> Any:
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "path":
        value = names
        for step in node[1]:
            value = lookup(value, step)
        return value
    if tag == "list":
        items = [value_of(item, names) for item in node[1]]
        return tuple(None if item is MISSING else item for item in items)
    if tag == "call":
        return call(node[1], [value_of(arg, names) for arg in node[2]])
    if tag == "not":
        return not holds(node[1], names)
    if tag == "and":
        return holds(node[1], names) and holds(node[2], names)
    if tag == "or":
        return holds(node[1], names) or holds(node[2], names)
    assert tag == "cmp"
    op, left, right = node[1], value_of(node[2], names), value_of(node[3], names)
    if op in ("==", "!="):
        return equal(left, right) is (op == "==")
    if op in ("in", "not in"):
        return membership(left, right) is (op == "in")
    if kind(left) == kind(right) and kind(left) in ("number", "string"):
        return {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    return False


def holds(node: tuple[Any, ...], names: Any) -> bool:
    """A condition holds only when its value is exactly true."""
    return value_of(node, names) is True


# -- rendering -----------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_LEVEL = {"or": 1, "and": 2, "not": 3, "cmp": 4}


def render(node: tuple[Any, ...]) -> str:
    """Text for ``node`` with only the parentheses precedence requires."""
    tag = node[0]
    if tag == "lit":
        return render_literal(node[1])
    if tag == "path":
        root, *steps = node[1]
        out = root
        for step in steps:
            if isinstance(step, int):
                out += f"[{step}]"
            elif _IDENT.match(step):
                out += f".{step}"
            else:
                out += f"[{json.dumps(step)}]"
        return out
    if tag == "list":
        return "[" + ", ".join(render(item) for item in node[1]) + "]"
    if tag == "call":
        return f"{node[1]}(" + ", ".join(render(arg) for arg in node[2]) + ")"
    if tag == "not":
        return "not " + wrap(node[1], 3)
    if tag in ("and", "or"):
        return f"{wrap(node[1], _LEVEL[tag])} {tag} {wrap(node[2], _LEVEL[tag])}"
    return f"{wrap(node[2], 5)} {node[1]} {wrap(node[3], 5)}"


def wrap(node: tuple[Any, ...], level: int) -> str:
    text = render(node)
    return f"({text})" if _LEVEL.get(node[0], 5) < level else text


def render_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        assert math.isfinite(value)
        return repr(value)
    if isinstance(value, int):
        return str(value)
    return json.dumps(value)


# -- generators ----------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["ok", "OK", "a", "A", "", "é"])
)
# Keys and indexes are drawn mostly from a few common ones, so generated paths and
# generated data meet often enough for the comparisons to see real values.
COMMON_KEYS = KEYS[:3]
json_keys = st.sampled_from(COMMON_KEYS) | st.sampled_from(KEYS) | st.text(max_size=4)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=5)
    ),
    max_leaves=25,
)
names_strategy = st.dictionaries(st.sampled_from(ROOTS), json_values, min_size=2, max_size=3)

literals = st.builds(
    lambda value: ("lit", value),
    st.none()
    | st.booleans()
    | st.integers(-(10**20) + 1, 10**20 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
    | st.sampled_from(["ok", "a", "é"]),
)
paths = st.builds(
    lambda root, steps: ("path", (root, *steps)),
    st.sampled_from(ROOTS),
    st.lists(
        st.sampled_from(COMMON_KEYS)
        | st.sampled_from([0, 1, -1])
        | st.sampled_from(KEYS)
        | st.integers(-3, 3),
        max_size=3,
    ),
)


def _extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    calls = st.sampled_from(sorted(FUNCTION_ARITY)).flatmap(
        lambda name: st.builds(
            lambda args: ("call", name, tuple(args)),
            st.lists(children, min_size=FUNCTION_ARITY[name], max_size=FUNCTION_ARITY[name]),
        )
    )
    return (
        st.builds(
            lambda op, left, right: ("cmp", op, left, right),
            st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]),
            children,
            children,
        )
        | st.builds(lambda operand: ("not", operand), children)
        | st.builds(lambda a, b: ("and", a, b), children, children)
        | st.builds(lambda a, b: ("or", a, b), children, children)
        | st.builds(lambda items: ("list", tuple(items)), st.lists(children, max_size=3))
        | calls
    )


# Watchers mostly write `path op literal` joined by and/or/not; weight those shapes in.
path_against_literal = st.builds(
    lambda op, path, literal: ("cmp", op, path, literal),
    st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]),
    paths,
    literals | st.builds(lambda items: ("list", tuple(items)), st.lists(literals, max_size=3)),
)
expressions = st.recursive(
    literals | paths | path_against_literal | path_against_literal, _extend, max_leaves=12
)
