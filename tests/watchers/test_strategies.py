"""The escalation strategies: their decisions, their options, their saved state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import ConfigError
from digitorn_notify.watchers._encode import encode_result
from digitorn_notify.watchers._strategies import Notice, Strategy, build_strategy
from tests.watchers.support import APP, harness

# -- a check sequence, as the engine feeds it to a strategy ---------------------------------

results = st.one_of(
    st.integers(0, 3),
    st.fixed_dictionaries({"status": st.sampled_from(["up", "down"]), "n": st.integers(0, 2)}),
)
#: A result, or a failed check: ``None`` ("refused") or ``("error", text)``.
outcomes = st.lists(
    st.none() | results | st.tuples(st.just("error"), st.sampled_from(["refused", "timeout"])),
    max_size=40,
)


def feed(strategy: Strategy, sequence: list[Any]) -> list[str | None]:
    """Run ``sequence`` through ``strategy`` like the engine does; each check's reason."""
    decisions: list[str | None] = []
    last: tuple[bool, str] | None = None
    for number, outcome in enumerate(sequence, 1):
        if failed(outcome):
            ok, text, result = False, error_text(outcome), None
        else:
            ok, text, result = True, encode_result(outcome), outcome
        notice = strategy.observe(number, ok, text, result, last == (ok, text))
        last = (ok, text)
        decisions.append(None if notice is None else notice.reason)
    return decisions


def failed(outcome: Any) -> bool:
    return outcome is None or isinstance(outcome, tuple)


def error_text(outcome: Any) -> str:
    return "refused" if outcome is None else outcome[1]


# -- on_change ---------------------------------------------------------------------------------


@given(outcomes)
def test_on_change_notifies_the_baseline_and_every_change(sequence: list[Any]) -> None:
    expected: list[str | None] = []
    previous: Any = object()
    for outcome in sequence:
        current = (
            ("E", error_text(outcome))
            if failed(outcome)
            else ("R", json.dumps(outcome, sort_keys=True))
        )
        if not expected:
            expected.append("baseline")
        else:
            expected.append("changed" if current != previous else None)
        previous = current
    assert feed(build_strategy("on_change", None), sequence) == expected


@given(st.dictionaries(st.text(max_size=3), st.integers(), max_size=6), st.randoms())
def test_on_change_ignores_key_order(data: dict[str, int], random: Any) -> None:
    keys = list(data)
    random.shuffle(keys)
    shuffled = {key: data[key] for key in keys}
    assert feed(build_strategy("on_change", None), [data, shuffled]) == ["baseline", None]


def test_on_change_ignores_fields_anywhere_along_a_path() -> None:
    strategy = build_strategy(
        "on_change", {"ignore_fields": ["fetched_at", "items.ts", "meta.request.id"]}
    )
    first = {"fetched_at": 1, "items": [{"v": 1, "ts": 1}], "meta": {"request": {"id": "a"}}}
    same = {"fetched_at": 2, "items": [{"v": 1, "ts": 2}], "meta": {"request": {"id": "b"}}}
    other = {"fetched_at": 3, "items": [{"v": 2, "ts": 3}], "meta": {"request": {"id": "c"}}}
    assert feed(strategy, [first, same, other, "plain text"]) == [
        "baseline",
        None,
        "changed",
        "changed",
    ]
    assert first["fetched_at"] == 1  # the tool's object is not modified


def test_on_change_a_new_error_is_a_change_the_same_error_is_not() -> None:
    assert feed(
        build_strategy("on_change", None),
        [1, ("error", "refused"), ("error", "refused"), ("error", "timeout"), 1],
    ) == ["baseline", "changed", None, "changed", "changed"]


# -- on_error ----------------------------------------------------------------------------------


@given(outcomes, st.one_of(st.none(), st.integers(1, 4)))
def test_on_error_notifies_failures_recoveries_and_reminders(
    sequence: list[Any], repeat_every: int | None
) -> None:
    expected: list[str | None] = []
    run = 0
    for outcome in sequence:
        if failed(outcome):
            run += 1
            if run == 1:
                expected.append("error")
            elif repeat_every and (run - 1) % repeat_every == 0:
                expected.append("still_failing")
            else:
                expected.append(None)
        else:
            expected.append("recovered" if run else None)
            run = 0
    config = None if repeat_every is None else {"repeat_every": repeat_every}
    assert feed(build_strategy("on_error", config), sequence) == expected


def test_on_error_says_how_long_it_failed() -> None:
    strategy = build_strategy("on_error", {"repeat_every": 2})
    notices = [
        strategy.observe(n, ok, "x", None, False)
        for n, ok in enumerate([False, False, False, True], 1)
    ]
    assert notices == [
        Notice("error"),
        None,
        Notice("still_failing", "Still failing: 3 failed checks in a row."),
        Notice("recovered", "Recovered after 3 failed check(s)."),
    ]


# -- on_threshold -------------------------------------------------------------------------------


@given(
    st.lists(st.one_of(st.integers(0, 200), st.none()), max_size=40),
    st.one_of(st.none(), st.integers(1, 3)),
)
def test_on_threshold_notifies_when_it_becomes_true(
    counts: list[int | None], repeat_every: int | None
) -> None:
    config: dict[str, Any] = {"expression": "result.count > 100"}
    if repeat_every is not None:
        config["repeat_every"] = repeat_every
    sequence = [("error", "refused") if c is None else {"count": c} for c in counts]
    expected: list[str | None] = []
    run = 0
    for count in counts:
        if count is None:  # a failed check cannot clear the condition
            expected.append(None)
        elif count > 100:
            run += 1
            due = run == 1 or bool(repeat_every and (run - 1) % repeat_every == 0)
            expected.append("threshold" if due else None)
        else:
            run = 0
            expected.append(None)
    assert feed(build_strategy("on_threshold", config), sequence) == expected


def test_on_threshold_can_read_the_error() -> None:
    strategy = build_strategy("on_threshold", {"expression": "error != null or result.code >= 500"})
    assert feed(strategy, [{"code": 200}, ("error", "refused"), {"code": 503}, {"code": 200}]) == [
        None,
        "threshold",
        None,  # still true: no repeat asked
        None,
    ]


def test_on_threshold_spec_examples() -> None:
    cases = {
        "result.status_code != 200": {"status_code": 503},
        "result.count > 100": {"count": 101},
        "result.error != null": {"error": "x"},
        "result.data.progress >= 100": {"data": {"progress": 100}},
        'result.status == "failed"': {"status": "failed"},
    }
    for expression, hit in cases.items():
        strategy = build_strategy("on_threshold", {"expression": expression})
        notice = strategy.observe(1, True, encode_result(hit), hit, False)
        assert notice == Notice("threshold", f"Condition met: {expression}")


def test_on_threshold_reads_results_as_json() -> None:
    class Reading:
        def __str__(self) -> str:
            return "reading"

    strategy = build_strategy("on_threshold", {"expression": 'result.sensor == "reading"'})
    value = {"sensor": Reading()}
    assert strategy.observe(1, True, encode_result(value), value, False) is not None


# -- summary and always -------------------------------------------------------------------------


@given(outcomes, st.integers(1, 5))
def test_summary_sends_every_batch_whole_and_in_order(sequence: list[Any], size: int) -> None:
    strategy = build_strategy("summary", {"batch_size": size})
    batches = []
    for number, outcome in enumerate(sequence, 1):
        ok = not failed(outcome)
        text = encode_result(outcome) if ok else error_text(outcome)
        notice = strategy.observe(number, ok, text, outcome if ok else None, False)
        if number % size:
            assert notice is None
        else:
            assert notice is not None
            batches.append(notice.batch)
    assert len(batches) == len(sequence) // size
    for index, batch in enumerate(batches):
        assert [item.check for item in batch] == list(
            range(index * size + 1, (index + 1) * size + 1)
        )


@given(outcomes)
def test_always_notifies_every_check(sequence: list[Any]) -> None:
    assert feed(build_strategy("always", None), sequence) == ["always"] * len(sequence)


# -- options and saved state ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notify_when", "config", "path", "fragment"),
    [
        (
            "on_change",
            {"ignore_fields": "ts"},
            "notify_config.ignore_fields",
            "list of field names",
        ),
        ("on_change", {"ignore_fields": ["a..b"]}, "notify_config.ignore_fields[0]", "dotted path"),
        ("on_change", {"ignore_fields": [3]}, "notify_config.ignore_fields[0]", "got 3"),
        (
            "on_change",
            {"expression": "x"},
            "notify_config.expression",
            "unknown option 'expression'; accepted: ignore_fields (for on_change)",
        ),
        ("on_error", {"repeat_every": 0}, "notify_config.repeat_every", "at least 1"),
        ("on_error", {"repeat_every": "2"}, "notify_config.repeat_every", "whole number"),
        ("on_threshold", {}, "notify_config.expression", "needs an expression"),
        ("on_threshold", {"expression": "result.count >"}, "notify_config.expression", "column"),
        ("on_threshold", {"expression": 5}, "notify_config.expression", "a string"),
        (
            "on_threshold",
            {"expression": "results.count > 1"},
            "notify_config.expression",
            "reads 'results'",
        ),
        ("summary", {"batch_size": 0}, "notify_config.batch_size", "between 1 and 100"),
        ("summary", {"batch_size": 101}, "notify_config.batch_size", "between 1 and 100"),
        ("summary", {"batch_size": 2.5}, "notify_config.batch_size", "whole number"),
        ("summary", {"batch_size": True}, "notify_config.batch_size", "whole number"),
        ("always", {"x": 1}, "notify_config.x", "unknown option 'x'; accepted: none (for always)"),
        ("on_change", {1: 2}, "notify_config", "option names are strings"),
        ("often", {}, "notify_when", "unknown strategy 'often'"),
        (None, {}, "notify_when", "unknown strategy None"),
    ],
)
def test_bad_options_name_the_option(
    notify_when: Any, config: Any, path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_strategy(notify_when, config)
    assert caught.value.path == path
    assert fragment in caught.value.reason


def test_a_whole_float_is_a_whole_number() -> None:
    strategy = build_strategy("summary", {"batch_size": 2.0})
    assert feed(strategy, [1, 2]) == [None, "summary"]


@pytest.mark.anyio
async def test_a_syntax_error_is_refused_at_start_with_the_column() -> None:
    async with harness() as h:
        with pytest.raises(ConfigError) as caught:
            await h.engine.start(
                "http.get",
                notify_when="on_threshold",
                notify_config={"expression": "result.x =! 1"},
                app_id=APP,
            )
        assert caught.value.path == "notify_config.expression"
        assert "column 10" in caught.value.reason


@pytest.mark.parametrize(
    ("notify_when", "config", "sequence"),
    [
        ("on_change", None, [1, 2]),
        ("on_error", {"repeat_every": 2}, [1, ("error", "x"), ("error", "x")]),
        ("on_threshold", {"expression": "result > 1", "repeat_every": 2}, [2, 3]),
        ("summary", {"batch_size": 5}, [1, ("error", "x"), 3]),
        ("always", None, [1]),
    ],
)
def test_state_survives_dump_and_load(notify_when: str, config: Any, sequence: list[Any]) -> None:
    original = build_strategy(notify_when, config)
    feed(original, sequence)
    state = json.loads(json.dumps(original.dump()))
    restored = build_strategy(notify_when, config)
    restored.load(state)
    assert restored.dump() == original.dump()
    following = [4, ("error", "y"), 4, 5, 5, 6]
    assert feed(restored, following) == feed(original, following)


@pytest.mark.parametrize(
    ("notify_when", "state"),
    [
        ("on_change", {"key": 5}),
        ("on_change", {"key": None, "x": 1}),
        ("on_error", {"failures": -1}),
        ("on_error", {"failures": True}),
        ("on_threshold", {}),
        ("summary", {"batch": [[1, True]]}),
        ("summary", {"batch": "x"}),
        ("always", {"x": 1}),
    ],
)
def test_a_state_that_is_not_one_is_refused(notify_when: str, state: dict[str, Any]) -> None:
    config = {"expression": "result > 1"} if notify_when == "on_threshold" else None
    with pytest.raises(ValueError, match=r"state|summary batch"):
        build_strategy(notify_when, config).load(state)
