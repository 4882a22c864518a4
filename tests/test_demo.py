"""`make demo` runs the main example: it must keep working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


@pytest.mark.slow  # a process of its own
def test_demo_runs_and_shows_each_step() -> None:
    out = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "received (buffered=True): Backup finished" in out
    assert "(unknown channel 'sms')" in out
    assert "attempts=3 error='HTTP 503' fallback=llm_notification" in out
    assert "received (live): Pager test (fallback_from=pager)" in out
    assert "received (live): Disk alert: Disk at 91% on db-1" in out
    assert "pager              status=degraded" in out
    assert "schedule_once -> {'job_id': " in out
    assert "received (live): Stand-up starts now" in out
    assert "received (live): [WATCHER UPDATE] watcher_id=disk-db-1" in out
    assert "refused at once: output_channel: unknown channel 'audti' (did you mean 'audit'?)" in out
