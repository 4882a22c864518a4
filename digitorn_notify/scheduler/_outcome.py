"""What a job does when it fires, and the payload that reports it.

``tool_call`` runs the host's :class:`~digitorn_notify.host.ActionInvoker`,
``llm_prompt`` goes to its :class:`~digitorn_notify.host.PromptSink`, ``notification``
does nothing but deliver. Whatever happens (a result, an exception) becomes a
:class:`~digitorn_notify.payload.ChannelPayload` whose metadata names the job, the
trigger, the time and the run number, as the spec's channel contract asks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from digitorn_notify.host import ActionInvoker, PromptSink
from digitorn_notify.payload import ChannelPayload, Priority
from digitorn_notify.scheduler._timing import RunPlan
from digitorn_notify.scheduler.jobs import ActionType, ScheduledJob, iso

__all__ = ["Outcome", "build_payload", "describe_error", "run_action", "run_metadata"]

#: The longest message delivered; a bigger tool result is cut and says so.
MAX_MESSAGE: Final = 10_000
_MAX_ERROR: Final = 500
_MAX_DEPTH: Final = 32
TRIGGER_TYPE: Final = "scheduler"


@attrs.frozen
class Outcome:
    """The result of a job's action, or the error that replaced it."""

    result: Any = None
    error: str | None = None


def describe_error(exc: BaseException) -> str:
    """``"TypeName: message"``, cut to a readable length."""
    text = str(exc)
    described = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return described if len(described) <= _MAX_ERROR else described[: _MAX_ERROR - 1] + "…"


def run_metadata(job: ScheduledJob, plan: RunPlan, fired_at: datetime) -> dict[str, Any]:
    """The payload metadata of a run (also given to the prompt sink)."""
    metadata: dict[str, Any] = {
        "job_id": job.job_id,
        "trigger_type": TRIGGER_TYPE,
        "timestamp": iso(fired_at),
        "run_count": job.run_count + 1,
        "schedule_type": job.schedule_type,
        "action_type": job.action_type.value,
        "scheduled_for": iso(plan.scheduled_for),
    }
    if job.label:
        metadata["label"] = job.label
    if plan.coalesced:
        metadata["coalesced_runs"] = plan.coalesced
    return metadata


async def run_action(
    job: ScheduledJob,
    *,
    invoker: ActionInvoker | None,
    prompt_sink: PromptSink | None,
    metadata: Mapping[str, Any],
) -> Outcome:
    """Run ``job``'s action; an exception becomes ``Outcome(error=...)``.

    Cancellation is not an ``Exception`` and passes through.
    """
    try:
        if job.action_type is ActionType.TOOL_CALL:
            if invoker is None:
                return Outcome(error="no ActionInvoker was given to the Scheduler")
            assert job.tool_name is not None  # checked when the job was made
            return Outcome(await invoker.invoke(job.tool_name, dict(job.tool_params)))
        if job.action_type is ActionType.LLM_PROMPT:
            if prompt_sink is None:
                return Outcome(error="no PromptSink was given to the Scheduler")
            return Outcome(
                await prompt_sink.submit(job.app_id, job.session_id, job.prompt, dict(metadata))
            )
    except Exception as exc:  # the host's tool failed: reported, never raised
        return Outcome(error=describe_error(exc))
    return Outcome()


def build_payload(job: ScheduledJob, outcome: Outcome, metadata: dict[str, Any]) -> ChannelPayload:
    """The payload that reports a run through the job's output channel."""
    action = job.action_type
    what = job.tool_name if action is ActionType.TOOL_CALL else "prompt"
    title = job.label or (None if action is ActionType.NOTIFICATION else f"Scheduled {what}")
    structured: dict[str, Any] = {"job_id": job.job_id, "action_type": action.value}
    if job.tool_name is not None:
        structured["tool_name"] = job.tool_name
    if outcome.error is not None:
        structured["error"] = outcome.error
        if action is ActionType.TOOL_CALL:
            message = f"Scheduled tool call {job.tool_name} failed: {outcome.error}"
        elif action is ActionType.LLM_PROMPT:
            message = f"Scheduled prompt could not be submitted: {outcome.error}"
        else:
            message = f"Scheduled notification failed: {outcome.error}"
        return ChannelPayload(
            message=message,
            title=title,
            structured_data=structured,
            metadata={**metadata, "error": True},
            priority=Priority.HIGH,
            tags=["scheduler", job.schedule_type, "error"],
        )
    if action is ActionType.NOTIFICATION:
        message = job.prompt
    else:
        structured["result"] = _json_safe(outcome.result)
        text = _as_text(outcome.result)
        if action is ActionType.TOOL_CALL:
            message = text or f"{job.tool_name} returned nothing"
        else:
            message = text or f"Scheduled prompt submitted: {job.prompt}"
    return ChannelPayload(
        message=_cut(message),
        title=title,
        structured_data=structured,
        metadata=metadata,
        tags=["scheduler", job.schedule_type],
    )


_TRUNCATED: Final = "… (truncated)"


def _cut(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    return text[: MAX_MESSAGE - len(_TRUNCATED)] + _TRUNCATED


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON data (payloads may be buffered in a JSON store).

    Containers are walked; anything else that JSON cannot hold (a datetime, an
    infinite float, an object) becomes its ``str``.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {str(key): _json_safe(item, depth + 1) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [_json_safe(item, depth + 1) for item in value]
    return str(value)
