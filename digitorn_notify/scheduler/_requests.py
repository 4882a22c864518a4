"""Turning a caller's *when* into a schedule, and a checked request into a new job.

Everything is checked before anything is stored: a request that fails here creates
nothing. Errors are :class:`~digitorn_notify.errors.InvalidJobError` (a
:class:`~digitorn_notify.errors.ConfigError`) whose ``path`` names the argument;
text that is not a time is the parser's
:class:`~digitorn_notify.errors.TimeExpressionError`, with ``path`` set the same way.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

from digitorn_notify.clock import utc
from digitorn_notify.errors import InvalidJobError, TimeExpressionError
from digitorn_notify.scheduler._spec import JobSpec
from digitorn_notify.scheduler._timing import first_run_at
from digitorn_notify.scheduler.jobs import ActionType, Schedule, ScheduledJob
from digitorn_notify.timeexpr import (
    CronSchedule,
    IntervalSchedule,
    OneShot,
    parse_time_expression,
)

__all__ = [
    "PAST_TOLERANCE",
    "When",
    "build_job",
    "interval_schedule",
    "once_schedule",
    "recurring_schedule",
    "schedule_for",
]

#: What ``when`` may be: text, an aware datetime, a delay, or an already parsed value.
When = str | datetime | timedelta | OneShot | CronSchedule | IntervalSchedule

#: A one-shot time this close to the past is "now" (the call itself takes time).
PAST_TOLERANCE: Final = timedelta(seconds=1)


def schedule_for(when: When, *, now: datetime, tz: str, path: str = "when") -> Schedule:
    """Any ``when`` as a schedule: text is parsed in ``tz``; a delay counts from ``now``.

    Errors name ``path``, the argument ``when`` came in.
    """
    if isinstance(when, OneShot | CronSchedule | IntervalSchedule):
        return when
    if isinstance(when, str):
        try:
            return parse_time_expression(when, now=now, tz=tz)
        except TimeExpressionError as exc:
            raise exc.with_prefix(path) from None
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise InvalidJobError(
                f"{when.isoformat()} has no timezone: pass an aware datetime,"
                " or ISO text with an offset",
                path=path,
            )
        return OneShot(utc(when))
    if isinstance(when, timedelta):
        if when < timedelta(0):
            raise InvalidJobError(f"a delay must not be negative (got {when})", path=path)
        return OneShot(now + when)
    raise InvalidJobError(
        "expected a time expression (str), an aware datetime, a timedelta or a"
        f" parsed schedule, got {type(when).__name__}",
        path=path,
    )


def once_schedule(when: When, *, now: datetime, tz: str) -> OneShot:
    """A one-off time that is not (more than a moment) in the past."""
    schedule = schedule_for(when, now=now, tz=tz)
    if not isinstance(schedule, OneShot):
        raise InvalidJobError(
            f"{_show(when)} is recurring; use schedule_cron (or remember) for it", path="when"
        )
    if schedule.at < now - PAST_TOLERANCE:
        raise InvalidJobError(
            f"{schedule.at.isoformat()} is already past (now is {now.isoformat()});"
            " a one-shot job needs a time in the future",
            path="when",
        )
    return schedule


def recurring_schedule(cron: When, *, now: datetime, tz: str) -> CronSchedule | IntervalSchedule:
    """A 5-field cron, or recurring text ("every day at 9am", "tous les lundis à 10h")."""
    schedule = schedule_for(cron, now=now, tz=tz, path="cron")
    if isinstance(schedule, OneShot):
        raise InvalidJobError(
            f"{_show(cron)} is a one-off time; use schedule_once (or remember) for it",
            path="cron",
        )
    return schedule


def interval_schedule(
    every: timedelta | float,
    *,
    start: datetime | None,
    now: datetime,
    tz: str,
) -> IntervalSchedule:
    """Every ``every`` (a timedelta or seconds) from ``start`` (default: one step from now)."""
    if isinstance(every, bool) or not isinstance(every, timedelta | int | float):
        raise InvalidJobError(
            f"expected a timedelta or a number of seconds, got {type(every).__name__}",
            path="every",
        )
    if isinstance(every, float) and not math.isfinite(every):
        raise InvalidJobError(f"expected a finite number of seconds, got {every!r}", path="every")
    step = every if isinstance(every, timedelta) else timedelta(seconds=every)
    if step <= timedelta(0):
        raise InvalidJobError(f"must be positive, got {every!r}", path="every")
    if start is None:
        start = now + step
    elif not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
        raise InvalidJobError(
            "expected an aware datetime (or None: one step from now)", path="start"
        )
    return IntervalSchedule(every=step, start=utc(start), timezone=tz)


def _show(when: When) -> str:
    return repr(when) if isinstance(when, str) else type(when).__name__


def build_job(
    schedule: Schedule,
    spec: JobSpec,
    *,
    now: datetime,
    job_id: str,
    output_channel: str,
    has_invoker: bool,
    has_prompt_sink: bool,
) -> ScheduledJob:
    """A new, active job from a checked ``spec``; its first run computed from ``now``.

    What ``spec`` cannot know is checked here: whether this scheduler can run the action.
    """
    if spec.action_type is ActionType.TOOL_CALL and not has_invoker:
        raise InvalidJobError(
            "this Scheduler has no ActionInvoker, so it cannot run tool_call jobs;"
            " pass invoker= when creating it",
            path="action_type",
        )
    if spec.action_type is ActionType.LLM_PROMPT and not has_prompt_sink:
        raise InvalidJobError(
            "this Scheduler has no PromptSink, so it cannot run llm_prompt jobs;"
            " pass prompt_sink= when creating it",
            path="action_type",
        )
    return ScheduledJob(
        job_id=job_id,
        app_id=spec.app_id,
        schedule=schedule,
        action_type=spec.action_type,
        tool_name=spec.tool_name,
        tool_params=spec.tool_params,
        prompt=spec.prompt,
        label=spec.label,
        session_id=spec.session_id,
        output_channel=output_channel,
        output_config=spec.output_config,
        max_runs=spec.max_runs,
        misfire_grace=spec.misfire_grace,
        created_at=now,
        next_run_at=first_run_at(schedule, now),
    )
