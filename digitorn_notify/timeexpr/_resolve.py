"""From slots to one result: the rules that give a time expression its meaning.

* Seconds, minutes and hours are exact elapsed time; days, weeks, months and
  years move the calendar and keep the wall-clock time in the zone.
* A bare time ("at 9am") is its next occurrence; a bare weekday ("monday") is
  the nearest one still ahead, today included; "next monday" is never today.
* A day without a time ("tomorrow") keeps the current wall-clock time; a part
  of the day ("demain matin") gives its own hour.
* An explicit day or date that is already past is refused, never moved.
* A local time in a DST gap moves forward by the gap; an ambiguous one is its
  first occurrence (see :mod:`._zone`).
* A recurring schedule is a cron in the zone whenever cron can say it, and an
  :class:`IntervalSchedule` otherwise ("every 90 minutes", "every 2 days").
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from digitorn_notify.timeexpr._cron import check_cron, cron_list
from digitorn_notify.timeexpr._errors import Reject
from digitorn_notify.timeexpr._grammar import Parts
from digitorn_notify.timeexpr._lexicon import DAY_PART_HOURS
from digitorn_notify.timeexpr._results import CronSchedule, IntervalSchedule, OneShot
from digitorn_notify.timeexpr._tokens import Span
from digitorn_notify.timeexpr._zone import localise, wall_clock

# Spelled out rather than taken from calendar.day_name, which follows the locale.
_WEEKDAY_NAMES: Final = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)  # fmt: skip
_DAILY, _WEEKLY, _MONTHLY, _YEARLY = "daily", "weekly", "monthly", "yearly"


def resolve(
    parts: Parts, now: datetime, zone: ZoneInfo, name: str
) -> OneShot | CronSchedule | IntervalSchedule:
    """The result ``parts`` mean at ``now`` (aware UTC) in ``zone`` (named ``name``)."""
    if parts.recurring or parts.every is not None or parts.weekdays is not None:
        return _recurring(parts, now, zone, name)
    return OneShot(_one_shot(parts, now, zone))


def _clock_times(parts: Parts) -> list[time]:
    """The times of day said, with "du soir" / "in the afternoon" moving 1-11 to the afternoon."""
    shift = parts.part in ("afternoon", "evening")
    return [
        time(
            clock.hour + 12 if shift and not clock.fixed and 1 <= clock.hour <= 11 else clock.hour,
            clock.minute,
            clock.second,
        )
        for clock in parts.times
    ]


def _past(at: datetime, now: datetime, zone: ZoneInfo) -> Reject:
    return Reject(
        f"{at.astimezone(zone):%Y-%m-%d %H:%M} in {zone.key} is already past"
        f" (now is {now.astimezone(zone):%Y-%m-%d %H:%M})"
    )


def _add_months(day: date, months: int) -> date:
    """``day`` moved by calendar months, clamped to the month's end (31 Jan + 1 month = 28 Feb)."""
    if not months:
        return day
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return day.replace(
        year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1])
    )


# -- one-shot ------------------------------------------------------------------


def _one_shot(parts: Parts, now: datetime, zone: ZoneInfo) -> datetime:
    wall_now = wall_clock(now, zone)
    times = _clock_times(parts)
    if len(times) > 1:
        raise Reject("a one-off time takes a single time of day; use 'every day at 9am and 5pm'")
    said = times[0] if times else None
    if said is None and parts.part is not None:
        said = time(DAY_PART_HOURS[parts.part])
    if parts.relative is not None:
        return _relative(parts, parts.relative, said, now=now, wall_now=wall_now, zone=zone)
    if parts.day == 0 and said is None:
        raise Reject("'today' needs a time: 'today at 18h', 'aujourd'hui à 18h'")
    clock = said if said is not None else wall_now.time()
    days, explicit = _candidate_days(parts, wall_now.date())
    at = now
    for day in days:
        at = localise(datetime.combine(day, clock), zone)
        if at > now:
            return at
        if explicit:
            break
    raise _past(at, now, zone)


def _relative(
    parts: Parts,
    span: Span,
    said: time | None,
    *,
    now: datetime,
    wall_now: datetime,
    zone: ZoneInfo,
) -> datetime:
    if parts.day is not None or parts.weekday is not None or parts.dom is not None:
        raise Reject("a delay ('in 2 days') cannot also name a day or a date")
    if said is not None:
        if span.seconds:
            raise Reject("a delay in hours or minutes cannot take a time of day; say 'at 9am'")
        day = _add_months(wall_now.date(), span.months) + timedelta(days=span.days)
        at = localise(datetime.combine(day, said), zone)
        if at <= now:
            raise _past(at, now, zone)
        return at
    at = now
    if span.days or span.months:
        wall = datetime.combine(_add_months(wall_now.date(), span.months), wall_now.time())
        at = localise(wall + timedelta(days=span.days), zone)
    at += timedelta(seconds=span.seconds)
    if at <= now:
        raise Reject("a delay must be more than zero")
    return at


def _candidate_days(parts: Parts, today: date) -> tuple[list[date], bool]:
    """Days to try in order, and whether the first is explicit (so a past one is an error)."""
    if parts.day is not None:
        if parts.weekday is not None or parts.dom is not None:
            raise Reject("give a day ('tomorrow') or a date, not both")
        return [today + timedelta(days=parts.day)], True
    if parts.dom is not None:
        days = _dates(parts.dom, parts.month, parts.year, today)
        if parts.weekday is not None:
            # "vendredi 13" is the next Friday the 13th; a dated mismatch is an error.
            matching = [day for day in days if day.weekday() == parts.weekday]
            if not matching:
                actual = _WEEKDAY_NAMES[days[0].weekday()]
                raise Reject(f"{days[0]} is a {actual}, not a {_WEEKDAY_NAMES[parts.weekday]}")
            days = matching
        return days, parts.year is not None
    if parts.weekday is not None:
        first = 1 if parts.next_weekday else 0
        return [
            today + timedelta(days=ahead)
            for ahead in range(first, 8)
            if (today.weekday() + ahead) % 7 == parts.weekday
        ], False
    if not parts.times and parts.part is None:
        raise Reject("there is no time or day to schedule")
    return [today, today + timedelta(days=1)], False


def _dates(dom: int, month: int | None, year: int | None, today: date) -> list[date]:
    """The dates a day of month (and maybe month and year) can be, from this month on."""
    if year is not None and month is not None:
        try:
            return [date(year, month, dom)]
        except ValueError:
            raise Reject(f"{year}-{month:02d}-{dom:02d} is not a date") from None
    if month is not None:
        # Up to 8 years ahead, so that 29 February finds its leap year.
        return [
            date(candidate, month, dom)
            for candidate in range(today.year, today.year + 9)
            if dom <= calendar.monthrange(candidate, month)[1]
        ]
    found = []
    year, month_index = today.year, today.month
    for _ in range(14):
        if dom <= calendar.monthrange(year, month_index)[1]:
            found.append(date(year, month_index, dom))
        year, month_index = (year + 1, 1) if month_index == 12 else (year, month_index + 1)
    return found


# -- recurring -----------------------------------------------------------------


def _recurring(
    parts: Parts, now: datetime, zone: ZoneInfo, name: str
) -> CronSchedule | IntervalSchedule:
    if parts.relative is not None:
        raise Reject("a recurring schedule cannot start with a delay ('in 2 days')")
    if parts.day is not None or parts.year is not None or parts.next_weekday:
        raise Reject("a recurring schedule cannot be tied to one day ('tomorrow', 'next', a year)")
    weekdays = parts.weekdays
    if parts.weekday is not None:
        if weekdays is not None:
            raise Reject("the days of the week are given twice")
        weekdays = frozenset({parts.weekday})
    every = parts.every
    if every is not None and every.seconds:
        if every.days or every.months or parts.times or weekdays or parts.dom or parts.part:
            raise Reject("an interval under a day ('every 2 hours') takes no day or time of day")
        return _sub_day(every.seconds, now, name)
    wall_now = wall_clock(now, zone)
    clocks = _clock_times(parts) or [
        time(DAY_PART_HOURS[parts.part]) if parts.part else time(wall_now.hour, wall_now.minute)
    ]
    if every is None:
        if weekdays:
            kind = _WEEKLY
        elif parts.dom is not None:
            kind = _YEARLY if parts.month is not None else _MONTHLY
        elif parts.times or parts.part:
            kind = _DAILY
        else:
            raise Reject("'every' needs what repeats: 'every day at 9am', 'every monday'")
    elif every.months:
        if every.days or every.months not in (1, 12):
            raise Reject("only 'every month' and 'every year' repeat by months")
        kind = _MONTHLY if every.months == 1 else _YEARLY
    elif every.days == 1:
        kind = _WEEKLY if weekdays else _DAILY
    elif every.days == 7:
        kind = _WEEKLY
    else:
        return _every_days(parts, every.days, weekdays, clocks, now=now, zone=zone, name=name)
    return CronSchedule(_cron(parts, kind, weekdays, clocks, wall_now), name)


def _cron(
    parts: Parts, kind: str, weekdays: frozenset[int] | None, clocks: list[time], wall_now: datetime
) -> str:
    if any(clock.second for clock in clocks):
        raise Reject("cron has no seconds; give the time to the minute")
    minutes = {clock.minute for clock in clocks}
    if len(minutes) > 1:
        raise Reject("several times in one schedule must share their minutes ('at 9:30 and 17:30')")
    dom = month = dow = "*"
    if kind in (_DAILY, _WEEKLY) and parts.dom is not None:
        raise Reject(f"a {kind} schedule cannot take a day of the month")
    if kind in (_MONTHLY, _YEARLY):
        if weekdays:
            raise Reject("a monthly or yearly schedule cannot take a day of the week")
        if kind == _MONTHLY and parts.month is not None:
            raise Reject("a monthly schedule cannot name a month")
        day = parts.dom if parts.dom is not None else wall_now.day
        if kind == _MONTHLY and parts.dom is None and day > 28:
            raise Reject(f"not every month has a day {day}; name the day: 'every month on the 1st'")
        dom = str(day)
        if kind == _YEARLY:
            month = str(parts.month if parts.month is not None else wall_now.month)
    if kind == _WEEKLY:
        # cron counts Sunday as 0, Python counts Monday as 0.
        dow = cron_list((day + 1) % 7 for day in (weekdays or {wall_now.weekday()}))
    expression = f"{minutes.pop()} {cron_list(clock.hour for clock in clocks)} {dom} {month} {dow}"
    check_cron(expression)
    return expression


def _sub_day(seconds: int, now: datetime, name: str) -> CronSchedule | IntervalSchedule:
    """A step under a day: a cron when it divides the hour or the day, else an interval."""
    minutes, rest = divmod(seconds, 60)
    if not rest and minutes:
        if minutes < 60 and 60 % minutes == 0:
            return CronSchedule("* * * * *" if minutes == 1 else f"*/{minutes} * * * *", name)
        hours, rest = divmod(minutes, 60)
        if not rest and hours < 24 and 24 % hours == 0:
            return CronSchedule("0 * * * *" if hours == 1 else f"0 */{hours} * * *", name)
    every = timedelta(seconds=seconds)
    return IntervalSchedule(every=every, start=now + every, timezone=name)


def _every_days(
    parts: Parts,
    days: int,
    weekdays: frozenset[int] | None,
    clocks: list[time],
    *,
    now: datetime,
    zone: ZoneInfo,
    name: str,
) -> IntervalSchedule:
    """ "every 2 days at 9am", "every 2 weeks on monday": whole days, wall-clock kept."""
    if not days:
        raise Reject("a recurrence must be more than zero")
    if parts.dom is not None or len(clocks) > 1:
        raise Reject("an interval of days takes one time of day and no day of the month")
    if weekdays and (days % 7 or len(weekdays) > 1):
        raise Reject("an interval of weeks takes a single weekday ('every 2 weeks on monday')")
    wall_now = wall_clock(now, zone)
    today = wall_now.date()
    if weekdays or parts.times or parts.part:
        # The first firing is the next occurrence, as for a one-off "monday at 9am".
        candidates = [
            today + timedelta(days=ahead)
            for ahead in range(8)
            if not weekdays or (today.weekday() + ahead) % 7 in weekdays
        ]
        first = next(
            day for day in candidates if localise(datetime.combine(day, clocks[0]), zone) > now
        )
    else:
        first = today + timedelta(days=days)
    return IntervalSchedule(
        every=timedelta(days=days),
        start=localise(datetime.combine(first, clocks[0]), zone),
        timezone=name,
        time_of_day=clocks[0],
    )
