"""Compile a syntax tree into nested closures: the hot path of every watcher check.

Compiling happens once per watcher; evaluation happens on every check, so the work is
moved to compile time: path steps are resolved into tuples, sub-trees that do not
mention a name are folded into constants, and the common ``path op literal`` shapes get
closures that handle the exact JSON types inline and only call into the general
:mod:`._values` functions for anything else. Each closure takes the names mapping and
returns a value (possibly :data:`MISSING`); a condition holds when that value
``is True``.

The closures must agree exactly with :mod:`._explain`, the tree-walking interpreter
that also reports diagnostics; the test suite checks that they do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from digitorn_notify.expressions._ast import (
    BoolOp,
    Call,
    Compare,
    ListNode,
    Literal,
    Node,
    Not,
    PathNode,
    mentions_names,
)
from digitorn_notify.expressions._functions import FUNCTIONS
from digitorn_notify.expressions._values import (
    BOOL,
    MISSING,
    NULL,
    NUMBER,
    ORDERINGS,
    STRING,
    equals,
    kind_of,
    member,
    order,
    step,
)

__all__ = ["Evaluator", "compile_tree"]

Evaluator = Callable[[Any], object]

_MIRRORED: Final = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def compile_tree(node: Node) -> Evaluator:
    """The closure computing the value of ``node`` from a names mapping."""
    if not isinstance(node, Literal) and not mentions_names(node):
        # Functions are pure and there is nothing to look up: compute it now, once.
        value = _compile(node)({})
        return _constant(value)
    return _compile(node)


def _compile(node: Node) -> Evaluator:
    if isinstance(node, Literal):
        return _constant(node.value)
    if isinstance(node, PathNode):
        return _path(node.steps)
    if isinstance(node, Compare):
        return _compare(node)
    if isinstance(node, BoolOp):
        return _bool_op(node)
    if isinstance(node, Not):
        operand = compile_tree(node.operand)

        def negate(names: Any) -> object:
            return operand(names) is not True

        return negate
    if isinstance(node, Call):
        return _call(node)
    assert isinstance(node, ListNode)
    return _list(node)


def _constant(value: object) -> Evaluator:
    def constant(names: Any) -> object:
        return value

    return constant


def _path(steps: tuple[str | int, ...]) -> Evaluator:
    # Exact dicts and lists are handled inline; everything else (subclasses, other
    # mappings, values that are not containers) goes through the guarded ``step``. The
    # try costs nothing unless a dict's own key comparison raises, which only a hostile
    # key object with a colliding hash can make it do.
    if len(steps) == 2 and type(steps[0]) is str and type(steps[1]) is str:
        first, second = steps

        def two_keys(names: Any) -> object:
            try:
                value = names.get(first, MISSING) if type(names) is dict else step(names, first)
                return value.get(second, MISSING) if type(value) is dict else step(value, second)
            except Exception:
                return MISSING

        return two_keys

    if all(type(key) is str for key in steps):
        keys = steps

        def keys_only(names: Any) -> object:
            value = names
            try:
                for key in keys:
                    value = value.get(key, MISSING) if type(value) is dict else step(value, key)
            except Exception:
                return MISSING
            return value

        return keys_only

    plan: tuple[tuple[bool, Any], ...] = tuple((type(key) is str, key) for key in steps)

    def path(names: Any) -> object:
        value = names
        try:
            for is_key, key in plan:
                cls = type(value)
                if is_key:
                    value = value.get(key, MISSING) if cls is dict else step(value, key)
                elif (cls is list or cls is tuple) and -len(value) <= key < len(value):
                    value = value[key]
                else:
                    value = step(value, key)
                if value is MISSING:
                    return MISSING
        except Exception:
            return MISSING
        return value

    return path


def _bool_op(node: BoolOp) -> Evaluator:
    operands = tuple(compile_tree(operand) for operand in node.operands)
    if node.op == "and":
        if len(operands) == 2:
            first, second = operands

            def both(names: Any) -> object:
                return first(names) is True and second(names) is True

            return both

        def all_of(names: Any) -> object:
            return all(operand(names) is True for operand in operands)

        return all_of
    if len(operands) == 2:
        first, second = operands

        def either(names: Any) -> object:
            return first(names) is True or second(names) is True

        return either

    def any_of(names: Any) -> object:
        return any(operand(names) is True for operand in operands)

    return any_of


def _call(node: Call) -> Evaluator:
    impl = FUNCTIONS[node.name].impl
    args = tuple(compile_tree(arg) for arg in node.args)
    if len(args) == 1:
        (only,) = args

        def call_one(names: Any) -> object:
            return impl(only(names))

        return call_one
    first, second = args

    def call_two(names: Any) -> object:
        return impl(first(names), second(names))

    return call_two


def _list(node: ListNode) -> Evaluator:
    items = tuple(compile_tree(item) for item in node.items)

    def build(names: Any) -> object:
        # A missing item is null inside a list: a list holds values, not absences.
        return tuple(None if value is MISSING else value for value in (f(names) for f in items))

    return build


def _compare(node: Compare) -> Evaluator:
    op, left, right = node.op, node.left, node.right
    if op in _MIRRORED and not mentions_names(left) and mentions_names(right):
        op, left, right = _MIRRORED[op], right, left
    get_left = compile_tree(left)
    if not mentions_names(right):
        special = _against_constant(op, get_left, compile_tree(right)({}))
        if special is not None:
            return special
    get_right = compile_tree(right)
    if op == "==":

        def equal(names: Any) -> object:
            return equals(get_left(names), get_right(names)) is True

        return equal
    if op == "!=":

        def unequal(names: Any) -> object:
            return equals(get_left(names), get_right(names)) is False

        return unequal
    if op == "in":

        def inside(names: Any) -> object:
            return member(get_left(names), get_right(names)) is True

        return inside
    if op == "not in":

        def outside(names: Any) -> object:
            return member(get_left(names), get_right(names)) is False

        return outside
    compare = ORDERINGS[op]

    def ordered(names: Any) -> object:
        return order(compare, get_left(names), get_right(names)) is True

    return ordered


def _against_constant(op: str, get: Evaluator, constant: object) -> Evaluator | None:
    """A closure for ``x op constant`` that skips the general path for exact types."""
    if constant is MISSING:  # a function refused a constant argument: missing is null
        constant = None
    kind = kind_of(constant)
    if op in ("==", "!=") and kind in (NULL, BOOL):
        return _is_constant(op == "==", get, constant)
    if kind == NUMBER:
        return _against_scalar(op, get, constant, int, float)
    if kind == STRING:
        return _against_scalar(op, get, constant, str, str)
    if op in ("in", "not in") and isinstance(constant, tuple):
        return _in_constant_list(op == "in", get, constant)
    return None


def _is_constant(positive: bool, get: Evaluator, constant: object) -> Evaluator:
    # null and the booleans are singletons, and missing equals null.
    if constant is None:
        if positive:

            def is_null(names: Any) -> object:
                value = get(names)
                return value is None or value is MISSING

            return is_null

        def is_not_null(names: Any) -> object:
            value = get(names)
            return value is not None and value is not MISSING

        return is_not_null
    if positive:

        def is_it(names: Any) -> object:
            return get(names) is constant

        return is_it

    def is_not_it(names: Any) -> object:
        return get(names) is not constant

    return is_not_it


def _against_scalar(
    op: str, get: Evaluator, constant: Any, exact: type, other_exact: type
) -> Evaluator | None:
    if op == "==":

        def equal(names: Any) -> object:
            value = get(names)
            cls = type(value)
            if cls is exact or cls is other_exact:
                return value == constant
            return equals(value, constant) is True

        return equal
    if op == "!=":

        def unequal(names: Any) -> object:
            value = get(names)
            cls = type(value)
            if cls is exact or cls is other_exact:
                return value != constant
            return equals(value, constant) is False

        return unequal
    if op not in ORDERINGS:
        return None
    compare = ORDERINGS[op]

    def ordered(names: Any) -> object:
        value = get(names)
        cls = type(value)
        if cls is exact or cls is other_exact:
            return compare(value, constant)
        return order(compare, value, constant) is True

    return ordered


def _in_constant_list(positive: bool, get: Evaluator, constant: tuple[object, ...]) -> Evaluator:
    # Exact numbers and strings are looked up in sets; a set of numbers holds no bools,
    # so `true in [1]` stays false while `1.0 in [1]` is true, as equals() says.
    numbers = frozenset(item for item in constant if type(item) in (int, float))
    strings = frozenset(item for item in constant if type(item) is str)
    if positive:

        def inside(names: Any) -> object:
            value = get(names)
            cls = type(value)
            if cls is int or cls is float:
                return value in numbers
            if cls is str:
                return value in strings
            return member(value, constant) is True

        return inside

    def outside(names: Any) -> object:
        value = get(names)
        cls = type(value)
        if cls is int or cls is float:
            return value not in numbers
        if cls is str:
            return value not in strings
        return member(value, constant) is False

    return outside
