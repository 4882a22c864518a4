"""Every store implementation runs the same conformance suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from digitorn_notify import MemoryStore, SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    backend = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "store.db")
    async with backend:
        yield backend
