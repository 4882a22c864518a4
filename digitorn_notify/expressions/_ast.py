"""The syntax tree the parser builds and the compiler and explainer consume.

Every node keeps its ``start``/``end`` offsets in the source text, so a diagnostic can
quote exactly what the user wrote.
"""

from __future__ import annotations

import unicodedata

import attrs

__all__ = [
    "BoolOp",
    "Call",
    "Compare",
    "ListNode",
    "Literal",
    "Node",
    "Not",
    "PathNode",
    "mentions_names",
    "render_path",
]


@attrs.frozen(kw_only=True)
class Node:
    """A piece of the expression, spanning ``text[start:end]``."""

    start: int
    end: int


@attrs.frozen(kw_only=True)
class Literal(Node):
    """``null``, ``true``, ``false``, a number or a string."""

    value: bool | int | float | str | None


@attrs.frozen(kw_only=True)
class ListNode(Node):
    """``[a, b, …]``."""

    items: tuple[Node, ...]


@attrs.frozen(kw_only=True)
class PathNode(Node):
    """``result.a[0]["b-c"]``: the root name, then keys (``str``) and indexes (``int``)."""

    steps: tuple[str | int, ...]


@attrs.frozen(kw_only=True)
class Call(Node):
    """``name(args…)`` for one of the fixed functions."""

    name: str
    args: tuple[Node, ...]


@attrs.frozen(kw_only=True)
class Compare(Node):
    """``left op right``; ``op`` is one of ``== != < <= > >= in``, ``not in``."""

    op: str
    left: Node
    right: Node


@attrs.frozen(kw_only=True)
class Not(Node):
    """``not operand``."""

    operand: Node


@attrs.frozen(kw_only=True)
class BoolOp(Node):
    """``a and b and …`` or ``a or b or …``, flattened: one node per run of one operator."""

    op: str
    operands: tuple[Node, ...]


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node``."""
    if isinstance(node, ListNode):
        return node.items
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, BoolOp):
        return node.operands
    return ()


def mentions_names(node: Node) -> bool:
    """Whether the value of ``node`` depends on the names (it contains a path)."""
    return isinstance(node, PathNode) or any(mentions_names(child) for child in children(node))


def paths_of(node: Node) -> list[PathNode]:
    """Every path in ``node``, in source order."""
    if isinstance(node, PathNode):
        return [node]
    return [path for child in children(node) for path in paths_of(child)]


_ESCAPED = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_IDENTIFIER_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENTIFIER_CHARS = _IDENTIFIER_START | frozenset("0123456789")


def is_identifier(text: str) -> bool:
    """An ASCII name: what may follow a dot without quoting."""
    return bool(text) and text[0] in _IDENTIFIER_START and all(c in _IDENTIFIER_CHARS for c in text)


def quote(text: str) -> str:
    """``text`` as a double-quoted string literal of the language (round-trips exactly)."""
    out = ['"']
    for char in text:
        if char in _ESCAPED:
            out.append(_ESCAPED[char])
        elif unicodedata.category(char) == "Cc":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def render_path(steps: tuple[str | int, ...]) -> str:
    """The canonical spelling of a path: ``result.items[0]["content-type"]``."""
    parts: list[str] = []
    for position, step in enumerate(steps):
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif not is_identifier(step):
            parts.append(f"[{quote(step)}]")
        else:
            parts.append(step if position == 0 else f".{step}")
    return "".join(parts)
