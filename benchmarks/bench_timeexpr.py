"""How fast is parse_time_expression, against a baseline measured in the same run?

Run: ``.venv/bin/python benchmarks/bench_timeexpr.py``

* Per expression of a mixed English/French list, the best-of-5 mean of many
  calls; the figure reported is the median over the list (target: 50 us).
* "warm" is the steady state: cron validation is memoised, as it is in a
  long-running scheduler. "cold" empties that memo before every call, the cost
  of the first sight of a new cron.
* The baseline is ``datetime.fromisoformat`` on ISO text (and dateutil's
  ``isoparse``), so the ratio means the same on a slow or a fast machine.
* If ``dateparser`` is installed, it is timed on the one-off subset with the
  same reference time and zone, and both parsers are scored against the
  expected instants.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from dateutil.parser import isoparse

from digitorn_notify.timeexpr import OneShot, parse_time_expression
from digitorn_notify.timeexpr._cron import _cron_problem  # the memo, to measure a cold run

ZONE = "Europe/Paris"
NOW = datetime(2026, 3, 13, 16, 30, tzinfo=ZoneInfo(ZONE))  # Friday

# One-off expressions and the instant each means at NOW in Paris (hand-checked).
ONE_OFF = {
    "in 5m": "2026-03-13T16:35+01:00",
    "in 2 hours": "2026-03-13T18:30+01:00",
    "in 1 hour and 30 minutes": "2026-03-13T18:00+01:00",
    "in 3 weeks": "2026-04-03T16:30+02:00",
    "in 10 seconds": "2026-03-13T16:30:10+01:00",
    "tomorrow at 9am": "2026-03-14T09:00+01:00",
    "next friday at 12pm": "2026-03-20T12:00+01:00",
    "at 17:30": "2026-03-13T17:30+01:00",
    "today at 6pm": "2026-03-13T18:00+01:00",
    "April 1st at 9am": "2026-04-01T09:00+02:00",
    "dans 30 minutes": "2026-03-13T17:00+01:00",
    "dans 1h30": "2026-03-13T18:00+01:00",
    "dans 2 jours à 9h": "2026-03-15T09:00+01:00",
    "demain à 9h": "2026-03-14T09:00+01:00",
    "demain midi": "2026-03-14T12:00+01:00",
    "après-demain à 10h": "2026-03-15T10:00+01:00",
    "lundi prochain à 14h30": "2026-03-16T14:30+01:00",
    "le 1er avril à 9h": "2026-04-01T09:00+02:00",
    "à minuit": "2026-03-14T00:00+01:00",
    "2026-03-30 09:00": "2026-03-30T09:00+02:00",
    "2026-03-30T09:00:00+02:00": "2026-03-30T09:00+02:00",
}
RECURRING = [
    "every day at 9am",
    "every Monday at 10am",
    "every weekday at 8:15",
    "every 2 hours",
    "every 90 minutes",
    "every Sunday at midnight",
    "tous les lundis à 10h",
    "tous les mardis et jeudis à 18h30",
    "du lundi au vendredi à 8h15",
    "toutes les 15 minutes",
    "le 1er de chaque mois à 9h",
    "chaque jour à 9h",
    "*/5 * * * *",
    "0 9 * * 1-5",
]
MIXED = [*ONE_OFF, *RECURRING]
ISO_TEXTS = ["2026-03-30T09:00:00+02:00", "2026-03-30T09:00:00", "2026-03-14T09:00:00+00:00"]


def per_call(function: Callable[[], object], number: int = 300) -> float:
    """Seconds per call: the best of 5 means, to shed scheduler noise."""
    return min(timeit.repeat(function, number=number, repeat=5)) / number


def parse(text: str) -> Callable[[], object]:
    return partial(parse_time_expression, text, now=NOW, tz=ZONE)


def cold(text: str) -> Callable[[], object]:
    def run() -> object:
        _cron_problem.cache_clear()
        return parse_time_expression(text, now=NOW, tz=ZONE)

    return run


def median_us(functions: list[Callable[[], object]], number: int = 300) -> float:
    return statistics.median(per_call(function, number) for function in functions) * 1e6


def score_ours() -> int:
    right = 0
    for text, expected in ONE_OFF.items():
        result = parse_time_expression(text, now=NOW, tz=ZONE)
        right += isinstance(result, OneShot) and result.at == datetime.fromisoformat(expected)
    return right


def dateparser_section(ours_one_off: float) -> None:
    try:
        import dateparser  # noqa: PLC0415 - optional, measured only when installed
    except ImportError:
        print("dateparser: not installed (pip install dateparser to compare)")
        return
    settings = {
        "RELATIVE_BASE": NOW.replace(tzinfo=None),
        "TIMEZONE": ZONE,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "future",
    }

    def theirs(text: str) -> datetime | None:
        return dateparser.parse(text, languages=["en", "fr"], settings=settings)  # type: ignore[arg-type]

    theirs("in 5m")  # first call loads its language data; not what we measure
    right = 0
    for text, expected in ONE_OFF.items():
        found = theirs(text)
        right += found is not None and found.astimezone(UTC) == datetime.fromisoformat(expected)
    elapsed = median_us([partial(theirs, text) for text in ONE_OFF], number=20)
    print(
        f"dateparser {getattr(dateparser, '__version__', '?')}, one-off subset:"
        f" median {elapsed:8.1f} us  ({elapsed / ours_one_off:.0f}x ours),"
        f" right {right}/{len(ONE_OFF)}; ours right {score_ours()}/{len(ONE_OFF)}"
    )


def main() -> int:
    fromiso = median_us([partial(datetime.fromisoformat, text) for text in ISO_TEXTS])
    dateutil = median_us([partial(isoparse, text) for text in ISO_TEXTS])
    warm = median_us([parse(text) for text in MIXED])
    cold_all = median_us([cold(text) for text in MIXED], number=50)
    cold_recurring = median_us([cold(text) for text in RECURRING], number=50)
    one_off = median_us([parse(text) for text in ONE_OFF])
    print(f"python {sys.version.split()[0]}; {len(MIXED)} expressions, {len(ONE_OFF)} one-off")
    print(f"baseline datetime.fromisoformat       median {fromiso:8.2f} us")
    print(f"baseline dateutil isoparse            median {dateutil:8.2f} us")
    print(
        f"parse_time_expression, mixed, warm    median {warm:8.2f} us"
        f"  = {warm / fromiso:5.1f}x fromisoformat, {warm / dateutil:4.1f}x isoparse"
    )
    print(f"parse_time_expression, one-off        median {one_off:8.2f} us")
    print(
        f"parse_time_expression, mixed, cold    median {cold_all:8.2f} us"
        f"  (recurring only: {cold_recurring:.1f} us, croniter validation)"
    )
    print(f"target: median <= 50 us (warm): {'met' if warm <= 50 else 'MISSED'}")
    dateparser_section(one_off)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
