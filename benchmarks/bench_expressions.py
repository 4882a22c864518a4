"""How fast is a compiled threshold expression, against plain Python and simpleeval?

Run:  .venv/bin/python benchmarks/bench_expressions.py

Every figure is measured in this run, on this machine, so the ratios hold even when
the machine is noisy: the baseline is a hand-written lambda doing the same lookups and
comparisons (the floor any interpreter can hope for), and, when it is installed,
simpleeval evaluates the same text on the same names in its compile-once form
(``parse`` once, ``eval(previously_parsed=...)``). Targets: at most 2 us per
evaluation of the simple expression, and at least 5x faster than simpleeval.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from collections.abc import Callable
from typing import Any

from digitorn_notify.expressions import compile_expression

REPEAT = 7
TARGET_SIMPLE_US = 2.0
TARGET_VS_SIMPLEEVAL = 5.0

# What an http.get check returns: slow but healthy, so that the compound expression
# has to look at every one of its comparisons before deciding.
NAMES: dict[str, Any] = {
    "result": {
        "status_code": 200,
        "latency_ms": 950,
        "url": "https://api.example.com/health",
        "headers": {"content-type": "application/json", "x-request-id": "a1b2c3"},
        "body": {
            "status": "ok",
            "version": "2.4.1",
            "checks": [{"name": "db", "ok": True}, {"name": "cache", "ok": True}],
        },
    }
}

SIMPLE = "result.status_code != 200"
COMPOUND = 'result.status_code >= 500 or (result.latency_ms > 800 and result.body.status != "ok")'


def simple_baseline(names: Any) -> bool:
    return bool(names["result"]["status_code"] != 200)


def compound_baseline(names: Any) -> bool:
    result = names["result"]
    return bool(
        result["status_code"] >= 500
        or (result["latency_ms"] > 800 and result["body"]["status"] != "ok")
    )


def per_call_us(function: Callable[[], object]) -> tuple[float, float]:
    """(min, median) microseconds per call over ``REPEAT`` timed batches."""
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    number = max(number, 10_000)
    runs = [total / number * 1e6 for total in timer.repeat(repeat=REPEAT, number=number)]
    return min(runs), statistics.median(runs)


def simpleeval_callable(text: str) -> Callable[[], object] | None:
    try:
        from simpleeval import EvalWithCompoundTypes  # noqa: PLC0415 - optional, bench group
    except ImportError:
        return None
    evaluator = EvalWithCompoundTypes(names=NAMES)
    parsed = evaluator.parse(text)
    return lambda: evaluator.eval(text, previously_parsed=parsed)


def main() -> int:
    print(f"Python {sys.version.split()[0]}; min and median of {REPEAT} batches, us per call")
    print(f"{'expression':<10} {'implementation':<26} {'min us':>8} {'median':>8} {'x base':>7}")
    failures: list[str] = []
    for label, text, baseline in [
        ("simple", SIMPLE, simple_baseline),
        ("compound", COMPOUND, compound_baseline),
    ]:
        expression = compile_expression(text)
        expected = baseline(NAMES)
        assert expression.evaluate(NAMES) is expected
        rows: list[tuple[str, Callable[[], object]]] = [
            ("python lambda (baseline)", lambda b=baseline: b(NAMES)),  # type: ignore[misc]
            ("digitorn_notify", lambda e=expression: e.evaluate(NAMES)),  # type: ignore[misc]
        ]
        other = simpleeval_callable(text)
        if other is not None:
            assert bool(other()) is expected
            rows.append(("simpleeval (pre-parsed)", other))
        timings = {name: per_call_us(function) for name, function in rows}
        base = timings["python lambda (baseline)"][0]
        for name, (low, median) in timings.items():
            print(f"{label:<10} {name:<26} {low:8.3f} {median:8.3f} {low / base:7.1f}")
        ours = timings["digitorn_notify"][0]
        if "simpleeval (pre-parsed)" in timings:
            speedup = timings["simpleeval (pre-parsed)"][0] / ours
            print(f"{label:<10} digitorn_notify is {speedup:.1f}x faster than simpleeval")
            if speedup < TARGET_VS_SIMPLEEVAL:
                failures.append(f"{label}: only {speedup:.1f}x faster than simpleeval")
        if label == "simple" and ours > TARGET_SIMPLE_US:
            failures.append(f"simple: {ours:.3f} us per evaluation > {TARGET_SIMPLE_US} us")

    compile_us = per_call_us(lambda: compile_expression(COMPOUND))[0]
    compound = compile_expression(COMPOUND)
    explain_us = per_call_us(lambda: compound.explain(NAMES))[0]
    print(f"compile_expression(compound): {compile_us:.1f} us (once per watcher)")
    print(f"explain(compound):            {explain_us:.1f} us (on demand)")
    for failure in failures:
        print(f"MISSED TARGET: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
