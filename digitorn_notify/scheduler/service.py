"""``Scheduler``: persistent one-shot, cron, interval and "remember" jobs.

Run it as an async context manager inside the host's event loop::

    async with Scheduler(registry, store=SQLiteStore("notify.db"), invoker=tools) as scheduler:
        job = await scheduler.schedule_once("in 5m", app_id="app", prompt="stand up")

How it keeps time: the scheduler keeps an index of when each job it knows is next
due and sleeps (on the injected clock) until the earliest; adding an earlier job
wakes it. Nothing polls: an idle scheduler whose next job is tomorrow sleeps until
tomorrow. When it wakes, the *store* decides what is due, and leases it, so several
processes sharing one store run each due job once. See ``docs/scheduler.md``.
"""

from __future__ import annotations

import builtins
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any, Final

import anyio
import anyio.abc

from digitorn_notify.channels._choice import (
    DefaultChannel,
    check_default_channel,
    check_output_channel,
    default_channel_for,
)
from digitorn_notify.channels.registry import ChannelRegistry
from digitorn_notify.clock import Clock
from digitorn_notify.errors import ConfigError, InvalidJobError, SchedulerError
from digitorn_notify.host import ActionInvoker, PromptSink, as_action_invoker, as_prompt_sink
from digitorn_notify.scheduler._book import JobBook, cancelled, new_job_id, paused, resumed
from digitorn_notify.scheduler._firing import Firer, lease_margin
from digitorn_notify.scheduler._locks import JobLocks
from digitorn_notify.scheduler._requests import (
    When,
    build_job,
    interval_schedule,
    once_schedule,
    recurring_schedule,
    schedule_for,
)
from digitorn_notify.scheduler._runner import Runner
from digitorn_notify.scheduler._spec import JobSpec, job_spec
from digitorn_notify.scheduler.jobs import (
    ActionType,
    JobList,
    JobStatus,
    Schedule,
    ScheduledJob,
    UnreadableJob,
    job_from_record,
)
from digitorn_notify.storage.memory import MemoryStore
from digitorn_notify.storage.protocols import JobStore
from digitorn_notify.timeexpr import OneShot
from digitorn_notify.timeexpr._zone import zone_named

__all__ = ["Scheduler"]

logger = logging.getLogger("digitorn_notify.scheduler")

#: ``remember`` labels a job with ``what``, cut to this many characters.
_LABEL_FROM_WHAT: Final = 100

AnyJob = ScheduledJob | UnreadableJob


class Scheduler:
    """Persistent scheduled jobs that fire on time, once, and survive restarts.

    ``registry`` delivers each run's outcome. ``store`` keeps the jobs
    (default: a :class:`~digitorn_notify.storage.MemoryStore`; a
    :class:`~digitorn_notify.storage.SQLiteStore` survives restarts and may be shared
    by several processes). ``invoker`` runs ``tool_call`` jobs, ``prompt_sink``
    ``llm_prompt`` jobs (plain async functions are accepted for both). ``clock``
    defaults to the registry's. ``timezone`` is the IANA zone time expressions and
    cron are read in when a job names none. ``default_channel`` is the output channel
    of jobs that name none, read when the job is created: a channel name, or a
    function of the app id returning one (``None`` for ``llm_notification``).

    ``max_concurrent`` runs may be in progress at once. A run's action is cancelled
    after ``fire_timeout`` seconds and reported as failed; ``lease_seconds``
    (default ``fire_timeout + 300``) is how long the store keeps a job leased to
    this process while it runs it, which bounds how late a crashed process's job is
    taken over. Completed, failed and cancelled jobs are kept for ``retention``
    (``None``: forever). ``sync_interval`` (seconds) makes the scheduler look at the
    store that often for jobs other processes added; leave it ``None`` when this
    process is the only one adding jobs.
    """

    def __init__(
        self,
        registry: ChannelRegistry,
        *,
        store: JobStore | None = None,
        invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]] | None = None,
        prompt_sink: PromptSink | Callable[..., Awaitable[Any]] | None = None,
        clock: Clock | None = None,
        timezone: str = "UTC",
        default_channel: DefaultChannel = "llm_notification",
        max_concurrent: int = 100,
        fire_timeout: float = 300.0,
        lease_seconds: float | None = None,
        retention: timedelta | None = timedelta(days=7),
        sync_interval: float | None = None,
        owner: str | None = None,
    ) -> None:
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise ConfigError(f"must be an int, not {max_concurrent!r}", path="max_concurrent")
        if max_concurrent < 1:
            raise ConfigError(f"must be an int >= 1, not {max_concurrent!r}", path="max_concurrent")
        if not fire_timeout > 0:
            raise ConfigError(f"must be > 0 seconds, not {fire_timeout!r}", path="fire_timeout")
        lease = fire_timeout + 300.0 if lease_seconds is None else lease_seconds
        if not lease > fire_timeout + lease_margin(lease):
            raise ConfigError(
                f"must exceed fire_timeout ({fire_timeout:g} s) by more than"
                f" {lease_margin(lease):g} s: runs stop that long before their lease ends,"
                " and the action alone may take fire_timeout",
                path="lease_seconds",
            )
        if retention is not None and retention < timedelta(0):
            raise ConfigError("must be None (keep forever) or >= 0", path="retention")
        if sync_interval is not None and not sync_interval > 0:
            raise ConfigError("must be None or > 0 seconds", path="sync_interval")
        try:
            zone_named(timezone)
        except ConfigError as exc:
            raise exc.with_prefix("timezone") from None
        self.registry = registry
        self.store: JobStore = store if store is not None else MemoryStore()
        self.clock: Clock = clock or registry.clock
        self.timezone = timezone
        self.default_channel: DefaultChannel = check_default_channel(default_channel)
        self.max_concurrent = max_concurrent
        self.fire_timeout = float(fire_timeout)
        self.lease_seconds = float(lease)
        self.retention = retention
        self.sync_interval = sync_interval
        #: Who holds this scheduler's leases in the store (unique per instance).
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._invoker = None if invoker is None else as_action_invoker(invoker)
        self._prompt_sink = None if prompt_sink is None else as_prompt_sink(prompt_sink)
        locks = JobLocks()
        self._book = JobBook(self.store, locks)
        firer = Firer(
            store=self.store,
            registry=registry,
            clock=self.clock,
            locks=locks,
            owner=self.owner,
            invoker=self._invoker,
            prompt_sink=self._prompt_sink,
            fire_timeout=self.fire_timeout,
        )
        self._ready = firer.ready
        self._runner = Runner(
            store=self.store,
            clock=self.clock,
            firer=firer,
            book=self._book,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            max_concurrent=max_concurrent,
            retention=retention,
            sync_interval=sync_interval,
        )
        self._stack: AsyncExitStack | None = None
        self._group: anyio.abc.TaskGroup | None = None

    @property
    def running(self) -> bool:
        """Whether the scheduler is started (inside ``async with``)."""
        return self._group is not None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Scheduler:
        """Reload the jobs from the store (catching up missed runs) and start firing."""
        if self._stack is not None:
            raise SchedulerError("this Scheduler is already running")
        async with AsyncExitStack() as stack:
            group = await stack.enter_async_context(anyio.create_task_group())
            await self._runner.restore()
            group.start_soon(self._runner.run, group, name="digitorn_notify scheduler")
            self._group = group
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        """Stop. Runs in progress are cancelled and will run again at the next start."""
        stack, group = self._stack, self._group
        if stack is None or group is None:
            raise SchedulerError("the Scheduler is not running")
        self._stack = self._group = None
        group.cancel_scope.cancel()
        try:
            return await stack.__aexit__(*exc_info)
        except BaseExceptionGroup as grouped:
            # The host's own exception, raised inside our task group, comes back
            # wrapped; give it back as it was raised.
            if len(grouped.exceptions) == 1 and grouped.exceptions[0] is exc_info[1]:
                return False
            raise

    # -- creating jobs ---------------------------------------------------------------------

    async def schedule_once(
        self,
        when: When,
        *,
        app_id: str,
        session_id: str | None = None,
        action_type: ActionType | str = ActionType.NOTIFICATION,
        tool_name: str | None = None,
        tool_params: Mapping[str, Any] | None = None,
        prompt: str = "",
        label: str = "",
        output_channel: str | None = None,
        output_config: Mapping[str, Any] | None = None,
        misfire_grace: float | None = None,
        timezone: str | None = None,
        job_id: str | None = None,
        replace_existing: bool = False,
    ) -> ScheduledJob:
        """Run once at ``when``: "in 5m", "demain à 9h", ISO text, an aware datetime
        or a ``timedelta`` from now. A time already past is refused.

        ``action_type`` is ``"notification"`` (deliver ``prompt``), ``"tool_call"``
        (run ``tool_name`` with ``tool_params``, deliver the result) or
        ``"llm_prompt"`` (submit ``prompt`` to the prompt sink). The outcome goes to
        ``output_channel`` (refused at once if the app has no such channel) with
        ``output_config``, addressed to ``session_id``. Give ``job_id`` to name the
        job yourself (with ``replace_existing=True`` to replace a job of that id,
        e.g. one registered at every start-up). Bad arguments raise
        :class:`~digitorn_notify.errors.InvalidJobError` naming the argument.
        """
        spec = job_spec(_arguments(locals(), "when"))
        schedule = once_schedule(when, now=self.clock.now(), tz=self._zone(spec))
        return await self._add(schedule, spec)

    async def schedule_cron(
        self,
        cron: When,
        *,
        app_id: str,
        session_id: str | None = None,
        action_type: ActionType | str = ActionType.NOTIFICATION,
        tool_name: str | None = None,
        tool_params: Mapping[str, Any] | None = None,
        prompt: str = "",
        label: str = "",
        max_runs: int = 0,
        output_channel: str | None = None,
        output_config: Mapping[str, Any] | None = None,
        misfire_grace: float | None = None,
        timezone: str | None = None,
        job_id: str | None = None,
        replace_existing: bool = False,
    ) -> ScheduledJob:
        """Run on a 5-field cron (``"0 9 * * 1-5"``) read in ``timezone``.

        Recurring text is accepted too ("every day at 9am", "tous les lundis à 10h");
        one that no cron can say ("every 90 minutes") makes an interval job.
        ``max_runs`` completes the job after that many runs (0: never). Other
        parameters as for :meth:`schedule_once`.
        """
        spec = job_spec(_arguments(locals(), "cron"))
        schedule = recurring_schedule(cron, now=self.clock.now(), tz=self._zone(spec))
        return await self._add(schedule, spec)

    async def schedule_interval(
        self,
        every: timedelta | float,
        *,
        app_id: str,
        start: datetime | None = None,
        session_id: str | None = None,
        action_type: ActionType | str = ActionType.NOTIFICATION,
        tool_name: str | None = None,
        tool_params: Mapping[str, Any] | None = None,
        prompt: str = "",
        label: str = "",
        max_runs: int = 0,
        output_channel: str | None = None,
        output_config: Mapping[str, Any] | None = None,
        misfire_grace: float | None = None,
        timezone: str | None = None,
        job_id: str | None = None,
        replace_existing: bool = False,
    ) -> ScheduledJob:
        """Run every ``every`` (a ``timedelta`` or seconds) from ``start``.

        ``start`` defaults to one step from now. A step of whole days keeps the
        wall-clock time of ``start`` in ``timezone`` across DST changes; any other
        step is exact elapsed time. Other parameters as for :meth:`schedule_cron`.
        """
        spec = job_spec(_arguments(locals(), "every", "start"))
        schedule = interval_schedule(every, start=start, now=self.clock.now(), tz=self._zone(spec))
        return await self._add(schedule, spec)

    async def remember(
        self,
        what: str,
        when: When,
        *,
        app_id: str,
        action: ActionType | str = ActionType.NOTIFICATION,
        session_id: str | None = None,
        output_channel: str | None = None,
        output_config: Mapping[str, Any] | None = None,
        misfire_grace: float | None = None,
        timezone: str | None = None,
    ) -> ScheduledJob:
        """ "Remind me to ``what`` ``when``": a one-off or recurring job carrying ``what``.

        ``when`` is anything :meth:`schedule_once` or :meth:`schedule_cron` accepts.
        ``action`` is ``"notification"`` (``what`` is delivered to the session) or
        ``"llm_prompt"`` (``what`` starts an agent turn). The label is ``what``,
        shortened.
        """
        if action not in (ActionType.NOTIFICATION, ActionType.LLM_PROMPT):
            raise InvalidJobError(
                f"unknown action {action!r} (accepted: notification, llm_prompt)", path="action"
            )
        if not isinstance(what, str):
            raise InvalidJobError(f"expected a string, got {type(what).__name__}", path="what")
        label = " ".join(what.split())
        if len(label) > _LABEL_FROM_WHAT:
            label = label[: _LABEL_FROM_WHAT - 1] + "…"
        arguments = _arguments(locals(), "what", "when", "action", "label")
        spec = job_spec({**arguments, "action_type": action, "prompt": what, "label": label})
        zone = self._zone(spec)
        now = self.clock.now()
        schedule = schedule_for(when, now=now, tz=zone)
        if isinstance(schedule, OneShot):
            schedule = once_schedule(schedule, now=now, tz=zone)
        return await self._add(schedule, spec)

    # -- managing jobs ---------------------------------------------------------------------

    async def cancel(self, job_id: str, *, app_id: str) -> ScheduledJob:
        """Cancel an active or paused job; cancelling a cancelled job changes nothing.

        A run in progress is not interrupted. The job stays listed for ``retention``.
        """
        return await self._change(job_id, app_id, cancelled)

    async def pause(self, job_id: str, *, app_id: str) -> ScheduledJob:
        """Stop an active job from running until :meth:`resume` (no-op when paused)."""
        return await self._change(job_id, app_id, paused)

    async def resume(self, job_id: str, *, app_id: str) -> ScheduledJob:
        """Make a paused job active again (no-op when active).

        A recurring job's next run is its next due time from now (runs that fell
        while it was paused are not made); a one-shot whose time passed runs at once,
        unless its ``misfire_grace`` says it is too late.
        """
        return await self._change(job_id, app_id, resumed)

    async def status(self, job_id: str, *, app_id: str) -> AnyJob:
        """The job (an :class:`UnreadableJob` if it cannot be read back).

        Raises :class:`~digitorn_notify.errors.JobNotFoundError` when the app has no
        such job (a job of another app is not found either).
        """
        return job_from_record(await self._book.record(job_id, app_id))

    async def list(
        self,
        *,
        app_id: str,
        status: JobStatus | str | None = None,
        session_id: str | None = None,
    ) -> JobList:
        """The app's jobs, oldest first, optionally only those with ``status`` or
        created by ``session_id``; ``.to_dict()`` is ``schedule_list``'s answer.

        Finished jobs older than ``retention`` are removed on the way.
        """
        wanted = None
        if status is not None:
            try:
                wanted = JobStatus(status)
            except ValueError:
                accepted = ", ".join(s.value for s in JobStatus)
                raise InvalidJobError(
                    f"unknown status {status!r} (accepted: {accepted})", path="status"
                ) from None
        now = self.clock.now()
        jobs: builtins.list[AnyJob] = []
        for record in await self.store.list_jobs(app_id):
            job = job_from_record(record)
            if self._runner.expired(job, now):
                await self._runner.purge_one(record.job_id, now)
                continue
            if wanted is not None and job.status is not wanted:
                continue
            if session_id is not None and getattr(job, "session_id", None) != session_id:
                continue
            jobs.append(job)
        jobs.sort(key=_listing_order)
        return JobList(tuple(jobs))

    async def delete(self, job_id: str, *, app_id: str) -> None:
        """Remove a job from the store for good, whatever its status.

        Use it for a job that cannot be restored (shown as failed), or to forget a
        job at once rather than after ``retention``. A run in progress finishes,
        but its result is not saved.
        """
        await self._book.delete(job_id, app_id)
        self._ready.forget(job_id)
        self._runner.forget(job_id)

    # -- internals -------------------------------------------------------------------------

    def _zone(self, spec: JobSpec) -> str:
        return self.timezone if spec.timezone is None else spec.timezone

    async def _add(self, schedule: Schedule, spec: JobSpec) -> ScheduledJob:
        app_id = spec.app_id
        if spec.output_channel is None:
            output_channel = default_channel_for(self.default_channel, app_id)
        else:
            output_channel = check_output_channel(
                self.registry, app_id, spec.output_channel, error=InvalidJobError
            )
        job = build_job(
            schedule,
            spec,
            now=self.clock.now(),
            job_id=spec.job_id or new_job_id(),
            output_channel=output_channel,
            has_invoker=self._invoker is not None,
            has_prompt_sink=self._prompt_sink is not None,
        )
        job, record = await self._book.create(
            job, id_given=spec.job_id is not None, replace_existing=spec.replace_existing
        )
        self._ready.keep(record, job, job.created_at)
        assert job.next_run_at is not None
        self._runner.expect(job.job_id, job.next_run_at)
        logger.debug(
            "job %s scheduled (%s), next run %s",
            job.job_id,
            job.schedule_type,
            job.next_run_at,  # formatted only if the record is emitted
            extra={"app_id": app_id, "job_id": job.job_id},
        )
        return job

    async def _change(
        self,
        job_id: str,
        app_id: str,
        change: Callable[[ScheduledJob, datetime], ScheduledJob],
    ) -> ScheduledJob:
        updated = await self._book.change(job_id, app_id, change, self.clock.now())
        self._ready.forget(job_id)
        if updated.next_run_at is not None and job_id not in self._runner.firing:
            self._runner.expect(job_id, updated.next_run_at)
        else:
            self._runner.forget(job_id)
        return updated


def _arguments(given: Mapping[str, Any], *schedule: str) -> dict[str, Any]:
    """A method's keyword arguments (its ``locals()`` on entry), without ``self`` and the
    arguments that make the schedule: what goes into its :class:`JobSpec`."""
    return {k: v for k, v in given.items() if k != "self" and k not in schedule}


def _listing_order(job: AnyJob) -> tuple[int, datetime | str, str]:
    if isinstance(job, ScheduledJob):
        return (0, job.created_at, job.job_id)
    return (1, job.job_id, job.job_id)
