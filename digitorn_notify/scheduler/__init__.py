"""Persistent scheduled jobs: one-shot, cron, interval and "remember" reminders.

:class:`Scheduler` runs inside the host's event loop, keeps its jobs in a
:class:`~digitorn_notify.storage.JobStore`, fires each due job once (even when
several processes share the store), and delivers each run's outcome through the
:class:`~digitorn_notify.channels.ChannelRegistry`. :class:`ScheduledJob` is what a
job looks like to callers. See ``docs/scheduler.md``.
"""

from digitorn_notify.scheduler._spec import JobSpec
from digitorn_notify.scheduler.jobs import (
    ActionType,
    JobList,
    JobStatus,
    Schedule,
    ScheduledJob,
    UnreadableJob,
    jobs_response,
)
from digitorn_notify.scheduler.service import Scheduler

__all__ = [
    "ActionType",
    "JobList",
    "JobSpec",
    "JobStatus",
    "Schedule",
    "ScheduledJob",
    "Scheduler",
    "UnreadableJob",
    "jobs_response",
]
