"""Shared fixtures: every async test runs on asyncio and on trio."""

from __future__ import annotations

import pytest
from hypothesis import settings

# The machine running the suite is shared and noisy: a per-example deadline fails
# tests on load, not on bugs. Budgets are set per test (or per fuzz target).
settings.register_profile("digitorn", deadline=None)
settings.load_profile("digitorn")


@pytest.fixture(
    params=[
        pytest.param("asyncio", id="asyncio"),
        pytest.param("trio", id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
