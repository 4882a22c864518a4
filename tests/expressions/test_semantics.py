"""The documented semantics, rule by rule (docs/expressions.md, "Semantics")."""

from __future__ import annotations

import math
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import pytest

from digitorn_notify.expressions import compile_expression

R: dict[str, Any] = {
    "code": 200,
    "ratio": 0.5,
    "big": 10**30,
    "nan": math.nan,
    "inf": math.inf,
    "name": "Alpha",
    "empty": "",
    "ok": True,
    "off": False,
    "none": None,
    "tags": ["prod", "eu", 3, None, [1, 2]],
    "items": [10, 20, 30],
    "keys": {"a": 1},
    "nested": {"a": {"b": [{"c": "deep"}]}},
    "obj": object(),
    "headers": {"content-type": "text/html", "X": 1},
    "copy": {"a": [1, 2.0, {"b": None}]},
    "copy2": {"a": [1.0, 2, {"b": None}]},
}


def holds(text: str, result: Any = R) -> bool:
    return compile_expression(text).evaluate({"result": result})


CASES = [
    # -- paths -----------------------------------------------------------------------
    ("result.code == 200", True),
    ("result.nested.a.b[0].c == 'deep'", True),
    ("result.items[0] == 10", True),
    ("result.items[-1] == 30", True),  # negative indexes count from the end
    ("result.items[-3] == 10", True),
    ("result.items[3] == null", True),  # out of range is missing
    ("result.items[-4] == null", True),
    ("len(result.items) == 3", True),  # `items` is the key, never dict.items
    ("result.keys.a == 1", True),
    ("result.get == null", True),  # no dict method is ever reached
    ("result.values == null", True),
    ('result.headers["content-type"] == "text/html"', True),
    ("result.name[0] == null", True),  # strings are not indexable
    ("result.items.first == null", True),  # a key step on a list is missing
    ('result.items["0"] == null', True),
    ("result.headers[0] == null", True),  # an index step on a mapping is missing
    ("result.none.a == null", True),  # a step through null is missing
    ("result.obj.a == null", True),  # opaque objects have no keys
    ("result.code.real == null", True),  # nor do numbers: no attributes
    ("result.name.upper == null", True),
    ("missing_root == null", True),
    # -- missing and null ------------------------------------------------------------
    ("result.absent == null", True),
    ("result.absent != null", False),
    ("result.none == null", True),
    ("result.absent == result.none", True),
    ("result.absent == 0", False),
    ("result.absent != 0", True),
    ("result.absent == ''", False),
    ("result.absent == false", False),
    ("result.absent > 0", False),
    ("result.absent <= 0", False),
    ("result.absent in [null]", True),
    # -- equality --------------------------------------------------------------------
    ("1 == 1.0", True),
    ("result.code == 200.0", True),
    ("result.code == '200'", False),
    ("result.code != '200'", True),
    ("true == 1", False),
    ("false == 0", False),
    ("result.ok == true", True),
    ("result.ok == 1", False),
    ("result.ok != 1", True),
    ("null == false", False),
    ("'' == null", False),
    ("[] == null", False),
    ("[1, 2] == [1, 2.0]", True),
    ("[1, 2] == [2, 1]", False),
    ("[true] == [1]", False),
    ("result.copy == result.copy2", True),
    ("result.headers == result.copy", False),
    ("result.big == result.big", True),
    ("result.big > 99999999999999999999", True),
    ("result.big == 1e30", False),  # exact: the float 1e30 is not 10**30
    ("result.nan == result.nan", False),  # NaN equals nothing
    ("result.nan != result.nan", True),
    ("result.inf > 1e308", True),
    ("result.obj == result.obj", True),  # an opaque object equals only itself
    ("result.obj == null", False),
    ("'é' == 'e\\u0301'", False),  # no Unicode normalisation
    ("'A' == 'a'", False),
    # -- ordering --------------------------------------------------------------------
    ("result.code > 199", True),
    ("result.code >= 200.0", True),
    ("result.ratio < 1", True),
    ("result.big > 1e29", True),
    ("result.nan > 0", False),
    ("result.nan <= 0", False),
    ("'b' > 'a'", True),
    ("'B' < 'a'", True),  # code-point order
    ("result.name >= 'Alpha'", True),
    ("result.code > '100'", False),  # number vs string does not hold...
    ("result.code <= '100'", False),  # ...either way
    ("true > false", False),  # booleans are not ordered
    ("[2] > [1]", False),  # nor are lists
    ("null < 1", False),
    ("not (result.absent > 5)", True),  # not just flips a condition that did not hold
    # -- in / not in -----------------------------------------------------------------
    ("'prod' in result.tags", True),
    ("'dev' in result.tags", False),
    ("'dev' not in result.tags", True),
    ("3.0 in result.tags", True),
    ("null in result.tags", True),
    ("[1, 2] in result.tags", True),
    ("true in [1]", False),
    ("1.0 in [1, 2]", True),
    ("result.code in [200, 201, 204]", True),
    ("result.code not in [200, 201, 204]", False),
    ("'lph' in result.name", True),  # substring
    ("'LPH' in result.name", False),
    ("'' in result.name", True),
    ("'a' in result.keys", True),  # a mapping's keys
    ("'b' in result.keys", False),
    ("'b' not in result.keys", True),
    ("1 in result.name", False),  # a number in a string: does not hold...
    ("1 not in result.name", False),  # ...and neither does its negation
    ("1 in result.keys", False),
    ("1 not in result.keys", False),
    ("'x' in result.code", False),
    ("'x' not in result.code", False),
    ("'x' in result.absent", False),
    ("'x' not in result.absent", False),
    # -- functions -------------------------------------------------------------------
    ("len(result.name) == 5", True),
    ("len(result.tags) == 5", True),
    ("len(result.headers) == 2", True),
    ("len(result.code) == null", True),  # a refused argument makes the result missing
    ("len(result.absent) == null", True),
    ("lower(result.name) == 'alpha'", True),
    ("upper(result.name) == 'ALPHA'", True),
    ("lower(result.code) == null", True),
    ("abs(-5) == 5", True),
    ("abs(result.ratio) == 0.5", True),
    ("abs(result.ok) == null", True),  # bool is not a number
    ("startswith(result.name, 'Al')", True),
    ("startswith(result.name, 'al')", False),
    ("endswith(result.name, 'ha')", True),
    ("startswith(result.code, '2')", False),
    ("not startswith(result.code, '2')", True),
    ("contains(result.tags, 'eu')", True),
    ("contains(result.name, 'lp')", True),
    ("contains(result.keys, 'a')", True),
    ("contains(result.code, 'a') == null", True),
    # -- conditions ------------------------------------------------------------------
    ("result.ok", True),
    ("result.off", False),
    ("not result.off", True),
    ("result.code", False),  # a bare value holds only when it is true
    ("result.name", False),
    ("result.tags", False),
    ("result.absent", False),
    ("not result.absent", True),
    ("not result.name", True),
    ("true and result.ok", True),
    ("result.ok and result.absent > 1", False),
    ("result.absent > 1 or result.ok", True),
    ("result.code > 100 and result.code < 300 and result.name == 'Alpha'", True),
    ("result.code > 500 or result.code < 100 or result.ok", True),
    ("(result.code > 1) == true", True),
    ("(result.code > 1) == (result.ratio > 0)", True),
    ("not not result.ok", True),
    ("not result.code == 200", False),  # not binds looser than ==
    ("false and true or true", True),  # and binds tighter than or
    ("false and (true or true)", False),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_semantics(text: str, expected: bool) -> None:
    expression = compile_expression(text)
    assert expression.evaluate({"result": R}) is expected
    assert expression.explain({"result": R}).value is expected


def test_short_circuit_skips_the_other_side() -> None:
    # The right side would be noted as missing if it were evaluated.
    evaluation = compile_expression("result.ok or result.absent > 1").explain({"result": R})
    assert evaluation == evaluation.__class__(value=True, diagnostics=())
    evaluation = compile_expression("result.off and result.absent > 1").explain({"result": R})
    assert evaluation.diagnostics == ()


def test_constant_lists_keep_missing_items_as_null() -> None:
    assert holds("[result.absent] == [null]")
    assert holds("null in [result.absent, 1]")


def test_int_and_str_subclasses_are_read_as_their_base() -> None:
    class Status(IntEnum):
        OK = 200

    class Level(StrEnum):
        HIGH = "high"

    data = {"status": Status.OK, "level": Level.HIGH}
    assert holds("result.status == 200", data)
    assert holds("result.status < 300", data)
    assert holds("result.level == 'high'", data)
    assert holds("upper(result.level) == 'HIGH'", data)


def test_tuples_are_lists() -> None:
    assert holds("result.t[1] == 2 and len(result.t) == 2 and 2 in result.t", {"t": (1, 2)})
    assert holds("result.t == [1, 2]", {"t": (1, 2)})


def test_non_dict_mappings_are_mappings() -> None:
    data = MappingProxyType({"a": MappingProxyType({"b": 1})})
    assert holds("result.a.b == 1 and 'a' in result and len(result) == 1", data)
    assert holds("result == result", data)


def test_names_need_not_be_a_dict() -> None:
    expression = compile_expression("result.a == 1")
    assert expression.evaluate(MappingProxyType({"result": {"a": 1}}))
    for names in (None, 5, [1], "result", object()):
        assert expression.evaluate(names) is False  # type: ignore[arg-type]


def test_float_and_tuple_subclasses_are_read_as_their_base() -> None:
    class Ratio(float):
        pass

    class Pair(tuple[int, int]):
        pass

    data = {"r": Ratio(0.5), "p": Pair((1, 2))}
    assert holds("result.r == 0.5 and result.r < 1 and abs(result.r) == 0.5", data)
    assert holds("result.p[1] == 2 and result.p == [1, 2] and len(result.p) == 2", data)


def test_mappings_with_different_keys_differ() -> None:
    assert holds("result.a != result.b", {"a": {"x": 1}, "b": {"y": 1}})
    assert holds("result.a != result.b", {"a": {"x": 1}, "b": {"x": 1, "y": 2}})
    assert holds("result.a == result.b", {"a": {"x": [1]}, "b": MappingProxyType({"x": [1.0]})})


def test_missing_key_in_a_non_dict_mapping() -> None:
    data = MappingProxyType({"a": 1})
    assert holds("result.b == null and 'b' not in result", data)
    (line,) = compile_expression("result.b > 1").explain({"result": data}).diagnostics
    assert line == "`result.b` is missing: `result` has no key 'b'"
