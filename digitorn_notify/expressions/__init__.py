"""The safe threshold-expression language of ``on_threshold`` watchers.

::

    >>> from digitorn_notify.expressions import compile_expression
    >>> expression = compile_expression('result.status_code != 200')
    >>> expression.evaluate({"result": {"status_code": 503}})
    True

An expression is compiled once by our own lexer and recursive-descent parser into
closures; nothing is passed to ``eval``, nothing reads an attribute of a user object.
Paths read mapping keys and list indexes only. Evaluation never raises: a path that
leads nowhere is missing (equal to null), a comparison that makes no sense does not
hold, and :meth:`Expression.explain` says why. The language and its semantics are
documented in ``docs/expressions.md``.

Modules: ``_lexer`` (text to tokens, caret errors), ``_parser`` (tokens to tree),
``_values`` (the value model both evaluators share), ``_functions`` (the fixed
functions), ``_compiler`` (tree to closures), ``_explain`` (tree-walking with
diagnostics), ``_expression`` (the public objects).
"""

from digitorn_notify.errors import ExpressionError
from digitorn_notify.expressions._expression import (
    MAX_EXPRESSION_LENGTH,
    Evaluation,
    Expression,
    compile_expression,
)
from digitorn_notify.expressions._functions import FUNCTIONS
from digitorn_notify.expressions._parser import MAX_NESTING_DEPTH

FUNCTION_NAMES: frozenset[str] = frozenset(FUNCTIONS)
"""The names an expression may call: abs, contains, endswith, len, lower, startswith, upper."""

__all__ = [
    "FUNCTION_NAMES",
    "MAX_EXPRESSION_LENGTH",
    "MAX_NESTING_DEPTH",
    "Evaluation",
    "Expression",
    "ExpressionError",
    "compile_expression",
]
