"""The public objects: Expression, Evaluation, compile_expression and the constants."""

from __future__ import annotations

import copy
import pickle

import attrs
import pytest

import digitorn_notify.expressions as expressions
from digitorn_notify.errors import ExpressionError as CoreExpressionError
from digitorn_notify.expressions import (
    FUNCTION_NAMES,
    MAX_EXPRESSION_LENGTH,
    MAX_NESTING_DEPTH,
    Evaluation,
    ExpressionError,
    compile_expression,
)


def test_all_lists_the_public_names() -> None:
    public = {name for name in vars(expressions) if not name.startswith("_")}
    assert set(expressions.__all__) <= public
    for name in expressions.__all__:
        assert hasattr(expressions, name), name
    assert ExpressionError is CoreExpressionError


def test_constants() -> None:
    assert MAX_EXPRESSION_LENGTH == 1000
    assert MAX_NESTING_DEPTH == 32
    expected = {"abs", "contains", "endswith", "len", "lower", "startswith", "upper"}
    assert expected == FUNCTION_NAMES


def test_text_and_repr() -> None:
    expression = compile_expression("result.status_code != 200")
    assert expression.text == "result.status_code != 200"
    assert repr(expression) == "Expression('result.status_code != 200')"


def test_equality_and_hash_follow_the_text() -> None:
    one, two = compile_expression("a == 1"), compile_expression("a == 1")
    assert one == two
    assert hash(one) == hash(two)
    assert one != compile_expression("a == 1 ")
    assert len({one, two}) == 1


def test_frozen() -> None:
    expression = compile_expression("a")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        expression.text = "b"  # type: ignore[misc]


def test_pickle_and_copy_compile_again() -> None:
    expression = compile_expression("result.items[0] > 1")
    for clone in (pickle.loads(pickle.dumps(expression)), copy.deepcopy(expression)):
        assert clone == expression
        assert clone.evaluate({"result": {"items": [2]}}) is True


def test_paths_and_root_names() -> None:
    expression = compile_expression(
        'result.a.b > 1 and result["content-type"] == "x" or len(other.items[-1]) > 0'
        " or result.a.b < 0 or result . in == 1"
    )
    assert expression.paths == (
        "result.a.b",
        'result["content-type"]',
        "other.items[-1]",
        "result.in",
    )
    assert expression.root_names == {"result", "other"}
    assert compile_expression("1 == 1").paths == ()
    quoted = compile_expression('result["say \\"hi\\"\\n"]["\\u0007"] == 1')
    assert quoted.paths == ('result["say \\"hi\\"\\n"]["\\u0007"]',)
    assert compile_expression(f"{quoted.paths[0]} == 1") == quoted


def test_evaluate_returns_a_bool() -> None:
    expression = compile_expression("result.n")
    assert expression.evaluate({"result": {"n": True}}) is True
    assert expression.evaluate({"result": {"n": 1}}) is False


def test_explain_lists_diagnostics_in_order_once() -> None:
    expression = compile_expression(
        "result.count > '5' or result.missing == 1 or result.missing == 2"
        " or len(result.count) > 0 or result.flag or result.flag"
    )
    evaluation = expression.explain({"result": {"count": 5, "flag": "yes"}})
    assert evaluation == Evaluation(
        value=False,
        diagnostics=(
            "`result.count > '5'` does not hold: only two numbers or two strings can be"
            " ordered, not a number (5) and a string ('5')",
            "`result.missing` is missing: `result` has no key 'missing'",
            "`len(result.count)` is missing: len() takes a string, a list or a mapping,"
            " not a number (5)",
            "`result.flag` is a string ('yes'), not a boolean; a value on its own holds only"
            " when it is true",
        ),
    )


@pytest.mark.parametrize(
    ("text", "names", "diagnostic"),
    [
        ("result.a == 1", {}, "`result.a` is missing: no name 'result' was given"),
        ("result.a == 1", None, "the names given (null) are not a mapping"),
        ("result.a.b == 1", {"result": {"a": None}}, "`result.a` is null"),
        ("result.a.b == 1", {"result": {"a": "s"}}, "`result.a` is a string ('s'), not a mapping"),
        (
            "result.a[2] == 1",
            {"result": {"a": [1]}},
            "`result.a` has 1 item, so [2] is out of range",
        ),
        ("result.a[0] == 1", {"result": {"a": {}}}, 'a key is quoted: ["0"]'),
        ("result.a.b == 1", {"result": {"a": [1]}}, "index a list with [0]"),
        ("result.a == '1'", {"result": {"a": 1}}, "values of two types never equal"),
        ("'x' in result.a", {"result": {"a": 1}}, "'in' needs a list on the right"),
        ("abs(result.a) > 1", {"result": {"a": "1"}}, "abs() takes a number, not a string"),
        (
            "startswith(result.a, 1)",
            {"result": {"a": "1"}},
            "startswith() takes two strings, not a string ('1') and a number (1)",
        ),
    ],
)
def test_diagnostics_say_what_went_wrong(text: str, names: object, diagnostic: str) -> None:
    evaluation = compile_expression(text).explain(names)  # type: ignore[arg-type]
    assert evaluation.value is False
    assert any(diagnostic in line for line in evaluation.diagnostics), evaluation.diagnostics


def test_no_diagnostics_for_ordinary_outcomes() -> None:
    names = {"result": {"a": 1, "error": "boom"}}
    assert compile_expression("result.a > 5").explain(names) == Evaluation(value=False)
    # Comparing with null is how presence is tested: no type-mismatch note.
    assert compile_expression("result.error != null").explain(names) == Evaluation(value=True)
