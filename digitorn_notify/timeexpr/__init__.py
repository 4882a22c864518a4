"""Deterministic English and French time expressions: one-off times and schedules.

:func:`parse_time_expression` reads text such as "in 5m", "demain à 9h",
"every weekday at 8:15", "toutes les 15 minutes", ISO 8601 or raw cron, at a
given ``now`` and in a given IANA zone, and returns one of three frozen values:

* :class:`OneShot` -- fire once, at an aware UTC datetime strictly after ``now``;
* :class:`CronSchedule` -- a 5-field cron read in the zone's wall-clock time;
* :class:`IntervalSchedule` -- a fixed step no cron can express ("every 90 minutes").

Both recurring kinds have ``next_after(dt)``, correct across DST changes. No
network, no model, no randomness: the same text, ``now`` and zone always give the
same result. See ``docs/time-expressions.md`` for the rules.
"""

from digitorn_notify.timeexpr._parse import parse_time_expression
from digitorn_notify.timeexpr._results import CronSchedule, IntervalSchedule, OneShot, Recurring

__all__ = [
    "CronSchedule",
    "IntervalSchedule",
    "OneShot",
    "Recurring",
    "parse_time_expression",
]
