"""Every on_threshold example of spec/003 parses and behaves as documented there."""

from __future__ import annotations

from typing import Any

import pytest

from digitorn_notify.expressions import compile_expression

# (expression, a result for which it holds, one for which it does not)
SPEC_EXAMPLES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("result.status_code != 200", {"status_code": 500}, {"status_code": 200}),
    ("result.count > 100", {"count": 101}, {"count": 100}),
    ("result.error != null", {"error": "Connection refused"}, {"error": None}),
    ("result.data.progress >= 100", {"data": {"progress": 100}}, {"data": {"progress": 99.5}}),
    ('result.status == "failed"', {"status": "failed"}, {"status": "running"}),
]


@pytest.mark.parametrize(("text", "holds", "does_not"), SPEC_EXAMPLES)
def test_spec_example(text: str, holds: dict[str, Any], does_not: dict[str, Any]) -> None:
    expression = compile_expression(text)
    assert expression.evaluate({"result": holds}) is True
    assert expression.evaluate({"result": does_not}) is False
    assert expression.explain({"result": holds}).diagnostics == ()


def test_spec_notify_config_shape() -> None:
    # The spec's on_threshold config: the expression is evaluated "against the result".
    notify_config = {"expression": "result.status_code != 200"}
    expression = compile_expression(notify_config["expression"])
    assert expression.root_names == {"result"}
    assert expression.evaluate({"result": {"status_code": 200, "body": "OK"}}) is False
    assert expression.evaluate({"result": {"status_code": 503, "body": "down"}}) is True


@pytest.mark.parametrize(
    ("text", "result", "expected"),
    [
        # Missing paths are null: != null does not fire on an absent key...
        ("result.error != null", {}, False),
        # ...and a missing status code is not 200, so the watcher hears about it.
        ("result.status_code != 200", {}, True),
        # Ordering with a missing value does not hold.
        ("result.count > 100", {}, False),
        ("result.data.progress >= 100", {"data": None}, False),
        # "200" is a string: never equal to the number 200.
        ("result.status_code != 200", {"status_code": "200"}, True),
        # 1 == 1.0
        ("result.data.progress >= 100", {"data": {"progress": 100.0}}, True),
    ],
)
def test_spec_examples_on_edge_data(text: str, result: dict[str, Any], expected: bool) -> None:
    assert compile_expression(text).evaluate({"result": result}) is expected
