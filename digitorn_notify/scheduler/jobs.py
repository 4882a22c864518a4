"""Scheduled jobs: the stored value, how it is (de)serialised, and what callers see.

A :class:`ScheduledJob` is a frozen attrs value; every state change makes a new one
(``attrs.evolve``) that the scheduler saves before acting on it. It is stored as a
:class:`~digitorn_notify.storage.JobRecord` whose ``data`` is the cattrs
unstructuring of the job, with three rules:

* the fields the record already carries (``job_id``, ``app_id``, ``next_run_at``) are
  not repeated, so the two can never disagree;
* fields at their default are left out, so an idle job costs little memory;
* ``"v"`` records the format version, so a later version can migrate old records.

A record that cannot be read back (a bad field, an unknown key, another format
version) becomes an :class:`UnreadableJob`: shown by ``list`` and ``status`` as
``failed`` with the reason, kept in the store, never silently deleted.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, time, timedelta
from typing import Any, Final, TypeAlias

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.v import format_exception

from digitorn_notify._convert import converter as _base_converter
from digitorn_notify.clock import iso
from digitorn_notify.storage.protocols import JobRecord, unreadable_reason
from digitorn_notify.timeexpr import CronSchedule, IntervalSchedule, OneShot

__all__ = [
    "FORMAT_VERSION",
    "ActionType",
    "JobList",
    "JobStatus",
    "Schedule",
    "ScheduledJob",
    "UnreadableJob",
    "iso",
    "job_from_record",
    "job_to_record",
    "jobs_response",
    "patch_record",
]

#: The version of the ``data`` layout written by this library.
FORMAT_VERSION: Final = 1

#: When a job is due: once, on a cron schedule, or at a fixed interval.
Schedule: TypeAlias = OneShot | CronSchedule | IntervalSchedule


class JobStatus(enum.StrEnum):
    """Where a job is in its life; compares equal to its string value."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Whether the job will never run again (completed, failed or cancelled)."""
        return self in _FINISHED


_FINISHED: Final = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class ActionType(enum.StrEnum):
    """What a job does when it fires."""

    #: Run a host tool through the ``ActionInvoker`` and deliver its result.
    TOOL_CALL = "tool_call"
    #: Start an agent turn through the ``PromptSink`` and deliver what it returns.
    LLM_PROMPT = "llm_prompt"
    #: Deliver ``prompt`` as the message, directly.
    NOTIFICATION = "notification"


def _aware(_instance: object, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    # tzinfo first: it is the whole check for every real zone, and this runs on every
    # job built or read back; utcoffset() only for tzinfos that may answer None.
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError(f"{attribute.name} must be an aware datetime, not {value.isoformat()}")


def schedule_type(schedule: Schedule) -> str:
    """``"once"``, ``"cron"`` or ``"interval"``."""
    if isinstance(schedule, OneShot):
        return "once"
    if isinstance(schedule, CronSchedule):
        return "cron"
    return "interval"


@attrs.frozen(kw_only=True)
class ScheduledJob:
    """One scheduled job: what to do, when, where to report, and what happened so far.

    Built by the :class:`~digitorn_notify.scheduler.Scheduler`'s ``schedule_*``
    methods and ``remember``; read it back with ``status`` and ``list``. Times are
    aware UTC datetimes. ``next_run_at`` is ``None`` once the job is paused or
    finished.
    """

    job_id: str
    app_id: str
    schedule: Schedule
    action_type: ActionType = ActionType.NOTIFICATION
    tool_name: str | None = None
    tool_params: dict[str, Any] = attrs.field(factory=dict)
    prompt: str = ""
    label: str = ""
    #: The session that created the job; deliveries are addressed to it.
    session_id: str | None = None
    output_channel: str = "llm_notification"
    output_config: dict[str, Any] = attrs.field(factory=dict)
    #: Runs after which the job completes; 0 is unlimited (a one-shot runs once).
    max_runs: int = 0
    #: Seconds a run may be late and still run; ``None`` runs it however late.
    misfire_grace: float | None = None
    status: JobStatus = JobStatus.ACTIVE
    created_at: datetime = attrs.field(validator=_aware)
    next_run_at: datetime | None = attrs.field(default=None, validator=_aware)
    run_count: int = 0
    #: Runs whose action raised (or timed out), in total and since the last success.
    failure_count: int = 0
    consecutive_failures: int = 0
    #: Runs not made because they were later than ``misfire_grace``.
    skipped_runs: int = 0
    #: Due times folded into a later run after downtime (a catch-up runs once).
    coalesced_runs: int = 0
    last_run_at: datetime | None = attrs.field(default=None, validator=_aware)
    last_error: str | None = None
    finished_at: datetime | None = attrs.field(default=None, validator=_aware)

    @property
    def schedule_type(self) -> str:
        """``"once"``, ``"cron"`` or ``"interval"``."""
        return schedule_type(self.schedule)

    @property
    def timezone(self) -> str:
        """The IANA zone the schedule is read in (``"UTC"`` for a one-shot)."""
        return "UTC" if isinstance(self.schedule, OneShot) else self.schedule.timezone

    def to_dict(self) -> dict[str, Any]:
        """The spec's answer to ``schedule_once`` / ``schedule_cron`` (see :meth:`to_response`)."""
        return self.to_response()

    def to_response(self) -> dict[str, Any]:
        """What ``schedule_once`` / ``schedule_cron`` answer, in the spec's shape.

        ``job_id``, ``schedule_type``, then ``run_at`` for a one-shot or ``cron``
        (or ``every_seconds``), ``timezone`` and ``next_run_at`` for a recurring job,
        then ``action_type``, ``tool_name`` (tool calls), ``label``,
        ``output_channel``, ``max_runs`` (when set) and ``status``. Times are ISO 8601 UTC.
        """
        response: dict[str, Any] = {"job_id": self.job_id, "schedule_type": self.schedule_type}
        schedule = self.schedule
        if isinstance(schedule, OneShot):
            response["run_at"] = iso(schedule.at)
        else:
            if isinstance(schedule, CronSchedule):
                response["cron"] = schedule.expression
            else:
                response["every_seconds"] = schedule.every.total_seconds()
            response["timezone"] = schedule.timezone
            response["next_run_at"] = None if self.next_run_at is None else iso(self.next_run_at)
        response["action_type"] = self.action_type.value
        if self.tool_name is not None:
            response["tool_name"] = self.tool_name
        response["label"] = self.label
        response["output_channel"] = self.output_channel
        if self.max_runs:
            response["max_runs"] = self.max_runs
        response["status"] = self.status.value
        return response

    def to_summary(self) -> dict[str, Any]:
        """One entry of ``schedule_list``: id, type, label, status, run count, times."""
        summary: dict[str, Any] = {
            "job_id": self.job_id,
            "schedule_type": self.schedule_type,
            "label": self.label,
            "status": self.status.value,
            "run_count": self.run_count,
        }
        if self.next_run_at is not None:
            summary["next_run_at"] = iso(self.next_run_at)
        if self.last_run_at is not None:
            summary["last_run_at"] = iso(self.last_run_at)
        if self.last_error is not None:
            summary["last_error"] = self.last_error
        return summary

    def to_status(self) -> dict[str, Any]:
        """``schedule_status``: the creation response plus every counter and time."""
        detail = self.to_response()
        detail.update(
            app_id=self.app_id,
            session_id=self.session_id,
            prompt=self.prompt,
            tool_params=dict(self.tool_params),
            output_config=dict(self.output_config),
            max_runs=self.max_runs,
            misfire_grace=self.misfire_grace,
            created_at=iso(self.created_at),
            next_run_at=None if self.next_run_at is None else iso(self.next_run_at),
            run_count=self.run_count,
            failure_count=self.failure_count,
            consecutive_failures=self.consecutive_failures,
            skipped_runs=self.skipped_runs,
            coalesced_runs=self.coalesced_runs,
            last_run_at=None if self.last_run_at is None else iso(self.last_run_at),
            last_error=self.last_error,
            finished_at=None if self.finished_at is None else iso(self.finished_at),
        )
        return detail


@attrs.frozen
class UnreadableJob:
    """A stored job this library cannot read back; kept, and shown as ``failed``.

    ``reason`` says which field was wrong (``"... @ $.schedule.kind"``) or which
    format version was found; ``data`` is the record's data as stored. Cancel it
    (it is then removed after the retention period) or delete it once handled.
    """

    job_id: str
    app_id: str
    reason: str
    data: dict[str, Any] = attrs.field(factory=dict)

    @property
    def status(self) -> JobStatus:
        """Always :attr:`JobStatus.FAILED`."""
        return JobStatus.FAILED

    @property
    def last_error(self) -> str:
        """``"cannot be restored: <reason>"``."""
        return f"cannot be restored: {self.reason}"

    @property
    def next_run_at(self) -> None:
        """Never due."""
        return None

    def to_summary(self) -> dict[str, Any]:
        """A ``schedule_list`` entry: id, ``"unknown"`` type, status and error."""
        label = self.data.get("label")
        return {
            "job_id": self.job_id,
            "schedule_type": "unknown",
            "label": label if isinstance(label, str) else "",
            "status": self.status.value,
            "run_count": 0,
            "last_error": self.last_error,
        }

    to_response = to_summary
    to_dict = to_summary

    def to_status(self) -> dict[str, Any]:
        """The summary plus the app and the stored data."""
        return {**self.to_summary(), "app_id": self.app_id, "data": dict(self.data)}


@attrs.frozen
class JobList:
    """What :meth:`Scheduler.list <digitorn_notify.scheduler.Scheduler.list>` returns.

    A sequence of the jobs, oldest first (``for job in listing``, ``listing[0]``,
    ``len(listing)``), whose :meth:`to_dict` is ``schedule_list``'s answer.
    """

    jobs: tuple[ScheduledJob | UnreadableJob, ...] = ()

    def __iter__(self) -> Iterator[ScheduledJob | UnreadableJob]:
        return iter(self.jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> ScheduledJob | UnreadableJob:
        return self.jobs[index]

    @property
    def total(self) -> int:
        """How many jobs are listed."""
        return len(self.jobs)

    def count(self, status: JobStatus | str) -> int:
        """How many listed jobs have ``status``."""
        return sum(1 for job in self.jobs if job.status == status)

    def to_dict(self) -> dict[str, Any]:
        """``jobs`` (summaries), ``total`` and a count per status, as ``schedule_list``."""
        return jobs_response(self.jobs)


def jobs_response(jobs: Iterable[ScheduledJob | UnreadableJob]) -> dict[str, Any]:
    """``schedule_list``'s answer for ``jobs``: ``jobs`` (summaries), ``total`` and a
    count per status. ``JobList.to_dict()`` is this; kept for callers of 0.x."""
    summaries = [job.to_summary() for job in jobs]
    response: dict[str, Any] = {"jobs": summaries, "total": len(summaries)}
    for status in JobStatus:
        response[status.value] = sum(1 for s in summaries if s["status"] == status.value)
    return response


# -- (de)serialisation ------------------------------------------------------------------

_converter = _base_converter.copy()
_converter.register_unstructure_hook(timedelta, timedelta.total_seconds)
_converter.register_structure_hook(
    timedelta, lambda v, _: v if isinstance(v, timedelta) else timedelta(seconds=v)
)
_converter.register_unstructure_hook(time, time.isoformat)
_converter.register_structure_hook(
    time, lambda v, _: v if isinstance(v, time) else time.fromisoformat(v)
)

_SCHEDULE_KEYS: Final = {
    "once": frozenset({"at"}),
    "cron": frozenset({"expression", "timezone"}),
    "interval": frozenset({"every", "start", "timezone", "time_of_day"}),
}


def _datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, not {type(value).__name__}")
    return datetime.fromisoformat(value)


def _unstructure_schedule(schedule: Schedule) -> dict[str, Any]:
    if isinstance(schedule, OneShot):
        return {"kind": "once", "at": schedule.at.isoformat()}
    if isinstance(schedule, CronSchedule):
        return {"kind": "cron", "expression": schedule.expression, "timezone": schedule.timezone}
    data: dict[str, Any] = {
        "kind": "interval",
        "every": schedule.every.total_seconds(),
        "start": schedule.start.isoformat(),
        "timezone": schedule.timezone,
    }
    if schedule.time_of_day is not None:
        data["time_of_day"] = schedule.time_of_day.isoformat()
    return data


def _structure_schedule(value: Any, _type: Any) -> Schedule:
    # By hand: the schedule classes convert their fields with attrs converters that
    # expect datetimes, and a tag says which class is meant more clearly than shapes.
    if not isinstance(value, Mapping):
        raise TypeError(f"a schedule is an object with a 'kind', not {type(value).__name__}")
    kind = value.get("kind")
    if kind not in _SCHEDULE_KEYS:
        raise ValueError(f"schedule kind {kind!r} is not one of: once, cron, interval")
    extra = set(value) - _SCHEDULE_KEYS[kind] - {"kind"}
    if extra:
        raise ValueError(f"unknown schedule field(s) for {kind}: {', '.join(sorted(extra))}")
    if kind == "once":
        return OneShot(_datetime(value["at"]))
    if kind == "cron":
        return CronSchedule(value["expression"], value.get("timezone", "UTC"))
    time_of_day = value.get("time_of_day")
    return IntervalSchedule(
        every=timedelta(seconds=value["every"]),
        start=_datetime(value["start"]),
        timezone=value.get("timezone", "UTC"),
        time_of_day=None if time_of_day is None else time.fromisoformat(time_of_day),
    )


_unstructure_job = make_dict_unstructure_fn(
    ScheduledJob,
    _converter,
    _cattrs_omit_if_default=True,
    job_id=override(omit=True),
    app_id=override(omit=True),
    next_run_at=override(omit=True),
    schedule=override(unstruct_hook=_unstructure_schedule),
)
_structure_job = make_dict_structure_fn(
    ScheduledJob,
    _converter,
    _cattrs_forbid_extra_keys=True,
    schedule=override(struct_hook=_structure_schedule),
)


def job_to_record(
    job: ScheduledJob,
    *,
    lease_owner: str | None = None,
    lease_expires_at: datetime | None = None,
) -> JobRecord:
    """The store record of ``job`` (lease fields as given)."""
    data = _unstructure_job(job)
    data["v"] = FORMAT_VERSION
    return JobRecord(
        job_id=job.job_id,
        app_id=job.app_id,
        data=data,
        next_run_at=job.next_run_at,
        lease_owner=lease_owner,
        lease_expires_at=lease_expires_at,
    )


def _default(attribute: attrs.Attribute[Any]) -> Any:
    factory = getattr(attribute.default, "factory", None)  # an attrs Factory
    return factory() if callable(factory) else attribute.default


_DEFAULTS: Final = {
    a.name: _default(a) for a in attrs.fields(ScheduledJob) if a.default is not attrs.NOTHING
}
#: Fields a run changes, and how each is stored (as cattrs would store it).
_RUN_FIELDS: Final[dict[str, Any]] = {
    "status": lambda v: v.value,
    "run_count": int,
    "failure_count": int,
    "consecutive_failures": int,
    "skipped_runs": int,
    "coalesced_runs": int,
    "last_run_at": datetime.isoformat,
    "last_error": str,
    "finished_at": datetime.isoformat,
}


def patch_record(record: JobRecord, changes: Mapping[str, Any]) -> JobRecord:
    """``record`` with a run's ``changes`` applied, without reading the whole job back.

    Equal to ``job_to_record(attrs.evolve(job, **changes))`` (a test checks it), at a
    fraction of the cost: a run only touches counters, times and the status. The
    result carries no lease. ``next_run_at``, if in ``changes``, goes on the record.
    """
    data = dict(record.data)
    next_run_at = record.next_run_at
    last: tuple[Any, Any] = (None, None)
    for name, value in changes.items():
        if name == "next_run_at":
            next_run_at = value
        elif value == _DEFAULTS[name]:
            data.pop(name, None)
        elif isinstance(value, datetime) and value is last[0]:
            data[name] = last[1]  # a one-shot's run and end are one instant: format it once
        else:
            data[name] = _RUN_FIELDS[name](value)
            if isinstance(value, datetime):
                last = (value, data[name])
    return JobRecord(record.job_id, record.app_id, data, next_run_at)


def job_from_record(record: JobRecord) -> ScheduledJob | UnreadableJob:
    """The job stored in ``record``, or an :class:`UnreadableJob` saying why not."""
    data = record.data
    undecodable = unreadable_reason(data)
    if undecodable is not None:  # the store could not decode the row (a torn write...)
        return UnreadableJob(record.job_id, record.app_id, undecodable, data)
    version = data.get("v")
    if version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        why = "a newer version of digitorn_notify wrote it" if newer else "unknown format"
        return UnreadableJob(
            record.job_id,
            record.app_id,
            f"format version {version!r}, this version reads {FORMAT_VERSION} ({why})",
            data,
        )
    fields = {key: value for key, value in data.items() if key != "v"}
    fields["job_id"] = record.job_id
    fields["app_id"] = record.app_id
    fields["next_run_at"] = record.next_run_at
    try:
        job: ScheduledJob = _structure_job(fields, ScheduledJob)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        if isinstance(exc, cattrs.BaseValidationError):
            lines = cattrs.transform_error(exc, path="$", format_exception=_explain)
        else:
            lines = [f"{_explain(exc, None)} @ $"]
        return UnreadableJob(record.job_id, record.app_id, "; ".join(lines), data)
    return job


def _explain(exc: BaseException, type_: Any) -> str:
    # Our hooks and the schedule classes say what was wrong ("unknown time zone
    # 'Mars/Base'"); cattrs' default would reduce that to "invalid value for type".
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return f"invalid value ({exc})"
    return format_exception(exc, type_)
