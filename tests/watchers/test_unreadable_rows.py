"""A watcher row whose data is not JSON at all is skipped and reported by ``restore``,
kept in the store as it was, and the other watchers are restored as usual."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from digitorn_notify import UNREADABLE_KEY, FakeClock, SQLiteStore
from tests.watchers.support import APP, harness

pytestmark = pytest.mark.anyio


async def test_a_torn_watcher_row_is_skipped_reported_and_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "watchers.db"
    clock = FakeClock()
    async with SQLiteStore(path) as store, harness(store=store, clock=clock) as h:
        ids = [(await h.engine.start("http.get", label=f"w{n}", app_id=APP)).watcher_id for n in range(3)]
    torn = ids[1]
    conn = sqlite3.connect(path)
    conn.execute("UPDATE watchers SET data = '{\"version\": 1, \"spec\": {' WHERE watcher_id = ?", (torn,))
    conn.commit()
    conn.close()
    async with SQLiteStore(path) as store, harness(store=store, clock=clock) as h:
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            report = (await h.engine.restore(app_id=APP)).to_dict()
        assert sorted(report["restored"]) == sorted([ids[0], ids[2]])
        assert list(report["skipped"]) == [torn]
        assert "stored data is not valid JSON" in report["skipped"][torn]
        assert f"watcher {torn} of app {APP} could not be restored" in caplog.text
        await h.advance(30)
        assert len(h.tool.calls) >= 2  # the others check as usual
        kept = await store.get_watcher(torn)
    assert kept is not None
    assert kept.data[UNREADABLE_KEY]["raw"] == '{"version": 1, "spec": {'
