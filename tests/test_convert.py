"""The one converter: strict scalars, and errors that name the path, the key, the list."""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import ConfigError, WebhookConfig
from digitorn_notify._convert import did_you_mean, problems, structure, unknown_key


@attrs.frozen(kw_only=True)
class Inner:
    port: int = 0
    tags: list[str] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class Outer:
    url: str
    timeout: float = 10.0
    verify: bool = True
    inner: Inner = attrs.field(factory=Inner)
    headers: dict[str, str] = attrs.field(factory=dict)


FIELDS = ["headers", "inner", "timeout", "url", "verify"]


@pytest.mark.parametrize(
    ("data", "path", "reason"),
    [
        ({"url": 3}, "cfg.url", "expected a string, got int"),
        ({"url": None}, "cfg.url", "expected a string, got null"),
        ({"url": ["a"]}, "cfg.url", "expected a string, got list"),
        ({"url": "u", "timeout": True}, "cfg.timeout", "expected a number, got bool"),
        ({"url": "u", "timeout": "10"}, "cfg.timeout", "expected a number, got str"),
        ({"url": "u", "timeout": math.nan}, "cfg.timeout", "expected a finite number, got nan"),
        ({"url": "u", "timeout": -math.inf}, "cfg.timeout", "expected a finite number, got -inf"),
        ({"url": "u", "verify": "false"}, "cfg.verify", "expected true or false, got str"),
        ({"url": "u", "verify": 0}, "cfg.verify", "expected true or false, got int"),
        (
            {"url": "u", "inner": {"port": 8.0}},
            "cfg.inner.port",
            "expected a whole number, got float",
        ),
        (
            {"url": "u", "inner": {"port": "80"}},
            "cfg.inner.port",
            "expected a whole number, got str",
        ),
        ({"url": "u", "inner": {"tags": "a,b"}}, "cfg.inner.tags", "expected a list, got str"),
        (
            {"url": "u", "inner": {"tags": ["a", 2]}},
            "cfg.inner.tags[1]",
            "expected a string, got int",
        ),
        (
            {"url": "u", "inner": {"prot": 1}},
            "cfg.inner.prot",
            "unknown key 'prot' (did you mean 'port'?); accepted: port, tags",
        ),
        ({"url": "u", "inner": 5}, "cfg.inner", "expected a mapping, got int"),
        ({"url": "u", "headers": {"a b": 1}}, "cfg.headers['a b']", "expected a string, got int"),
        ({}, "cfg.url", "missing required field"),
        (
            {"ulr": "u"},
            "cfg.ulr",
            f"unknown key 'ulr' (did you mean 'url'?); accepted: {', '.join(FIELDS)}",
        ),
        ("u", "cfg", "expected a mapping (keys: url, timeout, verify, inner, headers), got str"),
    ],
)
def test_errors_name_the_path_and_what_is_accepted(data: Any, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        structure(data, Outer, "cfg")
    assert (caught.value.path, caught.value.reason) == (path, reason)


def test_a_misspelled_required_key_is_reported_once_as_the_unknown_key() -> None:
    # "ulr" makes "url" missing too; the missing field is the same mistake.
    with pytest.raises(ConfigError) as caught:
        structure({"ulr": "u", "timeout": "x"}, Outer, "cfg")
    assert caught.value.path == "cfg.ulr"
    assert caught.value.reason.endswith("(and 1 more: cfg.timeout: expected a number, got str)")


def test_problems_lists_unknown_keys_first() -> None:
    from digitorn_notify._convert import converter

    with pytest.raises(Exception) as caught:  # noqa: PT011 - cattrs' own exception group
        converter.structure({"timeout": "x", "zzz": 1}, Outer)
    found = problems(caught.value, "$")
    assert [p.path for p in found] == ["$.zzz", "$.url", "$.timeout"]
    assert found[0].reason == f"unknown key 'zzz'; accepted: {', '.join(FIELDS)}"


def test_the_subclass_given_is_the_one_raised() -> None:
    from digitorn_notify import InvalidJobError

    with pytest.raises(InvalidJobError) as caught:
        structure({"url": 1}, Outer, error=InvalidJobError)
    assert caught.value.path == "url"


@given(st.text(min_size=1, max_size=20))
def test_unknown_key_always_names_the_key_and_the_list(key: str) -> None:
    accepted = ["url", "timeout", "headers"]
    text = unknown_key(key, accepted)
    assert text.startswith(f"unknown key {key!r}")
    assert text.endswith("; accepted: headers, timeout, url")
    hint = did_you_mean(key, accepted)
    assert hint in text
    assert hint == "" or hint.startswith(" (did you mean '")


@given(st.sampled_from(["url", "timeout", "headers", "method", "max_concurrency"]), st.data())
def test_one_typo_in_a_webhook_key_is_suggested_back(key: str, data: st.DataObject) -> None:
    # Swap two neighbouring letters: the kind of typo an agent makes.
    index = data.draw(st.integers(0, len(key) - 2))
    typo = key[:index] + key[index + 1] + key[index] + key[index + 2 :]
    if typo == key:
        return
    with pytest.raises(ConfigError) as caught:
        structure({"url": "http://127.0.0.1/", typo: 1}, WebhookConfig)
    assert caught.value.path == typo
    assert f"(did you mean {key!r}?)" in caught.value.reason


@given(st.booleans() | st.text(max_size=5) | st.none() | st.lists(st.integers(), max_size=2))
def test_nothing_but_a_number_is_a_timeout(value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        structure({"url": "http://127.0.0.1/", "timeout": value}, WebhookConfig)
    assert caught.value.path == "timeout"
