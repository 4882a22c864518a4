"""Tokens, and the two small phrases made of them: amounts of time and times of day.

Both readers are pure functions of the token list and a position: they return
what they read and where it ends, or None without consuming anything, so the
sentence-level grammar can try one reading and fall back to another.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final, NamedTuple

from digitorn_notify.timeexpr._errors import Reject
from digitorn_notify.timeexpr._lexicon import (
    AMOUNTS,
    CANONICAL,
    FOLD,
    FRACTIONS,
    HOUR_MARKERS,
    MONTHS,
    ORDINAL_SUFFIXES,
    SUBUNIT,
    UNITS,
    WEEKDAYS,
)

_MINUTE_WORDS: Final = frozenset({"m", "mn", "min", "mins", "minute", "minutes"})
_ARTICLES: Final = frozenset({"a", "an", "un", "une"})


class Clock(NamedTuple):
    """A time of day as written; ``fixed`` when am/pm or a name settles its half of the day."""

    hour: int
    minute: int
    second: int = 0
    fixed: bool = False


class Span(NamedTuple):
    """An amount of time: exact seconds, and calendar days and months kept apart."""

    seconds: int = 0
    days: int = 0
    months: int = 0


Token = str | int | Clock | date

_NAMED_TIMES: Final = {"noon": Clock(12, 0, fixed=True), "midnight": Clock(0, 0, fixed=True)}

_TOKEN: Final = re.compile(
    r"""
      (?P<date>\d{4}-\d\d?-\d\d?)(?![\d:])
    | (?P<clock>\d\d?:\d\d(?::\d\d)?)(?![\d:])
    | (?P<decimal>\d+[.,]\d+)
    | (?P<num>\d+)
    | (?P<ampm>[ap]\.m\b\.?)
    | (?P<word>[a-z]+)
    | (?P<sym>[,&+@])
    | (?P<minus>-(?=\d))
    | (?P<dash>-)
    | \s+ | \.(?!\d)
    | (?P<bad>.)
    """,
    re.VERBOSE,
)


def tokenise(text: str) -> list[Token]:
    """Normalise ``text`` (case, accents, apostrophes) and cut it into tokens."""
    tokens: list[Token] = []
    dash_after = -1
    for match in _TOKEN.finditer(text.lower().translate(FOLD)):
        kind = match.lastgroup
        if kind is None:
            continue
        value = match.group()
        if kind == "dash":
            # Hyphens join words ("après-demain", "week-end") and are dropped, except
            # between two weekdays, where "mon-fri" means "mon to fri".
            dash_after = len(tokens)
        elif kind in ("word", "sym"):
            word = CANONICAL.get(value, value)
            if tokens and dash_after == len(tokens) and word in WEEKDAYS and tokens[-1] in WEEKDAYS:
                tokens.append("to")
            tokens.append(word)
        elif kind == "num":
            tokens.append(int(value))
        elif kind == "clock":
            hour, minute, *second = (int(part) for part in value.split(":"))
            tokens.append(Clock(hour, minute, second[0] if second else 0))
        elif kind == "ampm":
            tokens.append(value[0] + "m")
        elif kind == "date":
            year, month, day = (int(part) for part in value.split("-"))
            try:
                tokens.append(date(year, month, day))
            except ValueError:
                raise Reject(f"{value} is not a date") from None
        elif kind == "decimal":
            raise Reject(
                f"decimal numbers such as {value!r} are not understood; write"
                " 'in 1 hour and 30 minutes' or 'at 9:30'"
            )
        elif kind == "minus":
            raise Reject("a negative amount points to the past")
        else:
            raise Reject(f"unexpected character {value!r}")
    return tokens


def _at(tokens: list[Token], index: int) -> Token | None:
    return tokens[index] if index < len(tokens) else None


def _amount(tokens: list[Token], index: int) -> tuple[int, int] | None:
    """An amount at ``index`` in quarters (so "un quart d'heure" is exact), and where it ends."""
    token = _at(tokens, index)
    following = _at(tokens, index + 1)
    if isinstance(token, int):
        return token * 4, index + 1
    if not isinstance(token, str):
        return None
    if token in _ARTICLES and following in FRACTIONS:
        quarters, index = FRACTIONS[str(following)], index + 2  # "une demi", "a quarter"
    elif token in FRACTIONS:
        quarters, index = FRACTIONS[token], index + 1  # "half an hour"
    elif token in AMOUNTS and following in ("quarters", "quarts"):
        quarters, index = AMOUNTS[token], index + 2  # "trois quarts d'heure"
    elif token in AMOUNTS:
        return AMOUNTS[token] * 4, index + 1
    else:
        return None
    # "a quarter of an hour", "half an hour": the words between a fraction and its unit.
    if _at(tokens, index) == "of":
        index += 1
    if _at(tokens, index) in ("a", "an"):
        index += 1
    return quarters, index


def _fraction_after(tokens: list[Token], index: int) -> tuple[int, int] | None:
    """ "and a half", "et demie", "et quart" at ``index``: quarters, and where it ends."""
    if _at(tokens, index) != "and":
        return None
    after = index + 2 if _at(tokens, index + 1) in ("a", "an") else index + 1
    word = _at(tokens, after)
    if isinstance(word, str) and word in FRACTIONS:
        return FRACTIONS[word], after + 1
    return None


def read_span(tokens: list[Token], index: int, *, amount_optional: bool) -> tuple[Span, int] | None:
    """Read "1 hour and 30 minutes", "1h30", "deux jours" at ``index``, and where it ends.

    With ``amount_optional`` a leading unit alone counts once ("every hour").
    """
    seconds = days = months = 0
    position, end = index, -1
    while True:
        index = position
        if end >= 0 and _at(tokens, index) in ("and", ","):
            index += 1
        found = _amount(tokens, index)
        if found is None:
            if end >= 0 or not amount_optional:
                break
            found = (4, index)
        quarters, index = found
        unit_word = _at(tokens, index)
        unit = UNITS.get(unit_word) if isinstance(unit_word, str) else None
        if unit is None:
            break
        kind, size = unit
        index += 1
        # "1h30", "1m30": a bare number after hours or minutes counts in the next unit down.
        sub = SUBUNIT.get(size) if kind == "s" else None
        following = _at(tokens, index)
        if sub and isinstance(following, int) and _at(tokens, index + 1) not in UNITS:
            if following >= 60:
                raise Reject(f"{following} is out of range after {unit_word!r} (0-59)")
            seconds += following * sub
            index += 1
        fraction = _fraction_after(tokens, index)
        if fraction is not None:
            quarters += fraction[0]  # "an hour and a half", "une heure et quart"
            index = fraction[1]
        if quarters % 4 and (kind != "s" or size == 1):
            raise Reject("only hours and minutes can be split into halves or quarters")
        if kind == "s":
            seconds += quarters * size // 4
        elif kind == "d":
            days += quarters // 4 * size
        else:
            months += quarters // 4 * size
        position = end = index
    if end < 0:
        return None
    return Span(seconds, days, months), end


def read_time(tokens: list[Token], index: int, *, bare: bool) -> tuple[Clock, int] | None:
    """Read a time of day at ``index`` ("9am", "14h30", "8:15", "midi"), and where it ends.

    ``bare`` accepts a plain hour ("at 9", read as 24-hour), which is only safe
    right after "at" or "à".
    """
    first = _at(tokens, index)
    following = _at(tokens, index + 1)
    if isinstance(first, Clock):
        if following in ("am", "pm"):
            return _twelve_hour(first.hour, first.minute, first.second, following), index + 2
        return _checked(first), index + 1
    if first in _NAMED_TIMES:
        return _past_the_hour(tokens, _NAMED_TIMES[str(first)], index + 1)
    if not isinstance(first, int):
        return None
    if following in ("am", "pm"):
        return _twelve_hour(first, 0, 0, following), index + 2
    if following in HOUR_MARKERS:
        index += 2
        minute = _at(tokens, index)
        if isinstance(minute, int):
            index += 1
            if _at(tokens, index) in _MINUTE_WORDS:
                index += 1
            return _checked(Clock(first, minute)), index
        return _past_the_hour(tokens, _checked(Clock(first, 0)), index)
    if bare and not (
        following in UNITS
        or following in ORDINAL_SUFFIXES
        or following in MONTHS
        or following in FRACTIONS
        or following == "of"
    ):
        return _checked(Clock(first, 0)), index + 1
    return None


def _past_the_hour(tokens: list[Token], clock: Clock, index: int) -> tuple[Clock, int]:
    """ "midi et demi", "9h et quart": a fraction of an hour after a whole hour."""
    fraction = _fraction_after(tokens, index)
    if fraction is None:
        return clock, index
    return clock._replace(minute=fraction[0] * 15), fraction[1]


def _checked(clock: Clock) -> Clock:
    if not 0 <= clock.hour <= 23:
        raise Reject(f"hour {clock.hour} is out of range (0-23)")
    if not 0 <= clock.minute <= 59:
        raise Reject(f"minute {clock.minute} is out of range (0-59)")
    if not 0 <= clock.second <= 59:
        raise Reject(f"second {clock.second} is out of range (0-59)")
    return clock


def _twelve_hour(hour: int, minute: int, second: int, meridiem: object) -> Clock:
    if not 1 <= hour <= 12:
        raise Reject(f"{hour}{meridiem} is not a 12-hour time (1-12 am or pm)")
    hour = hour % 12 + (12 if meridiem == "pm" else 0)
    return _checked(Clock(hour, minute, second, fixed=True))
