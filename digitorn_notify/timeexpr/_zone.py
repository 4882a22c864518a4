"""Time zones: naming them, and turning a local wall-clock time into an instant.

One rule for local times that do not map to exactly one instant (PEP 495's
``fold=0`` does precisely this, which is why it is used rather than re-implemented):

* a time in a DST gap (02:30 on a spring-forward night) moves forward by the
  length of the gap (03:30);
* an ambiguous time (01:30 on a fall-back night in New York) is its first
  occurrence (daylight time).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digitorn_notify.errors import TimeExpressionError


def zone_and_name(tz: str | ZoneInfo) -> tuple[ZoneInfo, str]:
    """The zone and its IANA name for ``tz``; an unknown name is a TimeExpressionError."""
    if isinstance(tz, ZoneInfo):
        if tz.key is None:
            # A zone read from a file has no name, and schedules store the name.
            raise TimeExpressionError(
                "a ZoneInfo without a key (ZoneInfo.from_file) cannot be stored in a"
                " schedule; pass an IANA name such as 'Europe/Paris'"
            )
        return tz, tz.key
    if not isinstance(tz, str):
        raise TypeError(f"tz must be an IANA zone name or a ZoneInfo, not {type(tz).__name__}")
    return zone_named(tz), tz


def zone_named(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, with a clear TimeExpressionError for a name that is not a zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: some platforms answer a directory name ("Europe") with IsADirectoryError.
        raise TimeExpressionError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris',"
            " 'America/New_York' or 'UTC'"
        ) from None


def localise(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of the naive local time ``wall`` in ``zone`` (gap forward, fold first)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def wall_clock(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall-clock time of the aware ``instant`` in ``zone``."""
    # fold is dropped: arithmetic on the result is on wall time, and localise() decides.
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)
