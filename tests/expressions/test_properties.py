"""Properties that must hold for every text and every JSON-like input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from digitorn_notify.expressions import (
    MAX_EXPRESSION_LENGTH,
    ExpressionError,
    compile_expression,
)
from tests.expressions import reference

FRAGMENTS = [
    "result", "result.a", ".", "a", "b", "items", "[", "]", "(", ")", ",", "0", "-1", "1.5",
    "1e3", '"x"', "'y'", '"\\u0041"', "==", "!=", "<", "<=", ">", ">=", "=", "!", "and", "or",
    "not", "in", "null", "true", "false", "None", "len", "contains", "lower", "abs(",
    "startswith", "-", "__class__", "\u200b", "\uff11", "\u0430nd", " ", "\n", "\\", '"',
]  # fmt: skip

token_soup = st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join) | st.lists(
    st.sampled_from(FRAGMENTS), max_size=25
).map("".join)


def _compile_or_none(text: str) -> Any:
    """The expression, or None after checking the error is a well-formed ExpressionError."""
    try:
        return compile_expression(text)
    except ExpressionError as error:
        failure = error
    assert isinstance(failure.column, int)
    assert 0 <= failure.column <= len(text) + 1
    assert failure.text == text or failure.column == 0
    return None


@settings(deadline=None)
@given(st.text(max_size=120) | token_soup)
@example("")
@example("x" * (MAX_EXPRESSION_LENGTH + 1))
def test_any_text_compiles_or_raises_expression_error(text: str) -> None:
    _compile_or_none(text)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup, reference.names_strategy)
def test_whatever_compiles_never_raises_on_json_like_input(text: str, names: Any) -> None:
    expression = _compile_or_none(text)
    if expression is not None:
        value = expression.evaluate(names)
        assert value is True or value is False
        assert expression.explain(names).value is value


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference.expressions, reference.names_strategy)
# A function refusing a constant argument is missing, and missing equals null.
@example(("cmp", "==", ("lit", None), ("call", "abs", (("lit", None),))), {})
def test_agrees_with_the_reference_interpreter(tree: Any, names: Any) -> None:
    text = reference.render(tree)
    assume(len(text) <= MAX_EXPRESSION_LENGTH)
    expression = compile_expression(text)
    expected = reference.holds(tree, names)
    assert expression.evaluate(names) is expected, text
    explained = expression.explain(names)
    assert explained.value is expected, text
    assert all(isinstance(line, str) for line in explained.diagnostics)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference.expressions)
def test_rendered_trees_compile_and_keep_their_text(tree: Any) -> None:
    text = reference.render(tree)
    assume(len(text) <= MAX_EXPRESSION_LENGTH)
    expression = compile_expression(text)
    assert expression.text == text
    assert compile_expression(text) == expression


@settings(deadline=None)
@given(reference.json_values)
def test_paths_through_any_value_never_raise(value: Any) -> None:
    names = {"result": value}
    for text in [
        "result.a.b[0].items",
        "result[0][-1].keys",
        "len(result) > 0",
        "result == result",
        "result in result",
        'contains(result, "a")',
        "lower(result.a) == upper(result.b)",
        "abs(result[1]) >= 0",
    ]:
        expression = compile_expression(text)
        assert expression.evaluate(names) is expression.explain(names).value
