"""Every time expression the specification shows parses as it documents.

Sources: shared/spec/003 ("Time Expressions", the scheduler and remember
examples, the decision table), 002 (schedule triggers) and 001 (cron triggers).
The spec's reference time is 2026-03-13T15:30:00Z ("in 5m" runs at 15:35Z).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digitorn_notify.timeexpr import CronSchedule, OneShot, parse_time_expression

NOW = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)

ONE_OFF = [
    # 003, Time Expressions table and schedule_once example
    ("in 5m", "2026-03-13T15:35:00Z"),
    ("in 2h", "2026-03-13T17:30:00Z"),
    ("dans 30 minutes", "2026-03-13T16:00:00Z"),
    ("tomorrow at 9am", "2026-03-14T09:00:00Z"),
    ("demain à 9h", "2026-03-14T09:00:00Z"),
    ("2026-03-14T09:00:00Z", "2026-03-14T09:00:00Z"),
    # 003, remember: "tomorrow at 9am", "in 2 hours", "... the deploy tomorrow"
    ("in 2 hours", "2026-03-13T17:30:00Z"),
    ("tomorrow", "2026-03-14T15:30:00Z"),
    # 003, decision table: "Run a health check in 5 minutes"
    ("in 5 minutes", "2026-03-13T15:35:00Z"),
]

RECURRING = [
    # 003, Time Expressions table
    ("every day at 9am", "0 9 * * *", "UTC"),
    ("every Monday at 10am", "0 10 * * 1", "UTC"),
    ("tous les lundis à 10h", "0 10 * * 1", "UTC"),
    ("0 9 * * *", "0 9 * * *", "UTC"),
    # 003, schedule_cron examples and decision table
    ("*/5 * * * *", "*/5 * * * *", "UTC"),
    ("daily at 9 AM", "0 9 * * *", "UTC"),
    ("every Sunday at 3 AM", "0 3 * * 0", "UTC"),
    # 002, schedule trigger: cron with a timezone, and natural language
    ("0 9 * * 1-5", "0 9 * * 1-5", "America/New_York"),
    ("every weekday at 9 AM", "0 9 * * 1-5", "America/New_York"),
    ("every 30 minutes", "*/30 * * * *", "UTC"),
    # 002, cron syntax examples and their descriptions
    ("0 */6 * * *", "0 */6 * * *", "UTC"),
    ("every 6 hours", "0 */6 * * *", "UTC"),
    ("30 8 * * 1", "30 8 * * 1", "UTC"),
    ("every Monday at 8:30 AM", "30 8 * * 1", "UTC"),
    ("0 0 1 * *", "0 0 1 * *", "UTC"),
    ("first of every month at midnight", "0 0 1 * *", "UTC"),
    # 001, cron trigger common patterns and their descriptions
    ("every day at 9 a.m.", "0 9 * * *", "UTC"),
    ("weekdays at 9 a.m.", "0 9 * * 1-5", "UTC"),
    ("*/15 * * * *", "*/15 * * * *", "UTC"),
    ("every 15 minutes", "*/15 * * * *", "UTC"),
    ("first of each month at midnight", "0 0 1 * *", "UTC"),
]


@pytest.mark.parametrize(("text", "expected"), ONE_OFF)
def test_spec_one_off(text: str, expected: str) -> None:
    result = parse_time_expression(text, now=NOW, tz="UTC")
    assert result == OneShot(datetime.fromisoformat(expected))


@pytest.mark.parametrize(("text", "expected", "tz"), RECURRING)
def test_spec_recurring(text: str, expected: str, tz: str) -> None:
    assert parse_time_expression(text, now=NOW, tz=tz) == CronSchedule(expected, tz)
