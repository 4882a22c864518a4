"""Turning what a caller asks for into a valid :class:`ScheduledJob`, or a clear error.

Everything is checked before anything is stored: a request that fails here creates
nothing. Errors are :class:`~digitorn_notify.errors.InvalidJobError` naming the
parameter and what is accepted; text that is not a time is the parser's
:class:`~digitorn_notify.errors.TimeExpressionError` (both are ``ValueError``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from digitorn_notify._limits import MAX_DEPTH, too_deep
from digitorn_notify.clock import utc
from digitorn_notify.errors import InvalidJobError
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
    "check_action",
    "check_grace",
    "check_id",
    "check_json",
    "check_max_runs",
    "interval_schedule",
    "once_schedule",
    "recurring_schedule",
    "schedule_for",
]

#: What ``when`` may be: text, an aware datetime, a delay, or an already parsed value.
When = str | datetime | timedelta | OneShot | CronSchedule | IntervalSchedule

#: A one-shot time this close to the past is "now" (the call itself takes time).
PAST_TOLERANCE: Final = timedelta(seconds=1)
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
_ACTIONS: Final = ", ".join(a.value for a in ActionType)


def check_id(value: object, name: str) -> str:
    """A job or app id: 1-128 letters, digits, ``_ . : -``, starting alphanumeric."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidJobError(
            f"{name} {value!r} is not valid: use 1 to 128 letters, digits, '_', '.', ':'"
            " or '-', starting with a letter or digit"
        )
    return value


def check_action(
    action_type: object,
    *,
    tool_name: object,
    prompt: object,
    has_invoker: bool,
    has_prompt_sink: bool,
) -> ActionType:
    """The action type, after checking it has what it needs to run."""
    try:
        action = ActionType(action_type)  # type: ignore[arg-type]  # checked right here
    except ValueError:
        raise InvalidJobError(f"action_type {action_type!r} is not one of: {_ACTIONS}") from None
    if not isinstance(prompt, str):
        raise InvalidJobError(f"prompt must be a str, not {type(prompt).__name__}")
    if action is ActionType.TOOL_CALL:
        if not isinstance(tool_name, str) or not tool_name.strip():
            raise InvalidJobError(
                "a tool_call job needs tool_name, the host tool to run (e.g. 'http.get')"
            )
        if not has_invoker:
            raise InvalidJobError(
                "this Scheduler has no ActionInvoker, so it cannot run tool_call jobs;"
                " pass invoker= when creating it"
            )
    elif tool_name is not None:
        raise InvalidJobError(f"tool_name only applies to tool_call jobs, not {action.value}")
    if action is ActionType.LLM_PROMPT and not has_prompt_sink:
        raise InvalidJobError(
            "this Scheduler has no PromptSink, so it cannot run llm_prompt jobs;"
            " pass prompt_sink= when creating it"
        )
    if action is not ActionType.TOOL_CALL and not prompt.strip():
        raise InvalidJobError(f"a {action.value} job needs prompt, the message it carries")
    return action


def check_json(value: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """A mapping that survives a JSON store (jobs are persisted)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidJobError(f"{name} must be a mapping, not {type(value).__name__}")
    copy = dict(value)
    if too_deep(copy):
        raise InvalidJobError(f"{name} is nested deeper than {MAX_DEPTH} levels")
    if copy:
        try:
            json.dumps(copy, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidJobError(
                f"{name} must be JSON-serialisable (jobs are stored): {exc}"
            ) from None
    return copy


def check_max_runs(value: object) -> int:
    """0 (unlimited) or a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidJobError(f"max_runs must be an int >= 0 (0 is unlimited), not {value!r}")
    return value


def check_grace(value: object) -> float | None:
    """``None`` (run however late) or seconds >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidJobError(
            f"misfire_grace must be None (run however late) or seconds >= 0, not {value!r}"
        )
    return float(value)


def schedule_for(when: When, *, now: datetime, tz: str) -> Schedule:
    """Any ``when`` as a schedule: text is parsed in ``tz``; a delay counts from ``now``."""
    if isinstance(when, OneShot | CronSchedule | IntervalSchedule):
        return when
    if isinstance(when, str):
        return parse_time_expression(when, now=now, tz=tz)
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise InvalidJobError(
                f"when {when.isoformat()} has no timezone: pass an aware datetime,"
                " or ISO text with an offset"
            )
        return OneShot(utc(when))
    if isinstance(when, timedelta):
        if when < timedelta(0):
            raise InvalidJobError(f"when, as a delay, must not be negative (got {when})")
        return OneShot(now + when)
    raise InvalidJobError(
        "when must be a time expression (str), an aware datetime, a timedelta or a"
        f" parsed schedule, not {type(when).__name__}"
    )


def once_schedule(when: When, *, now: datetime, tz: str) -> OneShot:
    """A one-off time that is not (more than a moment) in the past."""
    schedule = schedule_for(when, now=now, tz=tz)
    if not isinstance(schedule, OneShot):
        raise InvalidJobError(
            f"when {_show(when)} is recurring; use schedule_cron (or remember) for it"
        )
    if schedule.at < now - PAST_TOLERANCE:
        raise InvalidJobError(
            f"when {schedule.at.isoformat()} is already past (now is {now.isoformat()});"
            " a one-shot job needs a time in the future"
        )
    return schedule


def recurring_schedule(cron: When, *, now: datetime, tz: str) -> CronSchedule | IntervalSchedule:
    """A 5-field cron, or recurring text ("every day at 9am", "tous les lundis à 10h")."""
    schedule = schedule_for(cron, now=now, tz=tz)
    if isinstance(schedule, OneShot):
        raise InvalidJobError(
            f"{_show(cron)} is a one-off time; use schedule_once (or remember) for it"
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
            f"every must be a timedelta or a number of seconds, not {type(every).__name__}"
        )
    step = every if isinstance(every, timedelta) else timedelta(seconds=every)
    if step <= timedelta(0):
        raise InvalidJobError(f"every must be positive, not {every!r}")
    if start is None:
        start = now + step
    elif not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
        raise InvalidJobError("start must be an aware datetime (or None: one step from now)")
    return IntervalSchedule(every=step, start=utc(start), timezone=tz)


def _show(when: When) -> str:
    return repr(when) if isinstance(when, str) else type(when).__name__


def build_job(
    schedule: Schedule,
    *,
    now: datetime,
    job_id: str,
    app_id: str,
    session_id: str | None,
    action_type: object,
    tool_name: str | None,
    tool_params: Mapping[str, Any] | None,
    prompt: str,
    label: str,
    output_channel: str,
    output_config: Mapping[str, Any] | None,
    max_runs: int,
    misfire_grace: float | None,
    has_invoker: bool,
    has_prompt_sink: bool,
) -> ScheduledJob:
    """A new, active job, every parameter checked; its first run computed from ``now``."""
    check_id(app_id, "app_id")
    check_id(job_id, "job_id")
    if session_id is not None and not isinstance(session_id, str):
        raise InvalidJobError(f"session_id must be a str, not {type(session_id).__name__}")
    if not isinstance(label, str):
        raise InvalidJobError(f"label must be a str, not {type(label).__name__}")
    if not isinstance(output_channel, str) or not output_channel.strip():
        raise InvalidJobError(f"output_channel must be a channel name, not {output_channel!r}")
    action = check_action(
        action_type,
        tool_name=tool_name,
        prompt=prompt,
        has_invoker=has_invoker,
        has_prompt_sink=has_prompt_sink,
    )
    return ScheduledJob(
        job_id=job_id,
        app_id=app_id,
        schedule=schedule,
        action_type=action,
        tool_name=tool_name,
        tool_params=check_json(tool_params, "tool_params"),
        prompt=prompt,
        label=label,
        session_id=session_id,
        output_channel=output_channel,
        output_config=check_json(output_config, "output_config"),
        max_runs=check_max_runs(max_runs),
        misfire_grace=check_grace(misfire_grace),
        created_at=now,
        next_run_at=first_run_at(schedule, now),
    )
