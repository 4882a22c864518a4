"""The entry point: recognise ISO 8601 and cron first, then read English or French."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from digitorn_notify.clock import utc
from digitorn_notify.errors import TimeExpressionError
from digitorn_notify.timeexpr._cron import check_cron, looks_like_cron, normalise_cron
from digitorn_notify.timeexpr._errors import Reject, error
from digitorn_notify.timeexpr._grammar import Grammar
from digitorn_notify.timeexpr._lexicon import CRON_ALIASES
from digitorn_notify.timeexpr._resolve import resolve
from digitorn_notify.timeexpr._results import CronSchedule, OneShot, Recurring
from digitorn_notify.timeexpr._tokens import tokenise
from digitorn_notify.timeexpr._zone import localise, zone_and_name

# Long enough for any real expression; a bound keeps hostile input cheap to refuse.
MAX_LENGTH: Final = 200
_ISO: Final = re.compile(
    r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(?::\d\d(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d\d(?::?\d\d)?)?"
)


def parse_time_expression(text: str, *, now: datetime, tz: str | ZoneInfo) -> OneShot | Recurring:
    """Read an English or French time expression, deterministically.

    ``now`` is the reference time (aware; a naive value is a ``ValueError``) and
    ``tz`` the IANA zone the text is meant in (a name or a ``ZoneInfo``). The
    result is a :class:`OneShot` strictly after ``now``, a :class:`CronSchedule`
    in ``tz``, or an :class:`IntervalSchedule` for steps no cron can express.

    Raises :class:`~digitorn_notify.errors.TimeExpressionError` for any text it
    does not understand, or that names a time already past; the message says why
    and lists the accepted forms.

    >>> from datetime import UTC, datetime
    >>> now = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)
    >>> parse_time_expression("in 5m", now=now, tz="UTC").at.isoformat()
    '2026-03-13T15:35:00+00:00'
    >>> parse_time_expression("tous les lundis à 10h", now=now, tz="Europe/Paris")
    CronSchedule(expression='0 10 * * 1', timezone='Europe/Paris')
    """
    if not isinstance(text, str):
        raise TypeError(f"a time expression is a str, not {type(text).__name__}")
    now = utc(now)
    zone, name = zone_and_name(tz)
    try:
        return _parse(text.strip(), now, zone, name)
    except Reject as exc:
        raise error(text, exc.reason) from None
    except TimeExpressionError:
        raise
    except (OverflowError, ValueError):
        # Date arithmetic past year 9999 ("in 99999 years"): out of range, not a bug.
        raise error(text, "the time is out of range") from None


def _parse(text: str, now: datetime, zone: ZoneInfo, name: str) -> OneShot | Recurring:
    if not text:
        raise Reject("the text is empty")
    if len(text) > MAX_LENGTH:
        raise Reject(f"the text is longer than {MAX_LENGTH} characters")
    if _ISO.fullmatch(text):
        return OneShot(_iso(text, now, zone))
    fields = text.split()
    if (len(fields) == 1 and fields[0].lower() in CRON_ALIASES) or looks_like_cron(fields):
        expression = normalise_cron(text)
        check_cron(expression)
        return CronSchedule(expression, name)
    return resolve(Grammar(tokenise(text)).run(), now, zone, name)


def _iso(text: str, now: datetime, zone: ZoneInfo) -> datetime:
    """ISO 8601 with or without an offset; without one it is read in ``zone``."""
    try:
        # fromisoformat() accepts 'T' and 'Z' only in upper case.
        value = datetime.fromisoformat(text.upper())
    except ValueError:
        raise Reject(f"{text} is not a valid ISO 8601 date and time") from None
    at = localise(value, zone) if value.tzinfo is None else value.astimezone(UTC)
    if at <= now:
        raise Reject(
            f"{at.astimezone(zone):%Y-%m-%d %H:%M} in {zone.key} is already past"
            f" (now is {now.astimezone(zone):%Y-%m-%d %H:%M})"
        )
    return at
