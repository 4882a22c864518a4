"""Results as JSON text, canonical keys, ignored fields and error-shaped results."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify.watchers import default_error_detector
from digitorn_notify.watchers._encode import (
    ResultEncodingError,
    canonical_key,
    encode_result,
    error_key,
    strip_fields,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def reorder(value: Any, data: st.DataObject) -> Any:
    if isinstance(value, dict):
        keys = data.draw(st.permutations(list(value)))
        return {key: reorder(value[key], data) for key in keys}
    if isinstance(value, list):
        return [reorder(item, data) for item in value]
    return value


@given(json_values, st.data())
def test_canonical_keys_ignore_key_order_at_every_depth(value: Any, data: st.DataObject) -> None:
    assert canonical_key(reorder(value, data)) == canonical_key(value)


@given(json_values, json_values)
def test_keys_are_equal_exactly_when_the_sorted_json_is(a: Any, b: Any) -> None:
    same_json = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert (canonical_key(a) == canonical_key(b)) == same_json


def test_an_error_never_shares_a_key_with_a_result() -> None:
    assert error_key("x") != canonical_key("x")
    assert len(canonical_key({"a": 1})) == 16


class Colour(enum.Enum):
    RED = "red"


@dataclass
class Sample:
    name: str


def test_values_json_does_not_know() -> None:
    value = {
        "when": dt.date(2026, 1, 2),
        "at": dt.time(9, 30),
        "took": dt.timedelta(seconds=1.5),
        "colour": Colour.RED,
        "price": Decimal("1.10"),
        "id": uuid.UUID(int=1),
        "sample": Sample("s"),
        "frozen": frozenset({3, 1}),
        "object": object(),
        "view": memoryview(b"ok"),
        "tuple": (1, 2),
    }
    assert encode_result(value) == (
        '{"when": "2026-01-02", "at": "09:30:00", "took": 1.5, "colour": "red", '
        '"price": "1.10", "id": "00000000-0000-0000-0000-000000000001", '
        '"sample": {"name": "s"}, "frozen": [1, 3], "object": "<object object>", '
        '"view": "ok", "tuple": [1, 2]}'
    )
    assert encode_result(None) == "null"
    assert encode_result(True) == "true"
    assert encode_result("é") == '"é"'


def test_mixed_keys_can_still_be_compared() -> None:
    assert canonical_key({1: "a", "b": 2}) == canonical_key({"b": 2, "1": "a"})


def test_a_cycle_or_absurd_nesting_is_an_encoding_error() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(ResultEncodingError, match="cannot be written as JSON"):
        encode_result(cyclic)
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ResultEncodingError):
        encode_result(deep)


def test_strip_fields_copies_only_what_it_changes() -> None:
    value = {"a": {"b": 1, "c": 2}, "d": [{"b": 1}, 3]}
    stripped = strip_fields(value, [("a", "b"), ("d", "b"), ("zz",)])
    assert stripped == {"a": {"c": 2}, "d": [{}, 3]}
    assert value == {"a": {"b": 1, "c": 2}, "d": [{"b": 1}, 3]}
    assert strip_fields(5, [("a",)]) == 5


@pytest.mark.parametrize(
    ("result", "error"),
    [
        ({"success": False, "error": "HTTP 500"}, "HTTP 500"),
        ({"success": False, "message": "nope"}, "nope"),
        ({"success": False}, "the tool reported success: false"),
        ({"error": "boom"}, "boom"),
        ({"error": ["a"]}, '["a"]'),
        ({"success": True, "error": "kept as data"}, None),
        ({"error": None}, None),
        ({"error": ""}, None),
        ({"error": {}}, None),
        ({"status_code": 500}, None),
        ("error", None),
        ([{"success": False}], None),
    ],
)
def test_the_default_error_detector(result: Any, error: str | None) -> None:
    assert default_error_detector(result) == error
