"""What is refused, and how: one TimeExpressionError that says why and lists the forms."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import attrs
import pytest

from digitorn_notify.errors import ConfigError, NotifyError, TimeExpressionError
from digitorn_notify.timeexpr import (
    CronSchedule,
    IntervalSchedule,
    OneShot,
    parse_time_expression,
)

# Friday 13 March 2026, 10:00 in Paris.
NOW = datetime(2026, 3, 13, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))

REFUSED = [
    ("5", "lone number"),
    ("today at 8am", "already past"),
    ("aujourd'hui à 8h", "already past"),
    ("25:00", "hour 25 is out of range"),
    ("at 25:00", "hour 25 is out of range"),
    ("à 25h", "hour 25 is out of range"),
    ("tomorrow at 9:60", "minute 60 is out of range"),
    ("at 13pm", "not a 12-hour time"),
    ("at 0am", "not a 12-hour time"),
    ("61 * * * *", "minute field '61'"),
    ("0 25 * * *", "hour field '25'"),
    ("0 0 0 * *", "day-of-month field '0'"),
    ("0 0 * 13 *", "month field '13'"),
    ("0 0 * * 8", "day-of-week field '8'"),
    ("*/0 * * * *", "minute field '*/0'"),
    ("0 0 31 2 *", "February has no day 31"),
    ("0 0 30 2 *", "February has no day 30"),
    ("0 0 31 4 *", "April has no day 31"),
    ("0 0 31 4,6,9,11 *", "April, June, September, November have no day 31"),
    ("0 0 30,31 2 *", "February has no day 30"),
    ("0 9 * *", "exactly 5 fields"),
    ("0 0 9 * * *", "exactly 5 fields"),
    ("2026-03-01T09:00:00Z", "already past"),
    ("2026-03-13 10:00", "already past"),
    ("2026-02-30 09:00", "not a valid ISO 8601"),
    ("2026-02-30 at 9am", "not a date"),
    ("le 13 mars 2026 à 9h", "already past"),
    ("le 31 avril", "does not exist"),
    ("february 29, 2027", "is not a date"),
    ("monday april 7 2026", "is a Tuesday, not a Monday"),
    ("in 0 minutes", "more than zero"),
    ("today", "needs a time"),
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 300, "longer than"),
    ("hello", "'hello' is not understood"),
    ("in -5 minutes", "negative"),
    ("in 1.5 hours", "decimal"),
    ("dans 1,5 heures", "decimal"),
    ("5 minutes", "needs 'in'"),
    ("in", "needs an amount"),
    ("at", "needs a time"),
    ("every", "'every' needs"),
    ("every 2 hours at 9am", "interval under a day"),
    ("every 3 months", "only 'every month' and 'every year'"),
    ("every 2 weeks on monday and friday", "single weekday"),
    ("tomorrow at 9am and 5pm", "single time"),
    ("in 2 hours at 9am", "cannot take a time of day"),
    ("in 2 days on monday", "cannot also name a day"),
    ("tomorrow on monday", "not both"),
    ("tomorrow today", "given twice"),
    ("every day at 9:15 and 17:30", "share their minutes"),
    ("every day at 9:15:30", "no seconds"),
    ("next week", "'next' needs a weekday"),
    ("in 99999999 years", "out of range"),
    ("every day tomorrow", "cannot be tied to one day"),
    ("in 5 minutes every day", "cannot start with a delay"),
    ("every month at 9am on monday", "day of the week"),
    ("9h#", "unexpected character '#'"),
    ("every other 2 days", "'every other' needs a unit"),
    ("in 0 days at 9am", "already past"),
    ("every monday on the 15th", "weekly schedule cannot take a day of the month"),
    ("every month on april 1st", "monthly schedule cannot name a month"),
    ("every 2 days on the 15th", "no day of the month"),
    ("le 0 avril", "day 0 is out of range"),
    ("le 1er avril 99999", "year 99999 is out of range"),
    ("après", "'après' needs 'demain' or 'midi'"),
    ("day", "a day needs a number"),
    ("week", "a week needs a number"),
    ("en mars", "'en' is only understood in 'en semaine'"),
    ("0 0 1 * 1#5", "not standard cron"),
    ("0 9 R R *", "not a value of this field"),
    # Days in the past say so, rather than that the word is unknown (issue 10).
    ("yesterday at 9am", "2026-03-12 09:00 in Europe/Paris is already past"),
    ("hier à 9h", "2026-03-12 09:00 in Europe/Paris is already past"),
    ("Hier a 9h", "2026-03-12 09:00 in Europe/Paris is already past"),
    ("avant-hier à 18h", "2026-03-11 18:00 in Europe/Paris is already past"),
    ("the day before yesterday at 10am", "2026-03-11 10:00 in Europe/Paris is already past"),
    ("yesterday", "already past"),
    ("hier soir", "2026-03-12 19:00 in Europe/Paris is already past"),
    ("every day yesterday", "cannot be tied to one day"),
    ("avant demain", "'avant' is only understood in 'avant-hier'"),
]


@pytest.mark.parametrize(("text", "reason"), REFUSED, ids=[text[:30] for text, _ in REFUSED])
def test_refused_with_reason_and_forms(text: str, reason: str) -> None:
    with pytest.raises(TimeExpressionError) as caught:
        parse_time_expression(text, now=NOW, tz="Europe/Paris")
    message = str(caught.value)
    assert message.startswith(f"cannot read {text!r} as a time: ")
    assert reason in message
    # Every refusal teaches the accepted forms, with examples in both languages.
    for example in ("'in 5m'", "'demain à 9h'", "'every Monday at 10am'", "'*/5 * * * *'"):
        assert example in message


def test_error_is_part_of_the_tree() -> None:
    with pytest.raises(NotifyError):
        parse_time_expression("gibberish", now=NOW, tz="UTC")
    # Bad input, like every refusal of bad input; the parser alone names no path.
    with pytest.raises(ConfigError) as caught:
        parse_time_expression("gibberish", now=NOW, tz="UTC")
    assert caught.value.path == ""
    # A ValueError too, for callers that only know the standard library.
    with pytest.raises(ValueError, match="gibberish"):
        parse_time_expression("gibberish", now=NOW, tz="UTC")


def test_naive_now_is_a_programming_error_not_a_bad_text() -> None:
    with pytest.raises(ValueError, match="naive") as caught:
        parse_time_expression("in 5m", now=datetime(2026, 3, 13, 10, 0), tz="UTC")
    assert not isinstance(caught.value, TimeExpressionError)


@pytest.mark.parametrize(
    "zone", ["Europe/Pariss", "Mars/Olympus_Mons", "", "../etc/passwd", "Europe"]
)
def test_unknown_zone(zone: str) -> None:
    with pytest.raises(TimeExpressionError, match="unknown time zone"):
        parse_time_expression("in 5m", now=NOW, tz=zone)


def test_zone_objects_are_accepted_and_must_have_a_name(tmp_path: Path) -> None:
    paris = ZoneInfo("Europe/Paris")
    result = parse_time_expression("every day at 9am", now=NOW, tz=paris)
    assert result == CronSchedule("0 9 * * *", "Europe/Paris")
    source = Path("/usr/share/zoneinfo/Europe/Paris")
    if not source.exists():
        pytest.skip("no system zoneinfo files to read a key-less zone from")
    with source.open("rb") as handle:
        nameless = ZoneInfo.from_file(handle)
    with pytest.raises(TimeExpressionError, match="without a key"):
        parse_time_expression("in 5m", now=NOW, tz=nameless)


def test_wrong_argument_types() -> None:
    with pytest.raises(TypeError):
        parse_time_expression(5, now=NOW, tz="UTC")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        parse_time_expression("in 5m", now=NOW, tz=1)  # type: ignore[arg-type]


def test_results_validate_on_construction() -> None:
    with pytest.raises(TimeExpressionError, match="February has no day 31"):
        CronSchedule("0 0 31 2 *")
    with pytest.raises(TimeExpressionError, match="unknown time zone"):
        CronSchedule("*/5 * * * *", "Nowhere/City")
    with pytest.raises(TypeError):
        CronSchedule(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        OneShot(datetime(2026, 3, 13, 10, 0))
    with pytest.raises(TypeError):
        OneShot("2026-03-13T10:00:00Z")  # type: ignore[arg-type]
    start = datetime(2026, 3, 13, 10, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="positive"):
        IntervalSchedule(every=timedelta(0), start=start)
    with pytest.raises(TypeError):
        IntervalSchedule(every=90, start=start)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        IntervalSchedule(every=timedelta(hours=1), start=datetime(2026, 3, 13))
    with pytest.raises(ValueError, match="whole days"):
        IntervalSchedule(every=timedelta(hours=36), start=start, time_of_day=time(9))
    with pytest.raises(TypeError):
        IntervalSchedule(every=timedelta(days=1), start=start, time_of_day="09:00")  # type: ignore[arg-type]


def test_results_are_frozen_values() -> None:
    schedule = CronSchedule(" @weekly ")
    assert schedule == CronSchedule("0 0 * * 0", "UTC")
    assert hash(schedule) == hash(CronSchedule("0   0 * * 0"))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        schedule.timezone = "Europe/Paris"  # type: ignore[misc]
    one = OneShot(NOW)
    assert one.at.tzinfo is UTC
    assert one.at == NOW
