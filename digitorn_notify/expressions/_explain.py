"""A tree-walking interpreter that also says why: the engine of ``Expression.explain``.

It computes the same value as the compiled closures (both call the functions of
:mod:`._values`), and on the way notes every anomaly it meets: a path that leads
nowhere, values that cannot be ordered, a function given a value it does not take, a
bare value that is not a boolean. It is slower than the closures and is meant for the
moment a user asks why an alert did or did not fire, not for every check.

Each anomaly is noted once, where it starts: a missing path is reported as missing,
and the comparison that then fails because of it adds nothing more.
"""

from __future__ import annotations

from typing import Any

from digitorn_notify.expressions._ast import (
    BoolOp,
    Call,
    Compare,
    ListNode,
    Literal,
    Node,
    Not,
    PathNode,
    render_path,
)
from digitorn_notify.expressions._functions import FUNCTIONS
from digitorn_notify.expressions._values import (
    BOOL,
    MISSING,
    NULL,
    ORDERINGS,
    describe,
    equals,
    kind_of,
    member,
    order,
    step_with_reason,
)

__all__ = ["explain"]


def explain(text: str, tree: Node, names: Any) -> tuple[bool, tuple[str, ...]]:
    """Whether ``tree`` holds for ``names``, and the diagnostics met on the way."""
    explainer = _Explainer(text)
    return explainer.holds(tree, names), tuple(explainer.notes)


class _Explainer:
    __slots__ = ("notes", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def source(self, node: Node) -> str:
        return f"`{self.text[node.start : node.end]}`"

    def holds(self, node: Node, names: Any) -> bool:
        value = self.value(node, names)
        if value is True:
            return True
        if value is not False and value is not MISSING:
            self.note(
                f"{self.source(node)} is {describe(value)}, not a boolean;"
                " a value on its own holds only when it is true"
            )
        return False

    def value(self, node: Node, names: Any) -> object:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, PathNode):
            return self.path(node, names)
        if isinstance(node, Compare):
            return self.compare(node, names)
        if isinstance(node, BoolOp):
            if node.op == "and":
                return all(self.holds(operand, names) for operand in node.operands)
            return any(self.holds(operand, names) for operand in node.operands)
        if isinstance(node, Not):
            return not self.holds(node.operand, names)
        if isinstance(node, Call):
            return self.call(node, names)
        assert isinstance(node, ListNode)
        items = [self.value(item, names) for item in node.items]
        return tuple(None if item is MISSING else item for item in items)

    def path(self, node: PathNode, names: Any) -> object:
        value: object = names
        for position, key in enumerate(node.steps):
            value, reason = step_with_reason(value, key)
            if value is MISSING:
                if position == 0:
                    if reason.startswith("has no key"):
                        where = f"no name {key!r} was given"
                    elif reason.startswith("raised"):
                        where = f"the names mapping {reason}"
                    else:
                        where = f"the names given ({describe(names)}) are not a mapping"
                else:
                    where = f"`{render_path(node.steps[:position])}` {reason}"
                self.note(f"`{render_path(node.steps)}` is missing: {where}")
                return MISSING
        return value

    def call(self, node: Call, names: Any) -> object:
        function = FUNCTIONS[node.name]
        args = [self.value(arg, names) for arg in node.args]
        result = function.impl(*args)
        if result is MISSING and all(arg is not MISSING for arg in args):
            given = " and ".join(describe(arg) for arg in args)
            self.note(
                f"{self.source(node)} is missing: {node.name}() takes {function.accepts},"
                f" not {given}"
            )
        return result

    def compare(self, node: Compare, names: Any) -> bool:
        left = self.value(node.left, names)
        right = self.value(node.right, names)
        # An operand that is missing has been reported already, where it went missing.
        present = left is not MISSING and right is not MISSING
        pair = f"{describe(left)} and {describe(right)}"
        if node.op in ("==", "!="):
            same = equals(left, right)
            if same is None:
                self.note(
                    f"{self.source(node)} cannot be decided ({pair} are nested too deeply"
                    " or a mapping failed to read); neither == nor != holds"
                )
            elif same is False and present and _of_two_types(left, right):
                self.note(f"{self.source(node)} compares {pair}: values of two types never equal")
            return same is (node.op == "==")
        if node.op in ("in", "not in"):
            found = member(left, right)
            if found is None and present:
                self.note(
                    f"{self.source(node)} does not hold: 'in' needs a list on the right, or a"
                    f" string on the left and a string or a mapping on the right; not {pair}"
                )
            return found is (node.op == "in")
        ordered = order(ORDERINGS[node.op], left, right)
        if ordered is None and present:
            kinds = "two booleans" if kind_of(left) == kind_of(right) == BOOL else pair
            self.note(
                f"{self.source(node)} does not hold: only two numbers or two strings can be"
                f" ordered, not {kinds}"
            )
        return ordered is True


def _of_two_types(left: object, right: object) -> bool:
    # Comparing with null is how presence is tested, so that mismatch is no anomaly.
    kinds = {kind_of(left), kind_of(right)}
    return len(kinds) == 2 and NULL not in kinds
