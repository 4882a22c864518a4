"""What a time expression means: fire once, on a cron schedule, or at an interval.

The two recurring kinds share one method, ``next_after(dt)``, which is all a
scheduler needs: the first firing strictly after ``dt``, as an aware UTC datetime.
Both compute in the schedule's zone, so they stay right across DST changes:
a local time in a gap moves forward by the gap, an ambiguous one fires once, at
its first occurrence.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, Final, TypeAlias

import attrs
from croniter import CroniterError, croniter

from digitorn_notify.clock import utc
from digitorn_notify.timeexpr._cron import check_cron, normalise_cron
from digitorn_notify.timeexpr._errors import Reject, error
from digitorn_notify.timeexpr._zone import localise, wall_clock, zone_named

_DAY: Final = timedelta(days=1)
# Each wall time fires once, so stepping past the repeated hour of a fall-back night
# takes at most 60 croniter steps (one a minute); the bound only guards against a bug.
_MAX_STEPS: Final = 10_000


def _utc(value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"expected an aware datetime, not {type(value).__name__}")
    return utc(value)


def _zone_name(_instance: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    zone_named(value)


def _cron_text(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a cron expression is a str, not {type(value).__name__}")
    return normalise_cron(value)


def _valid_cron(_instance: object, _attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        check_cron(value)
    except Reject as exc:
        raise error(value, exc.reason) from None


def _positive(_instance: object, attribute: attrs.Attribute[Any], value: timedelta) -> None:
    if not isinstance(value, timedelta):
        raise TypeError(f"{attribute.name} must be a timedelta, not {type(value).__name__}")
    if value <= timedelta(0):
        raise ValueError(f"{attribute.name} must be positive, not {value}")


@attrs.frozen
class OneShot:
    """Fire once, at :attr:`at`.

    ``at`` is an aware datetime, stored in UTC (convert it with
    ``result.at.astimezone(zone)`` to show it); a naive value is refused.
    """

    at: datetime = attrs.field(converter=_utc)


@attrs.frozen
class CronSchedule:
    """A 5-field cron schedule read in the wall-clock time of an IANA zone.

    ``expression`` is validated with croniter on construction, and schedules that
    can never fire (``0 0 31 2 *``) are refused; whitespace is collapsed and the
    @-shortcuts (``@daily``) are spelled out.
    """

    expression: str = attrs.field(converter=_cron_text, validator=_valid_cron)
    timezone: str = attrs.field(default="UTC", validator=_zone_name)

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (aware), as an aware UTC datetime.

        Fields are matched against local wall time in :attr:`timezone`. A wall time
        in a DST gap fires at the same time shifted forward by the gap (02:30 becomes
        03:30); an ambiguous one fires once, at its first occurrence.
        """
        after = utc(after)
        zone = zone_named(self.timezone)
        try:
            steps = croniter(self.expression, wall_clock(after, zone))
            for _ in range(_MAX_STEPS):
                wall: datetime = steps.get_next(datetime)
                candidate = localise(wall, zone)
                # Only false for the repeated hour of a fall-back night, whose wall times
                # already fired at their first occurrence.
                if candidate > after:
                    return candidate
        except (CroniterError, ValueError, OverflowError, LookupError):
            # croniter's own errors (CroniterBadDateError near the end of the calendar)
            # are reported in our error tree, like every other time error.
            pass
        raise error(self.expression, f"no firing after {after.isoformat()} can be computed")


@attrs.frozen
class IntervalSchedule:
    """Fire at :attr:`start`, then every :attr:`every`, for what no cron can express.

    An interval that is not a whole number of days ("every 90 minutes") is exact
    elapsed time. A whole number of days ("every 2 days at 9am") moves the
    calendar and keeps a wall-clock time in :attr:`timezone` across DST changes:
    :attr:`time_of_day` when given, else the local time of :attr:`start`. (It is
    stated apart from ``start`` because a first firing inside a DST gap is moved
    forward, and the later ones must not inherit that move.)
    """

    every: timedelta = attrs.field(validator=_positive)
    start: datetime = attrs.field(converter=_utc)
    timezone: str = attrs.field(default="UTC", validator=_zone_name)
    time_of_day: time | None = attrs.field(default=None)

    @time_of_day.validator
    def _whole_days_only(self, _attribute: attrs.Attribute[Any], value: time | None) -> None:
        if value is None:
            return
        if not isinstance(value, time) or value.tzinfo is not None:
            raise TypeError("time_of_day must be a naive datetime.time (it is read in timezone)")
        if self.every % _DAY:
            raise ValueError("time_of_day only applies to an interval of whole days")

    def next_after(self, after: datetime) -> datetime:
        """The first firing strictly after ``after`` (aware), as an aware UTC datetime."""
        after = utc(after)
        if after < self.start:
            return self.start
        steps = (after - self.start) // self.every
        if self.every % _DAY:
            return self.start + (steps + 1) * self.every
        zone = zone_named(self.timezone)
        local_start = self.start.astimezone(zone)
        clock = self.time_of_day or local_start.time()
        anchor = datetime.combine(local_start.date(), clock)
        # Elapsed and wall-clock steps differ by the zone's offset change (under a day),
        # so the answer is at most a couple of steps past this estimate.
        step = max(1, steps - 1)
        while True:
            candidate = localise(anchor + step * self.every, zone)
            if candidate > after:
                return candidate
            step += 1


#: A schedule that fires more than once; both kinds have ``next_after(dt)``.
Recurring: TypeAlias = CronSchedule | IntervalSchedule
