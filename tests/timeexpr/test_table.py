"""A table of English and French expressions with their exact meaning.

Each block fixes ``now`` and the zone; expected values are written by hand:
an ISO datetime with its offset for a one-off, ``cron: ...`` for a cron schedule
in the block's zone, ``every: <seconds>s from <start>`` for an interval. The DST
blocks sit on the 2026 changes in Europe/Paris (29 March, 25 October) and
America/New_York (8 March, 1 November).
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from digitorn_notify.timeexpr import (
    CronSchedule,
    IntervalSchedule,
    OneShot,
    parse_time_expression,
)

PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"

# Friday 13 March 2026, 16:30 in Paris (15:30 UTC, the reference time of the spec).
FRIDAY = ("2026-03-13T16:30:00+01:00", PARIS)

CASES: dict[tuple[str, str], list[tuple[str, str]]] = {
    FRIDAY: [
        # relative: seconds, minutes and hours are exact
        ("in 5m", "2026-03-13T16:35+01:00"),
        ("in 2h", "2026-03-13T18:30+01:00"),
        ("dans 30 minutes", "2026-03-13T17:00+01:00"),
        ("in 1 hour and 30 minutes", "2026-03-13T18:00+01:00"),
        ("dans 1h30", "2026-03-13T18:00+01:00"),
        ("in 10 seconds", "2026-03-13T16:30:10+01:00"),
        ("dans 5m", "2026-03-13T16:35+01:00"),
        ("in an hour", "2026-03-13T17:30+01:00"),
        ("dans une demi-heure", "2026-03-13T17:00+01:00"),
        ("in 2 hours 15 minutes", "2026-03-13T18:45+01:00"),
        ("in 1h30m", "2026-03-13T18:00+01:00"),
        ("dans une heure et demie", "2026-03-13T18:00+01:00"),
        ("dans un quart d'heure", "2026-03-13T16:45+01:00"),
        ("in three quarters of an hour", "2026-03-13T17:15+01:00"),
        ("dans une heure et quart", "2026-03-13T17:45+01:00"),
        ("5 minutes from now", "2026-03-13T16:35+01:00"),
        ("deux heures plus tard", "2026-03-13T18:30+01:00"),
        ("2 hours later", "2026-03-13T18:30+01:00"),
        ("a minute from now", "2026-03-13T16:31+01:00"),
        ("IN 5 MIN", "2026-03-13T16:35+01:00"),
        ("d'ici 10 minutes", "2026-03-13T16:40+01:00"),
        # relative: days, weeks and months keep the wall-clock time
        ("in 3 weeks", "2026-04-03T16:30+02:00"),
        ("in 2 days", "2026-03-15T16:30+01:00"),
        ("dans 2 jours à 9h", "2026-03-15T09:00+01:00"),
        ("in 2 days at 9am", "2026-03-15T09:00+01:00"),
        ("dans 5 mois", "2026-08-13T16:30+02:00"),
        ("in 1 month", "2026-04-13T16:30+02:00"),
        # named days
        ("tomorrow at 9am", "2026-03-14T09:00+01:00"),
        ("demain à 9h", "2026-03-14T09:00+01:00"),
        ("DEMAIN A 9H", "2026-03-14T09:00+01:00"),
        ("9am tomorrow", "2026-03-14T09:00+01:00"),
        ("demain midi", "2026-03-14T12:00+01:00"),
        ("demain à midi", "2026-03-14T12:00+01:00"),
        ("après-demain à 10h", "2026-03-15T10:00+01:00"),
        ("apres demain a 10h", "2026-03-15T10:00+01:00"),
        ("the day after tomorrow at 10:00", "2026-03-15T10:00+01:00"),
        ("today at 18h", "2026-03-13T18:00+01:00"),
        ("aujourd'hui à 18h", "2026-03-13T18:00+01:00"),
        ("aujourd\u2019hui à 18 h 15", "2026-03-13T18:15+01:00"),
        ("tonight", "2026-03-13T19:00+01:00"),
        ("ce soir à 21h", "2026-03-13T21:00+01:00"),
        ("ce soir à 9h", "2026-03-13T21:00+01:00"),
        ("tomorrow", "2026-03-14T16:30+01:00"),
        ("demain matin", "2026-03-14T09:00+01:00"),
        ("tomorrow evening at 8", "2026-03-14T20:00+01:00"),
        ("demain à 8h du soir", "2026-03-14T20:00+01:00"),
        # bare times: the next occurrence
        ("à minuit", "2026-03-14T00:00+01:00"),
        ("at midnight", "2026-03-14T00:00+01:00"),
        ("at 12am", "2026-03-14T00:00+01:00"),
        ("at 12pm", "2026-03-14T12:00+01:00"),
        ("midi", "2026-03-14T12:00+01:00"),
        ("at 17:30", "2026-03-13T17:30+01:00"),
        ("at 5:45 p.m.", "2026-03-13T17:45+01:00"),
        ("at 9am", "2026-03-14T09:00+01:00"),
        ("à 9h", "2026-03-14T09:00+01:00"),
        ("at 3 in the afternoon", "2026-03-14T15:00+01:00"),
        ("à 3h de l'après-midi", "2026-03-14T15:00+01:00"),
        ("vers 17h", "2026-03-13T17:00+01:00"),
        ("midi et demi", "2026-03-14T12:30+01:00"),
        ("demain à 9 heures et quart", "2026-03-14T09:15+01:00"),
        # weekdays: bare includes today, "next" never does
        ("lundi prochain à 14h30", "2026-03-16T14:30+01:00"),
        ("next friday at 12pm", "2026-03-20T12:00+01:00"),
        ("friday at 5pm", "2026-03-13T17:00+01:00"),
        ("friday at 9am", "2026-03-20T09:00+01:00"),
        ("monday 9am", "2026-03-16T09:00+01:00"),
        ("on Tuesday at 08:00", "2026-03-17T08:00+01:00"),
        ("vendredi 13 à 9h", "2026-11-13T09:00+01:00"),
        # dates: without a year, the next occurrence
        ("le 1er avril à 9h", "2026-04-01T09:00+02:00"),
        ("April 1st at 9am", "2026-04-01T09:00+02:00"),
        ("1st of april at 9am", "2026-04-01T09:00+02:00"),
        ("le 13 mars à 9h", "2027-03-13T09:00+01:00"),
        ("le 15 à 10h", "2026-03-15T10:00+01:00"),
        ("le 1er avril 2027 à 9h", "2027-04-01T09:00+02:00"),
        ("December 25, 2026 at 8am", "2026-12-25T08:00+01:00"),
        ("2026-03-20 at 9am", "2026-03-20T09:00+01:00"),
        # ISO 8601: with an offset as given, without one in the zone
        ("2026-03-30 09:00", "2026-03-30T09:00+02:00"),
        ("2026-03-30T09:00", "2026-03-30T09:00+02:00"),
        ("2026-03-14T09:00:00Z", "2026-03-14T09:00+00:00"),
        ("2026-03-14T09:00:00+02:00", "2026-03-14T09:00+02:00"),
        # recurring: cron in the zone
        ("every day at 9am", "cron: 0 9 * * *"),
        ("every Monday at 10am", "cron: 0 10 * * 1"),
        ("every weekday at 8:15", "cron: 15 8 * * 1-5"),
        ("du lundi au vendredi à 8h15", "cron: 15 8 * * 1-5"),
        ("from monday to friday at 9", "cron: 0 9 * * 1-5"),
        ("mon-fri at 9am", "cron: 0 9 * * 1-5"),
        ("tous les lundis à 10h", "cron: 0 10 * * 1"),
        ("tous les mardis et jeudis à 18h30", "cron: 30 18 * * 2,4"),
        ("every monday, wednesday and friday at 7am", "cron: 0 7 * * 1,3,5"),
        ("du vendredi au lundi à 9h", "cron: 0 9 * * 0,1,5,6"),
        ("toutes les 15 minutes", "cron: */15 * * * *"),
        ("every 20 minutes", "cron: */20 * * * *"),
        ("every minute", "cron: * * * * *"),
        ("every hour", "cron: 0 * * * *"),
        ("toutes les heures", "cron: 0 * * * *"),
        ("hourly", "cron: 0 * * * *"),
        ("every 2 hours", "cron: 0 */2 * * *"),
        ("every 6 hours", "cron: 0 */6 * * *"),
        ("le 1er de chaque mois à 9h", "cron: 0 9 1 * *"),
        ("on the 15th of every month at noon", "cron: 0 12 15 * *"),
        ("every month on the 15th at 8am", "cron: 0 8 15 * *"),
        ("tous les 15 du mois à 9h", "cron: 0 9 15 * *"),
        ("every year on april 1st at 9am", "cron: 0 9 1 4 *"),
        ("every Sunday at midnight", "cron: 0 0 * * 0"),
        ("tous les dimanches à minuit", "cron: 0 0 * * 0"),
        ("chaque jour à 9h", "cron: 0 9 * * *"),
        ("tous les jours à 9h", "cron: 0 9 * * *"),
        ("tous les jours ouvrés à 8h", "cron: 0 8 * * 1-5"),
        ("every business day at 9", "cron: 0 9 * * 1-5"),
        ("every weekend at 10am", "cron: 0 10 * * 0,6"),
        ("tous les week-ends à 10h", "cron: 0 10 * * 0,6"),
        ("every day at 9am and 5pm", "cron: 0 9,17 * * *"),
        ("daily at 7:45", "cron: 45 7 * * *"),
        ("tous les matins à 7h30", "cron: 30 7 * * *"),
        ("every day", "cron: 30 16 * * *"),
        ("every week", "cron: 30 16 * * 5"),
        # recurring: what no cron can say is an interval
        ("every 90 minutes", "every: 5400s from 2026-03-13T18:00+01:00"),
        ("toutes les 90 minutes", "every: 5400s from 2026-03-13T18:00+01:00"),
        ("every 45 minutes", "every: 2700s from 2026-03-13T17:15+01:00"),
        ("every 30 seconds", "every: 30s from 2026-03-13T16:30:30+01:00"),
        ("every 5 hours", "every: 18000s from 2026-03-13T21:30+01:00"),
        ("every 24 hours", "every: 86400s from 2026-03-14T16:30+01:00"),
        ("every 2 days at 9am", "every: 172800s from 2026-03-14T09:00+01:00 keeping 09:00"),
        ("every 2 days", "every: 172800s from 2026-03-15T16:30+01:00 keeping 16:30"),
        (
            "every 2 weeks on monday at 9am",
            "every: 1209600s from 2026-03-16T09:00+01:00 keeping 09:00",
        ),
        ("every other day", "every: 172800s from 2026-03-15T16:30+01:00 keeping 16:30"),
        (
            "every other monday at 9am",
            "every: 1209600s from 2026-03-16T09:00+01:00 keeping 09:00",
        ),
        ("every other hour", "cron: 0 */2 * * *"),
        # raw cron, passed through
        ("*/5 * * * *", "cron: */5 * * * *"),
        ("0 9 * * *", "cron: 0 9 * * *"),
        ("0 9 * * MON-FRI", "cron: 0 9 * * MON-FRI"),
        ("  0   9 * *  1 ", "cron: 0 9 * * 1"),
        ("@daily", "cron: 0 0 * * *"),
    ],
    # Paris, the day before spring forward (02:00 -> 03:00 on Sunday 29 March).
    ("2026-03-28T12:00:00+01:00", PARIS): [
        ("in 1 day", "2026-03-29T12:00+02:00"),
        ("in 24 hours", "2026-03-29T13:00+02:00"),
        ("demain à 2h30", "2026-03-29T03:30+02:00"),
        ("tomorrow at 3am", "2026-03-29T03:00+02:00"),
        ("tomorrow at 1:59", "2026-03-29T01:59+01:00"),
        ("in 1 week", "2026-04-04T12:00+02:00"),
        ("2026-03-29 02:30", "2026-03-29T03:30+02:00"),
        ("every day at 2:30", "cron: 30 2 * * *"),
        ("every 2 days at 2:30", "every: 172800s from 2026-03-29T03:30+02:00 keeping 02:30"),
    ],
    # Paris, half an hour before the gap.
    ("2026-03-29T01:30:00+01:00", PARIS): [
        ("in 1 hour", "2026-03-29T03:30+02:00"),
        ("in 30 minutes", "2026-03-29T03:00+02:00"),
        ("at 2:30", "2026-03-29T03:30+02:00"),
        ("in 1 day", "2026-03-30T01:30+02:00"),
    ],
    # Paris, the day before fall back (03:00 -> 02:00 on Sunday 25 October).
    ("2026-10-24T12:00:00+02:00", PARIS): [
        ("in 1 day", "2026-10-25T12:00+01:00"),
        ("in 24 hours", "2026-10-25T11:00+01:00"),
        ("demain à 2h30", "2026-10-25T02:30+02:00"),
        ("tomorrow at 3am", "2026-10-25T03:00+01:00"),
        ("2026-10-25 02:30", "2026-10-25T02:30+02:00"),
        ("2026-10-25T02:30:00+01:00", "2026-10-25T02:30+01:00"),
    ],
    # Paris, inside the repeated hour, at its second occurrence.
    ("2026-10-25T02:30:00+01:00", PARIS): [
        ("in 1 hour", "2026-10-25T03:30+01:00"),
        ("in 1 day", "2026-10-26T02:30+01:00"),
        ("at 2:45", "2026-10-26T02:45+01:00"),
    ],
    # New York, the day before spring forward (02:00 -> 03:00 on Sunday 8 March).
    ("2026-03-07T12:00:00-05:00", NEW_YORK): [
        ("tomorrow at 2:30am", "2026-03-08T03:30-04:00"),
        ("in 1 day", "2026-03-08T12:00-04:00"),
        ("in 24 hours", "2026-03-08T13:00-04:00"),
        ("next sunday at 9am", "2026-03-08T09:00-04:00"),
        ("every day at 2:30am", "cron: 30 2 * * *"),
    ],
    # New York, the day before fall back (02:00 -> 01:00 on Sunday 1 November).
    ("2026-10-31T12:00:00-04:00", NEW_YORK): [
        ("tomorrow at 1:30am", "2026-11-01T01:30-04:00"),
        ("in 1 day", "2026-11-01T12:00-05:00"),
        ("in 24 hours", "2026-11-01T11:00-05:00"),
        ("2026-11-01 01:30", "2026-11-01T01:30-04:00"),
        ("every day at 1:30am", "cron: 30 1 * * *"),
        ("every 2 days at 1:30am", "every: 172800s from 2026-11-01T01:30-04:00 keeping 01:30"),
    ],
}


# ISO texts carrying their own offset or Z: their expected offset is not the zone's.
FOREIGN_OFFSET = re.compile(r"(?:Z|[+-]\d\d:\d\d)$")


def expected_result(expected: str, tz: str) -> OneShot | CronSchedule | IntervalSchedule:
    if expected.startswith("cron: "):
        return CronSchedule(expected.removeprefix("cron: "), tz)
    if expected.startswith("every: "):
        seconds, start = expected.removeprefix("every: ").split("s from ")
        start, _, keeping = start.partition(" keeping ")
        return IntervalSchedule(
            every=timedelta(seconds=int(seconds)),
            start=datetime.fromisoformat(start),
            timezone=tz,
            time_of_day=time.fromisoformat(keeping) if keeping else None,
        )
    return OneShot(datetime.fromisoformat(expected))


TABLE = [
    pytest.param(text, now, tz, expected, id=f"{now[:16]} {tz} | {text}")
    for (now, tz), rows in CASES.items()
    for text, expected in rows
]


def test_the_table_is_big_enough() -> None:
    assert len(TABLE) >= 80


@pytest.mark.parametrize(("text", "now", "tz", "expected"), TABLE)
def test_expression(text: str, now: str, tz: str, expected: str) -> None:
    result = parse_time_expression(text, now=datetime.fromisoformat(now), tz=tz)
    assert result == expected_result(expected, tz)
    if isinstance(result, OneShot) and not FOREIGN_OFFSET.search(text):
        # The same instant, and seen in the zone it has the expected offset: the
        # offset tells which side of a DST change the time fell on.
        local = result.at.astimezone(ZoneInfo(tz))
        assert local.utcoffset() == datetime.fromisoformat(expected).utcoffset()
