"""Five-field cron: recognising it, validating it, and writing field lists.

The accepted syntax is the standard one, checked here before croniter sees it
(croniter also reads extensions: ``R`` for a random value, ``L``, ``W``, ``#``,
``?``, ``H``, seconds and years, reversed ranges; none is part of what we accept).
Each field is a comma-separated list of items; an item is ``*``, a value, a range
``a-b`` (low to high), any of those followed by a step ``/n`` (``n >= 1``), or, as a
documented extension, ``a/n`` (from ``a`` to the end of the range). Values are
numbers; month and day-of-week also take English three-letter names (``jan``,
``mon``), and day-of-week ``7`` is Sunday like ``0``. The ``@`` shortcuts are spelled
out before validation.

On top of that, schedules that can never fire (``0 0 31 2 *``, 30 February, 31
April with no other day) are refused up front, because croniter only notices them
when asked for a date. Validation is memoised: an expression's validity never
changes, and a scheduler re-validates the same few expressions every time it loads
its jobs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from croniter import CroniterError, croniter

from digitorn_notify.timeexpr._errors import Reject
from digitorn_notify.timeexpr._lexicon import CRON_ALIASES, MONTH_NAMES

FIELD_NAMES: Final = ("minute", "hour", "day-of-month", "month", "day-of-week")
FIELD_RANGES: Final = ("0-59", "0-23", "1-31", "1-12 or jan-dec", "0-7 or sun-sat")
_MAX_DAYS: Final = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Minute and hour fields are numeric in every cron expression, and no English or
# French phrase starts with two such words, so this tells cron from prose cheaply.
_NUMERIC_FIELD: Final = re.compile(r"[0-9*/,\-]+")
_SANITY_START: Final = datetime(2026, 1, 1)
_BOUNDS: Final = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_VALUE: Final = r"(?:[0-9]+|[A-Za-z]+)"
_ITEM: Final = re.compile(
    rf"(?:\*|(?P<low>{_VALUE})(?:-(?P<high>{_VALUE}))?)(?:/(?P<step>[0-9]+))?"
)
_MONTHS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_DAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
#: Names a field accepts, with their numbers.
_NAMES: Final[tuple[dict[str, int], ...]] = (
    {},
    {},
    {},
    {name: number for number, name in enumerate(_MONTHS, start=1)},
    {name: number for number, name in enumerate(_DAYS)},
)
ACCEPTED_CRON: Final = (
    "each field is *, a value, a range a-b, or a list of them (a,b-c), with an optional "
    "step /n; month and day-of-week also take names (jan, mon)"
)


def looks_like_cron(fields: list[str]) -> bool:
    """Whether whitespace-split text is meant as cron (of any field count)."""
    return (
        len(fields) >= 4
        and _NUMERIC_FIELD.fullmatch(fields[0]) is not None
        and _NUMERIC_FIELD.fullmatch(fields[1]) is not None
        and any("*" in field for field in fields)
    ) or (len(fields) == 5 and all(_NUMERIC_FIELD.fullmatch(f) for f in fields))


def normalise_cron(expression: str) -> str:
    """Collapse whitespace and spell out @-shortcuts (``@daily`` is ``0 0 * * *``)."""
    stripped = expression.strip()
    return CRON_ALIASES.get(stripped.lower()) or " ".join(stripped.split())


def check_cron(expression: str) -> None:
    """Raise :class:`Reject` unless ``expression`` is a 5-field cron that can fire."""
    reason = _cron_problem(expression)
    if reason is not None:
        raise Reject(reason)


def _value(text: str, index: int) -> int | None:
    """The number ``text`` stands for in field ``index``, or ``None``."""
    if text.isdigit():
        return int(text)
    return _NAMES[index].get(text.lower())


def _field_problem(field: str, index: int) -> str | None:
    """Why ``field`` (field number ``index``) is not standard cron, or ``None``."""
    low_bound, high_bound = _BOUNDS[index]
    where = f"the cron {FIELD_NAMES[index]} field {field!r}"
    for item in field.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            return f"{where} is not standard cron ({ACCEPTED_CRON})"
        numbers = []
        for part in (match["low"], match["high"]):
            if part is None:
                continue
            number = _value(part, index)
            if number is None:
                return (
                    f"{where}: {part!r} is not a value of this field ({FIELD_RANGES[index]});"
                    f" {ACCEPTED_CRON}"
                )
            if not low_bound <= number <= high_bound:
                return f"{where}: {part!r} is out of range ({FIELD_RANGES[index]})"
            numbers.append(number)
        if len(numbers) == 2 and numbers[0] > numbers[1]:
            return f"{where}: the range {item.partition('/')[0]!r} goes backwards (write low-high)"
        if match["step"] is not None and int(match["step"]) < 1:
            return f"{where}: a step must be 1 or more"
    return None


@functools.lru_cache(maxsize=1024)
def _cron_problem(expression: str) -> str | None:
    fields = expression.split()
    if len(fields) != 5:
        return (
            f"a cron expression has exactly 5 fields ({' '.join(FIELD_NAMES)}),"
            f" this one has {len(fields)}"
        )
    for index, field in enumerate(fields):
        problem = _field_problem(field, index)
        if problem is not None:
            return problem
    try:
        expanded, _nth = croniter.expand(expression)
    except (CroniterError, ValueError, LookupError, TypeError):
        return _bad_field(fields)
    problem = _never_fires(expanded)
    if problem is not None:
        return problem
    try:
        # The last word goes to croniter itself: anything it cannot step through is refused.
        croniter(expression, _SANITY_START).get_next(datetime)
    except (CroniterError, ValueError, LookupError, TypeError, OverflowError):
        return f"the cron expression {expression!r} never fires"
    return None


def _bad_field(fields: list[str]) -> str:
    """Name the first field croniter refuses on its own (others set to ``*``)."""
    for index, field in enumerate(fields):
        probe = ["*"] * 5
        probe[index] = field
        try:
            croniter.expand(" ".join(probe))
        except (CroniterError, ValueError, LookupError, TypeError):
            return (
                f"the cron {FIELD_NAMES[index]} field {field!r} is malformed or out of"
                f" range ({FIELD_RANGES[index]})"
            )
    return f"the cron expression {' '.join(fields)!r} is malformed"


def _never_fires(expanded: list[list[int | str]]) -> str | None:
    """Why a day-of-month/month combination can never happen, or None."""
    days, months, weekdays = expanded[2], expanded[3], expanded[4]
    # A day-of-week field makes cron fire on the weekday too (the two are OR-ed): some
    # weekday always happens in every month.
    if days == ["*"] or weekdays != ["*"] or any(not isinstance(day, int) for day in days):
        return None
    month_numbers = range(1, 13) if months == ["*"] else [int(m) for m in months]
    day_numbers = [int(day) for day in days]
    if any(day <= _MAX_DAYS[month] for month in month_numbers for day in day_numbers):
        return None
    listed = ", ".join(MONTH_NAMES[month] for month in month_numbers)
    verb = "has" if len(month_numbers) == 1 else "have"
    return f"the cron schedule never fires: {listed} {verb} no day {min(day_numbers)}"


def cron_list(values: Iterable[int]) -> str:
    """A cron field for ``values``: runs of three or more become ranges (``1-5``)."""
    ordered = sorted(set(values))
    parts: list[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        if end - start >= 2:
            parts.append(f"{ordered[start]}-{ordered[end]}")
        else:
            parts.extend(str(value) for value in ordered[start : end + 1])
        start = end + 1
    return ",".join(parts)
