"""ScheduledJob: storage round trips, unreadable records, and the spec's response shapes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify import CronSchedule, IntervalSchedule, JobRecord, OneShot
from digitorn_notify.scheduler import (
    ActionType,
    JobStatus,
    ScheduledJob,
    UnreadableJob,
    jobs_response,
)
from digitorn_notify.scheduler.jobs import FORMAT_VERSION, iso, job_from_record, job_to_record

T0 = datetime(2026, 3, 13, 15, 30, tzinfo=UTC)


def make(schedule: Any = None, **changes: Any) -> ScheduledJob:
    fields: dict[str, Any] = {
        "job_id": "a1b2c3d4e5f6",
        "app_id": "app",
        "schedule": schedule or OneShot(T0 + timedelta(minutes=5)),
        "created_at": T0,
        "next_run_at": T0 + timedelta(minutes=5),
        "prompt": "check the deploy",
    }
    fields.update(changes)
    return ScheduledJob(**fields)


SCHEDULES = [
    OneShot(T0 + timedelta(minutes=5)),
    CronSchedule("0 9 * * 1-5", "Europe/Paris"),
    IntervalSchedule(timedelta(minutes=90), T0, "America/New_York"),
    IntervalSchedule(timedelta(days=2), T0, "Europe/Paris", time(9, 0)),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=lambda s: type(s).__name__)
def test_round_trip_through_a_record(schedule: Any) -> None:
    job = make(
        schedule,
        action_type=ActionType.TOOL_CALL,
        tool_name="http.get",
        tool_params={"url": "https://example.com", "n": [1, 2.5, None]},
        output_config={"to": "ops"},
        session_id="s1",
        max_runs=3,
        misfire_grace=30.0,
        run_count=2,
        last_run_at=T0,
        last_error="TimeoutError: slow",
        consecutive_failures=1,
        failure_count=1,
    )
    record = job_to_record(job)
    assert (record.job_id, record.app_id, record.next_run_at) == (
        job.job_id,
        "app",
        job.next_run_at,
    )
    assert job_from_record(record) == job


def test_record_data_leaves_out_defaults_and_what_the_record_carries() -> None:
    data = job_to_record(make()).data
    assert data == {
        "v": FORMAT_VERSION,
        "schedule": {"kind": "once", "at": "2026-03-13T15:35:00+00:00"},
        "created_at": "2026-03-13T15:30:00+00:00",
        "prompt": "check the deploy",
    }


def test_stored_data_is_plain_json() -> None:
    import json

    job = make(SCHEDULES[3], last_run_at=T0, status=JobStatus.PAUSED, next_run_at=None)
    record = job_to_record(job)
    assert job_from_record(attrs.evolve(record, data=json.loads(json.dumps(record.data)))) == job


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": "sleeping"}, "'sleeping' is not one of: 'active'"),
        ({"colour": "blue"}, "extra fields found (colour)"),
        ({"schedule": {"kind": "lunar"}}, "schedule kind 'lunar' is not one of"),
        ({"schedule": {"kind": "cron", "expression": "61 * * * *"}}, "minute field '61'"),
        ({"schedule": {"kind": "once", "at": "2026-03-13T15:35:00"}}, "naive"),
        ({"created_at": "yesterday"}, "$.created_at"),
        ({"v": 2}, "a newer version of digitorn_notify wrote it"),
        ({"v": None}, "unknown format"),
    ],
)
def test_unreadable_records_say_why(change: dict[str, Any], reason: str) -> None:
    record = job_to_record(make())
    bad = attrs.evolve(record, data={**record.data, **change})
    job = job_from_record(bad)
    assert isinstance(job, UnreadableJob)
    assert reason in job.reason
    assert job.status is JobStatus.FAILED
    assert job.last_error == f"cannot be restored: {job.reason}"
    assert job.data == bad.data
    assert job.to_summary()["status"] == "failed"
    assert job.to_status()["data"] == bad.data


def test_missing_required_field_is_unreadable() -> None:
    job = job_from_record(JobRecord("x", "app", {"v": 1, "prompt": "p"}))
    assert isinstance(job, UnreadableJob)
    assert "$.schedule" in job.reason


def test_once_response_has_the_spec_shape() -> None:
    job = make(
        action_type=ActionType.TOOL_CALL,
        tool_name="http.get",
        label="Post-deploy health check",
        output_channel="slack_alerts",
        prompt="",
    )
    assert job.to_response() == {
        "job_id": "a1b2c3d4e5f6",
        "schedule_type": "once",
        "run_at": "2026-03-13T15:35:00Z",
        "action_type": "tool_call",
        "tool_name": "http.get",
        "label": "Post-deploy health check",
        "output_channel": "slack_alerts",
        "status": "active",
    }


def test_cron_response_names_the_expression_zone_and_next_run() -> None:
    job = make(
        CronSchedule("*/5 * * * *"),
        next_run_at=T0 + timedelta(minutes=5),
        max_runs=100,
        action_type=ActionType.LLM_PROMPT,
    )
    response = job.to_response()
    assert response["schedule_type"] == "cron"
    assert response["cron"] == "*/5 * * * *"
    assert response["timezone"] == "UTC"
    assert response["next_run_at"] == "2026-03-13T15:35:00Z"
    assert response["max_runs"] == 100
    assert "tool_name" not in response
    assert make(SCHEDULES[2]).to_response()["every_seconds"] == 5400.0


def test_list_response_has_the_spec_shape() -> None:
    active = make(CronSchedule("0 9 * * *"), label="Daily error report", run_count=12)
    done = make(
        job_id="f6e5d4c3b2a1",
        label="Post-deploy check",
        status=JobStatus.COMPLETED,
        run_count=1,
        next_run_at=None,
        last_run_at=T0,
        finished_at=T0,
    )
    response = jobs_response([active, done])
    assert response["jobs"] == [
        {
            "job_id": "a1b2c3d4e5f6",
            "schedule_type": "cron",
            "label": "Daily error report",
            "status": "active",
            "run_count": 12,
            "next_run_at": "2026-03-13T15:35:00Z",
        },
        {
            "job_id": "f6e5d4c3b2a1",
            "schedule_type": "once",
            "label": "Post-deploy check",
            "status": "completed",
            "run_count": 1,
            "last_run_at": "2026-03-13T15:30:00Z",
        },
    ]
    assert (response["total"], response["active"], response["completed"]) == (2, 1, 1)
    assert response["failed"] == response["paused"] == response["cancelled"] == 0


def test_status_response_has_every_counter() -> None:
    detail = make(run_count=3, skipped_runs=1, coalesced_runs=4).to_status()
    assert detail["run_count"] == 3
    assert detail["skipped_runs"] == 1
    assert detail["coalesced_runs"] == 4
    assert detail["created_at"] == "2026-03-13T15:30:00Z"
    assert detail["finished_at"] is None
    assert detail["prompt"] == "check the deploy"


def test_times_are_shown_in_utc_with_z() -> None:
    paris = datetime(2026, 3, 13, 16, 30, tzinfo=UTC).astimezone()
    assert iso(paris) == "2026-03-13T16:30:00Z"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="created_at must be an aware datetime"):
        make(created_at=datetime(2026, 3, 13))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    schedule=st.sampled_from(SCHEDULES),
    params=st.dictionaries(st.text(), json_values, max_size=3),
    label=st.text(),
    status=st.sampled_from(list(JobStatus)),
    counts=st.tuples(*[st.integers(0, 10**9)] * 5),
    last=st.none() | instants,
    grace=st.none() | st.floats(0, 1e6),
)
def test_any_job_survives_the_store(
    schedule: Any,
    params: dict[str, Any],
    label: str,
    status: JobStatus,
    counts: tuple[int, ...],
    last: datetime | None,
    grace: float | None,
) -> None:
    job = make(
        schedule,
        tool_params=params,
        label=label,
        status=status,
        run_count=counts[0],
        failure_count=counts[1],
        skipped_runs=counts[2],
        coalesced_runs=counts[3],
        max_runs=counts[4],
        last_run_at=last,
        misfire_grace=grace,
    )
    assert job_from_record(job_to_record(job)) == job


run_changes = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(list(JobStatus)),
        "run_count": st.integers(0, 10**6),
        "failure_count": st.integers(0, 10**6),
        "consecutive_failures": st.integers(0, 10**6),
        "skipped_runs": st.integers(0, 10**6),
        "coalesced_runs": st.integers(0, 10**6),
        "last_run_at": st.none() | instants,
        "last_error": st.none() | st.text(),
        "finished_at": st.none() | instants,
        "next_run_at": st.none() | instants,
    },
)


@given(
    before=st.fixed_dictionaries(
        {"run_count": st.integers(0, 5), "last_error": st.none() | st.text(max_size=5)}
    ),
    changes=run_changes,
)
def test_patching_a_record_equals_storing_the_changed_job(
    before: dict[str, Any], changes: dict[str, Any]
) -> None:
    from digitorn_notify.scheduler.jobs import patch_record

    job = make(CronSchedule("0 9 * * *"), **before)
    if "last_run_at" in changes and "finished_at" in changes:
        changes["finished_at"] = changes["last_run_at"]  # the same object, as a run gives
    expected = job_to_record(attrs.evolve(job, **changes))
    assert patch_record(job_to_record(job), changes) == expected
