"""RetryPolicy delays: exponential, capped, jittered downwards, Retry-After honoured."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import RetryPolicy


def test_defaults_match_the_spec() -> None:
    policy = RetryPolicy()
    assert (
        policy.max_retries,
        policy.backoff_base,
        policy.backoff_max,
        policy.backoff_multiplier,
    ) == (
        3,
        1.0,
        60.0,
        2.0,
    )
    assert policy.delays() == [1.0, 2.0, 4.0]
    assert RetryPolicy(max_retries=8).delays() == [1, 2, 4, 8, 16, 32, 60, 60]


def test_retry_after_wins_but_is_capped() -> None:
    policy = RetryPolicy(backoff_max=30)
    assert policy.delay(1, retry_after=12.5) == 12.5
    assert policy.delay(1, retry_after=3600) == 30
    assert policy.delay(3, retry_after=-5) == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"max_retries": -1}, {"backoff_base": -1}, {"backoff_multiplier": 0.5}, {"jitter": 1.5}],
)
def test_invalid_policies(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        RetryPolicy().delay(0)


policies = st.builds(
    RetryPolicy,
    max_retries=st.integers(0, 20),
    backoff_base=st.floats(0, 100),
    backoff_max=st.floats(0, 1000),
    backoff_multiplier=st.floats(1, 10),
    jitter=st.floats(0, 1),
)


@given(policy=policies, attempt=st.integers(1, 10_000), seed=st.integers())
def test_delay_is_bounded(policy: RetryPolicy, attempt: int, seed: int) -> None:
    delay = policy.delay(attempt, rng=random.Random(seed))
    assert 0 <= delay <= policy.backoff_max
    plain = RetryPolicy(
        backoff_base=policy.backoff_base,
        backoff_max=policy.backoff_max,
        backoff_multiplier=policy.backoff_multiplier,
    ).delay(attempt)
    assert plain * (1 - policy.jitter) - 1e-9 <= delay <= plain + 1e-9


@given(policy=policies)
def test_delays_never_decrease(policy: RetryPolicy) -> None:
    delays = policy.delays()
    assert len(delays) == policy.max_retries
    assert delays == sorted(delays)


@given(policy=policies, retry_after=st.floats(-1e6, 1e6), attempt=st.integers(1, 50))
def test_retry_after_is_never_past_backoff_max(
    policy: RetryPolicy, retry_after: float, attempt: int
) -> None:
    assert 0 <= policy.delay(attempt, retry_after=retry_after) <= policy.backoff_max
