"""Hostile texts and hostile data: refused at compile time, or evaluated without harm."""

from __future__ import annotations

import collections
import math
import sys
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

import pytest

from digitorn_notify.expressions import ExpressionError, compile_expression

# -- texts -----------------------------------------------------------------------------

REFUSED_TEXTS = [
    '__import__("os").system("true")',
    "__import__",  # fine as a root name on its own, but not as a call:
    "().__class__",
    "result.__class__.__init__.__globals__()",
    "eval('1')",
    "exec('1')",
    "getattr(result, 'x')",
    "open('/etc/passwd')",
    "lambda: 1",
    "[x for x in result]",
    "result if true else 1",
    "result.a; result.b",
    "result.a + 1",
    "result.a * 1",
    "2 ** 1000",
    "result.a @ b",
    "f'{result}'",
    "{'a': 1}",
    "result.a.__dict__()",
    "result[0:1]",
    "result[result.i]",
    "matches(result.a, '(a+)+$')",  # no regular expressions at all
    "9" * 21 + " > 0",
    "1e1000 > 0",
    "1" + "0" * 400 + " > 0",
    "x == 1e308 * 10",
    "(" * 33 + "x" + ")" * 33,
    "[" * 33 + "]" * 33,
    "not " * 33 + "x",
    "len(" * 33 + "x" + ")" * 33,
    "x" * 1001,
    "x == '" + "a" * 995 + "'",
    "\uff11 == 1",  # full-width digit one
    "x == \uff11",
    "x\u200b == 1",  # zero-width space
    "x\u200d == 1",  # zero-width joiner
    "\ufeffx == 1",  # byte-order mark
    "x\u00a0== 1",  # no-break space
    "x\u3000== 1",  # ideographic space
    "x == 1 \u0430nd y",  # Cyrillic a in "and"
    "x == 1 \uff41nd y",  # full-width a
    "n\u043et x",  # Cyrillic o in "not"
    "result.st\u0430tus == 1",  # a homoglyph inside a path
    "x \u2260 1",  # the "not equal" sign
    "x \uff1d\uff1d 1",  # full-width ==
    "x == 1 \u202e",  # right-to-left override
    "e\u0301 == 1",  # combining accent after a name
    "x == \u2212" + "1",  # minus sign, not hyphen
    "x\x00 == 1",
]


@pytest.mark.parametrize("text", REFUSED_TEXTS)
def test_hostile_texts_are_refused(text: str) -> None:
    if text == "__import__":
        assert compile_expression(text).evaluate({}) is False
        return
    with pytest.raises(ExpressionError):
        compile_expression(text)


def test_a_look_alike_is_named_in_the_error() -> None:
    with pytest.raises(ExpressionError, match="U\\+0430 CYRILLIC SMALL LETTER A"):
        compile_expression("x == 1 \u0430nd y")
    with pytest.raises(ExpressionError, match="U\\+200B ZERO WIDTH SPACE"):
        compile_expression("x\u200b == 1")
    with pytest.raises(ExpressionError, match="U\\+FF11 FULLWIDTH DIGIT ONE"):
        compile_expression("\uff11 == 1")


def test_unicode_inside_quotes_is_data() -> None:
    expression = compile_expression('result.name == "\u0430nd\u200b"')
    assert expression.evaluate({"result": {"name": "\u0430nd\u200b"}})
    assert not expression.evaluate({"result": {"name": "and"}})


# -- data ------------------------------------------------------------------------------


class Boom(Exception):
    pass


def boom(*_: object) -> NoReturn:
    raise Boom


class Hostile:
    """Every hook Python might call on an object raises."""

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = boom
    __hash__ = boom  # type: ignore[assignment]
    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = boom
    __getattr__ = __str__ = __repr__ = __format__ = __index__ = __int__ = __float__ = boom

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        raise Boom

    def __getattribute__(self, name: str) -> Any:
        raise Boom


class HostileMapping(Mapping[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise Boom

    def __iter__(self) -> Iterator[str]:
        raise Boom

    def __len__(self) -> int:
        raise Boom

    def __contains__(self, key: object) -> bool:
        raise Boom


class CollidingKey:
    """A dict key whose hash collides with "status" and whose == raises."""

    def __hash__(self) -> int:
        return hash("status")

    __eq__ = boom


class LyingDict(dict[str, Any]):
    def __getitem__(self, key: str) -> Any:
        raise Boom

    get = __contains__ = __len__ = __iter__ = items = keys = values = boom  # type: ignore[assignment]


class LyingStr(str):
    __eq__ = __ne__ = __lt__ = __gt__ = __contains__ = __len__ = lower = upper = boom  # type: ignore[assignment]
    startswith = endswith = __getitem__ = boom  # type: ignore[assignment]
    __hash__ = str.__hash__


class LyingInt(int):
    __eq__ = __ne__ = __lt__ = __gt__ = __le__ = __ge__ = __abs__ = __int__ = boom  # type: ignore[assignment]
    __hash__ = int.__hash__


class LyingList(list[Any]):
    __getitem__ = __len__ = __iter__ = __eq__ = __contains__ = boom  # type: ignore[assignment]


def deep_list(levels: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(levels):
        value = [value]
    return value


def deep_dict(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


cyclic: list[Any] = []
cyclic.append(cyclic)
cyclic_mapping: dict[str, Any] = {}
cyclic_mapping["a"] = cyclic_mapping

HOSTILE_VALUES: list[Any] = [
    Hostile(),
    HostileMapping(),
    {CollidingKey(): 1, "other": 2},
    LyingDict(status=1, a={"b": 1}),
    LyingStr("abc"),
    LyingInt(5),
    LyingList([1, 2, 3]),
    10**100_000,
    -(10**100_000),
    math.nan,
    math.inf,
    -math.inf,
    deep_list(10_000),
    deep_dict(10_000),
    cyclic,
    cyclic_mapping,
    "x" * 1_000_000,
    b"bytes",
    bytearray(b"x"),
    range(10),
    {1, 2},
    frozenset(),
    collections.deque([1]),
    sys,
    type,
    Hostile,
    print,
    Ellipsis,
    NotImplemented,
    1j,
]

PROBES = [
    "result == result",
    "result != result",
    "result == 1",
    "result != 'x'",
    "result > 1",
    "result <= 'a'",
    "result == null",
    "result",
    "not result",
    "result.status == 1",
    "result.a.b == 1",
    "result[0] == 1",
    "result[-1][0] == 1",
    "'a' in result",
    "1 in result",
    "result in [1, 'a', null]",
    "result not in [1, 'a', null]",
    "result in result",
    "len(result) > 0",
    "lower(result) == 'abc'",
    "upper(result) == 'ABC'",
    "abs(result) > 0",
    "startswith(result, 'a')",
    "endswith(result, 'c')",
    "contains(result, 'a')",
    "contains([result], result)",
    "result.__class__ == null",
    "result.__dict__ == null",
    "result == [result]",
    "[result] == [result]",
]


@pytest.mark.parametrize("probe", PROBES)
def test_hostile_data_never_raises(probe: str) -> None:
    expression = compile_expression(probe)
    for value in HOSTILE_VALUES:
        names = {"result": value}
        outcome = expression.evaluate(names)
        assert outcome is True or outcome is False
        explained = expression.explain(names)
        assert explained.value is outcome, (probe, type(value))
        assert all(len(line) < 400 for line in explained.diagnostics)


def test_hostile_names_mappings_never_raise() -> None:
    expression = compile_expression("result.status == 1 or len(result) > 0")
    for names in [*HOSTILE_VALUES, None, 0, "result", ["result"]]:
        assert expression.evaluate(names) is False
        assert expression.explain(names).value is False


def test_dunder_paths_are_keys_not_attributes() -> None:
    expression = compile_expression("result.__class__ == null and result.__init__ == null")
    assert expression.evaluate({"result": {}})
    assert expression.evaluate({"result": object()})
    assert compile_expression("result.__class__ == 'dict'").evaluate(
        {"result": {"__class__": "dict"}}
    )


def test_lookups_do_not_mutate_the_data() -> None:
    data: collections.defaultdict[str, Any] = collections.defaultdict(dict)
    assert compile_expression("result.a.b == null").evaluate({"result": data})
    assert compile_expression("'a' in result").evaluate({"result": data}) is False
    assert dict(data) == {}


def test_subclasses_are_read_through_their_base_type() -> None:
    names = {"result": LyingDict(status=1, a={"b": 1})}
    assert compile_expression("result.status == 1 and result.a.b == 1").evaluate(names)
    assert compile_expression("len(result) == 2 and 'status' in result").evaluate(names)
    text = {"result": LyingStr("abc")}
    assert compile_expression("result == 'abc' and upper(result) == 'ABC'").evaluate(text)
    assert compile_expression("len(result) == 3 and 'b' in result").evaluate(text)
    assert compile_expression("result == [1, 2, 3]").evaluate({"result": LyingList([1, 2, 3])})
    assert compile_expression("result[1] == 2").evaluate({"result": LyingList([1, 2, 3])})
    assert compile_expression("abs(result) == 5 and result > 4").evaluate({"result": LyingInt(5)})


def test_huge_numbers_compare_exactly() -> None:
    huge = {"result": 10**100_000}
    assert compile_expression("result > 1e308").evaluate(huge)
    assert compile_expression("result != 1e308").evaluate(huge)
    assert compile_expression("abs(result) > 99999999999999999999").evaluate(huge)
    diagnostics = compile_expression("result > 'a'").explain(huge).diagnostics
    assert "a number of about 100000 digits" in diagnostics[0]


def test_comparing_too_deep_is_undecided() -> None:
    names = {"a": deep_list(500), "b": deep_list(500)}
    assert compile_expression("a == b").evaluate(names) is False
    assert compile_expression("a != b").evaluate(names) is False
    (line,) = compile_expression("a == b").explain(names).diagnostics
    assert "neither == nor != holds" in line
    shallow = {"a": deep_list(50), "b": deep_list(50)}
    assert compile_expression("a == b").evaluate(shallow)
    assert compile_expression("a != b").evaluate({"a": deep_list(50), "b": deep_list(51)})


def test_cyclic_data_terminates() -> None:
    names = {"a": cyclic, "b": cyclic_mapping}
    for text in ["a == a", "a != a", "b == b", "a in a", "contains(a, a)", "a == b"]:
        expression = compile_expression(text)
        assert expression.evaluate(names) is expression.explain(names).value


def test_long_strings_are_cut_in_diagnostics() -> None:
    names = {"result": "y" * 1_000_000}
    (line,) = compile_expression("result > 1").explain(names).diagnostics
    assert "of 1000000 characters" in line
    assert len(line) < 250


class HashlessMeta(type):
    """A metaclass whose classes cannot be hashed: even classifying by type must not fail."""

    __hash__ = boom  # type: ignore[assignment]


class Unhashable(metaclass=HashlessMeta):
    pass


def test_values_of_classes_that_cannot_be_hashed_are_opaque() -> None:
    value = Unhashable()
    expression = compile_expression("result == result and result != 1 and result.a == null")
    assert expression.evaluate({"result": value})
    (line,) = compile_expression("result > 1").explain({"result": value}).diagnostics
    assert "an object of type Unhashable" in line


class NamelessMeta(type):
    @property
    def __name__(cls) -> str:  # type: ignore[override]
        raise Boom


class Nameless(metaclass=NamelessMeta):
    pass


def test_a_class_without_a_name_is_described_as_object() -> None:
    (line,) = compile_expression("result > 1").explain({"result": Nameless()}).diagnostics
    assert "an object of type object" in line


@pytest.mark.parametrize(
    "text",
    ["result.a.b.status == 1", "result.a[0].status == 1", "result.status == 1"],
)
def test_a_colliding_key_at_any_depth_is_missing(text: str) -> None:
    hostile = {CollidingKey(): 1}
    a: Any = [hostile] if "[0]" in text else {"b": hostile}
    names: dict[str, Any] = {"result": {"a": a, **hostile}}
    assert compile_expression(text).evaluate(names) is False
    assert compile_expression(text.replace("== 1", "== null")).evaluate(names) is True


def test_mappings_with_hostile_keys_compare_undecided() -> None:
    # Looking the colliding key up among b's keys runs its __eq__ against "status".
    names = {"a": {CollidingKey(): 1, "x": 2}, "b": {"status": 1, "x": 2}}
    assert compile_expression("a == b").evaluate(names) is False
    assert compile_expression("a != b").evaluate(names) is False


def test_lone_surrogates_in_the_text_are_refused() -> None:
    with pytest.raises(ExpressionError, match="lone surrogate"):
        compile_expression('x == "\ud800"')
    with pytest.raises(ExpressionError, match="U\\+D800"):
        compile_expression("x \ud800 1")
    with pytest.raises(ExpressionError, match="lone surrogate"):
        compile_expression('x == "\\ud83d\\u0041"')
