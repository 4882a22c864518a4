"""Properties: any text parses or is a TimeExpressionError, and schedules only move forward."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import example, given, reject, settings
from hypothesis import strategies as st

from digitorn_notify.errors import TimeExpressionError
from digitorn_notify.timeexpr import (
    CronSchedule,
    IntervalSchedule,
    OneShot,
    parse_time_expression,
)
from digitorn_notify.timeexpr._zone import localise

ZONES = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]

# Words and pieces the parser knows, and some it does not, to build near-misses.
VOCABULARY = """
    in dans every tous les toutes chaque at à a on le the of de du and et , from to au
    today tomorrow demain après-demain tonight ce soir matin morning noon midi minuit
    midnight next prochain this lundi monday vendredi friday sundays weekdays weekend
    min minutes h hours heures jours days weeks mois months years ans s m half demi
    avril april 1er 1st 15th am pm p.m. 9h 14h30 8:15 25:00 9am 12am 0 5 13 31 60
    * */5 1-5 mon-fri @daily 2026-03-30 2026-03-30T09:00 Z +02:00 - . ' one deux
    hello yesterday now later plus tard hourly daily ouvrés week-end 99999999
""".split()  # noqa: SIM905 - a word list reads better as words

texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(VOCABULARY), max_size=8).map(" ".join),
)
# Well-formed phrases, so that the success paths are exercised as hard as the failures.
phrases = st.one_of(
    st.builds(
        "in {} {}".format,
        st.integers(0, 5000),
        st.sampled_from(["s", "m", "min", "h", "hours", "jours", "days", "weeks", "mois", "years"]),
    ),
    st.builds(
        "{} at {}:{:02d}".format,
        st.sampled_from(["today", "tomorrow", "demain", "monday", "next friday", "le 1er avril"]),
        st.integers(0, 26),
        st.integers(0, 61),
    ),
    st.builds(
        "every {} at {}h{:02d}".format,
        st.sampled_from(["day", "monday", "weekday", "2 days", "week", "month"]),
        st.integers(0, 24),
        st.integers(0, 59),
    ),
    st.builds(
        "every {} {}".format, st.integers(0, 200), st.sampled_from(["minutes", "hours", "s"])
    ),
)
nows = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2090, 12, 31), timezones=st.just(UTC)
)


def check(text: str, now: datetime, zone: str) -> None:
    try:
        result = parse_time_expression(text, now=now, tz=zone)
    except TimeExpressionError:
        return
    if isinstance(result, OneShot):
        assert result.at.tzinfo is not None
        assert result.at > now
    else:
        assert isinstance(result, CronSchedule | IntervalSchedule)
        assert result.timezone == zone
        following = result.next_after(now)
        assert following.tzinfo is not None
        assert following > now


@settings(max_examples=400)
@given(text=texts, now=nows, zone=st.sampled_from(ZONES))
@example(text="-LUNDI", now=datetime(2000, 1, 1, tzinfo=UTC), zone="UTC")  # a dash before any word
def test_any_text_parses_or_is_a_time_expression_error(text: str, now: datetime, zone: str) -> None:
    check(text, now, zone)


@settings(max_examples=400)
@given(
    text=st.one_of(phrases, st.lists(st.one_of(texts, phrases), max_size=3).map(" ".join)),
    now=nows,
    zone=st.sampled_from(ZONES),
)
def test_phrases_parse_into_the_future(text: str, now: datetime, zone: str) -> None:
    check(text, now, zone)


field = st.sampled_from
crons = st.builds(
    "{} {} {} {} {}".format,
    field(["0", "30", "*/15", "5,35", "59", "*"]),
    field(["*", "2", "1", "0-3", "*/6", "9,17", "23"]),
    field(["*", "1", "15", "31", "1-7"]),
    field(["*", "3", "10,11", "2"]),
    field(["*", "0", "1-5", "6", "0,6"]),
)


@pytest.mark.slow
@settings(max_examples=200)
@given(expression=crons, zone=st.sampled_from(ZONES), after=nows)
def test_cron_next_after_moves_forward_and_matches_in_local_time(
    expression: str, zone: str, after: datetime
) -> None:
    try:
        schedule = CronSchedule(expression, zone)
    except TimeExpressionError as exc:
        # Only day/month combinations that never happen (31 February) are refused.
        refusal = str(exc)
        assert "never fires" in refusal
        reject()
    tz = ZoneInfo(zone)
    current = after
    for _ in range(4):
        following = schedule.next_after(current)
        assert following > current
        wall = following.astimezone(tz).replace(tzinfo=None)
        if not croniter.match(expression, wall):
            # Only a wall time inside a gap may fire elsewhere: it moved forward by the gap.
            now_offset, before_offset = tz.utcoffset(wall), tz.utcoffset(wall - timedelta(hours=3))
            assert now_offset is not None
            assert before_offset is not None
            gap = now_offset - before_offset
            assert gap > timedelta(0)
            moved = wall - gap
            assert croniter.match(expression, moved)
            assert localise(moved, tz) == following
        current = following


@settings(max_examples=200)
@given(
    every=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=30)),
    start=nows,
    after=nows,
    zone=st.sampled_from(ZONES),
)
def test_interval_next_after_moves_forward(
    every: timedelta, start: datetime, after: datetime, zone: str
) -> None:
    schedule = IntervalSchedule(every=every, start=start, timezone=zone)
    first = schedule.next_after(after)
    assert first > after
    assert schedule.next_after(first) > first
    if every % timedelta(days=1):
        # Exact intervals land on start + k * every, and never skip one.
        assert (first - start) % every == timedelta(0)
        assert first - every <= max(after, start - every)
