"""When a job runs: its first due time, and what to do when a run comes due, maybe late.

Pure functions of a schedule and two instants, so the rules are tested exhaustively
(``tests/scheduler/test_timing.py``, with hypothesis) apart from any event loop:

* **Catch-up runs once.** A recurring job found due after downtime runs once, for
  the latest due time that has passed; the earlier ones are *coalesced* into it and
  counted. The next run is the first due time after *now*, so 50 missed runs give one
  run, not 50.
* **Misfire grace.** With ``misfire_grace`` set, a run whose latest due time is
  more than that many seconds past is skipped instead (and counted); without it, a
  run is made however late.
* **Strictly forward.** Every next due time is strictly after the one that came due,
  so a DST change can never make a job run twice for one due time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import attrs

from digitorn_notify.scheduler.jobs import Schedule
from digitorn_notify.timeexpr import IntervalSchedule, OneShot

__all__ = ["RunPlan", "first_run_at", "plan_run"]

#: Due times counted one by one when catching up; past this the count says "at least".
MAX_COUNTED: Final = 1000
_ZERO: Final = timedelta(0)


@attrs.frozen
class RunPlan:
    """What to do with a run that came due.

    ``scheduled_for`` is the due time the run stands for (the latest one passed),
    ``late_by`` how far past it ``now`` is, ``coalesced`` how many earlier due times
    were folded into it (at most :data:`MAX_COUNTED`), and ``next_run_at`` the first
    due time strictly after ``now`` (``None`` for a one-shot).
    """

    run: bool
    scheduled_for: datetime
    late_by: timedelta
    coalesced: int
    next_run_at: datetime | None


def first_run_at(schedule: Schedule, now: datetime) -> datetime:
    """A new job's first due time: a one-shot's time, an interval's start, else after ``now``."""
    if isinstance(schedule, OneShot):
        return schedule.at
    if isinstance(schedule, IntervalSchedule) and schedule.start >= now:
        return schedule.start
    return schedule.next_after(now)


def plan_run(
    schedule: Schedule, due: datetime, now: datetime, misfire_grace: float | None
) -> RunPlan:
    """The plan for a run due at ``due``, looked at ``now`` (``due <= now``)."""
    if isinstance(schedule, OneShot):
        late = max(now - due, _ZERO)
        return RunPlan(_in_grace(late, misfire_grace), due, late, 0, None)
    latest, coalesced = due, 0
    following = schedule.next_after(due)
    while following <= now:
        coalesced += 1
        if coalesced >= MAX_COUNTED:
            latest = _latest_before(schedule, now, following)
            following = schedule.next_after(now)
            break
        latest = following
        following = schedule.next_after(following)
    late = max(now - latest, _ZERO)
    return RunPlan(_in_grace(late, misfire_grace), latest, late, coalesced, following)


def _in_grace(late: timedelta, misfire_grace: float | None) -> bool:
    return misfire_grace is None or late.total_seconds() <= misfire_grace


def _latest_before(schedule: Schedule, now: datetime, known: datetime) -> datetime:
    """The latest due time at or before ``now``, given one (``known``) that is.

    Looks back over windows that double from one second, so a job down for years
    costs a few dozen ``next_after`` calls rather than one per missed run.
    """
    assert not isinstance(schedule, OneShot)
    window = timedelta(seconds=1)
    while now - window > known:
        candidate = schedule.next_after(now - window)
        if candidate <= now:
            known = candidate
            break
        window *= 2
    following = schedule.next_after(known)
    while following <= now:
        known, following = following, schedule.next_after(following)
    return known
