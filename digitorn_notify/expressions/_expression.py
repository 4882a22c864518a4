"""``compile_expression``, the compiled ``Expression`` and the ``Evaluation`` it explains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from digitorn_notify.errors import ExpressionError
from digitorn_notify.expressions._ast import Node, paths_of, render_path
from digitorn_notify.expressions._compiler import Evaluator, compile_tree
from digitorn_notify.expressions._explain import explain
from digitorn_notify.expressions._parser import parse
from digitorn_notify.expressions._values import type_name

__all__ = ["MAX_EXPRESSION_LENGTH", "Evaluation", "Expression", "compile_expression"]

MAX_EXPRESSION_LENGTH: Final = 1000


@attrs.frozen
class Evaluation:
    """The outcome of :meth:`Expression.explain`.

    ``value`` is what :meth:`Expression.evaluate` returns for the same names;
    ``diagnostics`` lists, in the order met, every anomaly that took part: missing
    paths, values that cannot be ordered or compared, functions given a value they do
    not take, bare values that are not booleans. It is empty when nothing was odd,
    whether the expression held or not.
    """

    value: bool
    diagnostics: tuple[str, ...] = ()


@attrs.frozen(repr=False)
class Expression:
    """A compiled threshold expression; make one with :func:`compile_expression`.

    Compile once, evaluate often: :meth:`evaluate` is the cheap call. Two expressions
    are equal when their texts are. Pickling stores the text and compiles again.
    """

    text: str
    """The source text, exactly as given."""
    paths: tuple[str, ...] = attrs.field(eq=False)
    """Every path the expression reads, in canonical spelling and source order."""
    _tree: Node = attrs.field(eq=False, alias="tree")
    _evaluator: Evaluator = attrs.field(eq=False, alias="evaluator")

    @property
    def root_names(self) -> frozenset[str]:
        """The names the expression looks up in the mapping (``{"result"}``)."""
        return frozenset(str(path.steps[0]) for path in paths_of(self._tree))

    def evaluate(self, names: Mapping[str, Any]) -> bool:
        """Whether the expression holds for ``names``; never raises, whatever they hold."""
        return self._evaluator(names) is True

    def explain(self, names: Mapping[str, Any]) -> Evaluation:
        """Evaluate more slowly, and say what was odd on the way (see :class:`Evaluation`)."""
        value, diagnostics = explain(self.text, self._tree, names)
        return Evaluation(value=value, diagnostics=diagnostics)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return compile_expression, (self.text,)


def compile_expression(text: str) -> Expression:
    """Compile ``text`` into an :class:`Expression`.

    Raises :class:`ExpressionError` (with the 1-based ``column`` and a caret excerpt in
    the message) when the text is not a valid expression, is longer than
    :data:`MAX_EXPRESSION_LENGTH` characters, nests deeper than
    :data:`MAX_NESTING_DEPTH`, or is not a string at all.
    """
    if not issubclass(type(text), str):
        raise ExpressionError(f"an expression is a string, not {type_name(text)}")
    # A str subclass could override indexing; the lexer reads a plain copy.
    text = str.__str__(text)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            f"the expression is {len(text)} characters long; the limit is {MAX_EXPRESSION_LENGTH}",
            text=text,
        )
    tree = parse(text)
    paths = tuple(dict.fromkeys(render_path(path.steps) for path in paths_of(tree)))
    return Expression(text=text, paths=paths, tree=tree, evaluator=compile_tree(tree))
