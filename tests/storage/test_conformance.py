"""The storage protocols' semantics, checked against every implementation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from digitorn_notify import (
    BufferedNotification,
    JobRecord,
    JobStore,
    NotificationBuffer,
    WatcherRecord,
    WatcherStore,
)

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)


def job(job_id: str, minutes: float | None = 0, app_id: str = "app", **data: Any) -> JobRecord:
    due = None if minutes is None else T0 + timedelta(minutes=minutes)
    return JobRecord(job_id=job_id, app_id=app_id, data={"label": job_id, **data}, next_run_at=due)


async def test_implements_the_protocols(store: Any) -> None:
    assert isinstance(store, JobStore)
    assert isinstance(store, WatcherStore)
    assert isinstance(store, NotificationBuffer)


async def test_job_crud_round_trips_exactly(store: Any) -> None:
    record = job("j1", 5, nested={"a": [1, 2.5, None, "é"]})
    await store.save_job(record)
    assert await store.get_job("j1") == record
    assert await store.get_job("missing") is None
    replaced = attrs.evolve(record, data={"label": "new"}, next_run_at=None)
    await store.save_job(replaced)
    assert await store.get_job("j1") == replaced
    assert await store.delete_job("j1") is True
    assert await store.delete_job("j1") is False
    assert await store.get_job("j1") is None


async def test_list_jobs_filters_by_app_and_orders_by_id(store: Any) -> None:
    for record in (job("b"), job("a"), job("c", app_id="other")):
        await store.save_job(record)
    assert [j.job_id for j in await store.list_jobs()] == ["a", "b", "c"]
    assert [j.job_id for j in await store.list_jobs("app")] == ["a", "b"]
    assert await store.list_jobs("nobody") == []


async def test_acquire_leases_due_jobs_once(store: Any) -> None:
    await store.save_job(job("late", 1))
    await store.save_job(job("early", -5))
    await store.save_job(job("future", 60))
    await store.save_job(job("paused", None))
    now = T0 + timedelta(minutes=2)
    leased = await store.acquire_due_jobs(now, owner="p1", lease_seconds=30)
    assert [j.job_id for j in leased] == ["early", "late"]
    assert all(j.lease_owner == "p1" for j in leased)
    assert all(j.lease_expires_at == now + timedelta(seconds=30) for j in leased)
    # Held leases are not handed out again, to anyone.
    assert await store.acquire_due_jobs(now, owner="p2", lease_seconds=30) == []
    # An expired lease (its holder crashed) can be taken over.
    later = now + timedelta(seconds=31)
    again = await store.acquire_due_jobs(later, owner="p2", lease_seconds=30)
    assert [j.job_id for j in again] == ["early", "late"]


async def test_acquire_respects_limit_and_app(store: Any) -> None:
    for n in range(5):
        await store.save_job(job(f"j{n}", -n))
    await store.save_job(job("x", -10, app_id="other"))
    leased = await store.acquire_due_jobs(T0, owner="p", lease_seconds=10, limit=2, app_id="app")
    assert [j.job_id for j in leased] == ["j4", "j3"]


async def test_release_saves_and_unleases_only_for_the_owner(store: Any) -> None:
    await store.save_job(job("j", 0))
    [held] = await store.acquire_due_jobs(T0, owner="p1", lease_seconds=30)
    fired = attrs.evolve(
        held, data={"label": "j", "run_count": 1}, next_run_at=T0 + timedelta(days=1)
    )
    assert await store.release_job(fired, owner="p2") is False
    assert (await store.get_job("j")).data == {"label": "j"}  # type: ignore[union-attr]
    assert await store.release_job(fired, owner="p1") is True
    stored = await store.get_job("j")
    assert stored == attrs.evolve(fired, lease_owner=None, lease_expires_at=None)
    assert await store.release_job(fired, owner="p1") is False  # lease already released
    await store.delete_job("j")
    assert await store.release_job(fired, owner="p1") is False


async def test_next_due_at(store: Any) -> None:
    assert await store.next_due_at() is None
    await store.save_job(job("a", 10))
    await store.save_job(job("b", 3))
    await store.save_job(job("c", None))
    await store.save_job(job("d", 1, app_id="other"))
    assert await store.next_due_at() == T0 + timedelta(minutes=1)
    assert await store.next_due_at("app") == T0 + timedelta(minutes=3)


async def test_concurrent_acquirers_never_share_a_job(store: Any) -> None:
    for n in range(40):
        await store.save_job(job(f"j{n:02}", -1))
    taken: list[str] = []

    async def worker(owner: str) -> None:
        while batch := await store.acquire_due_jobs(T0, owner=owner, lease_seconds=60, limit=3):
            taken.extend(j.job_id for j in batch)
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        for n in range(4):
            group.start_soon(worker, f"w{n}")
    assert sorted(taken) == [f"j{n:02}" for n in range(40)]


async def test_watcher_crud(store: Any) -> None:
    record = WatcherRecord("w1", "app", {"tool": "http.get", "history": [{"ok": True}]})
    await store.save_watcher(record)
    await store.save_watcher(WatcherRecord("w0", "other", {}))
    assert await store.get_watcher("w1") == record
    assert await store.get_watcher("nope") is None
    assert [w.watcher_id for w in await store.list_watchers()] == ["w0", "w1"]
    assert [w.watcher_id for w in await store.list_watchers("app")] == ["w1"]
    assert await store.delete_watcher("w1") is True
    assert await store.delete_watcher("w1") is False


def entry(
    n: int, session: str | None = None, app_id: str = "app", ttl_hours: float = 24
) -> BufferedNotification:
    created = T0 + timedelta(seconds=n)
    return BufferedNotification(
        entry_id=f"e{n}",
        app_id=app_id,
        session_id=session,
        created_at=created,
        expires_at=created + timedelta(hours=ttl_hours),
        data={"message": f"m{n}"},
    )


async def test_buffer_caps_per_app_dropping_oldest(store: Any) -> None:
    dropped = [await store.push_notification(entry(n), max_per_app=3) for n in range(5)]
    assert dropped == [0, 0, 0, 1, 1]
    await store.push_notification(entry(9, app_id="other"), max_per_app=3)
    drained = await store.drain_notifications("app", session_id=None, now=T0)
    assert [e.entry_id for e in drained] == ["e2", "e3", "e4"]
    assert drained[0] == entry(2)
    assert await store.count_notifications("other", now=T0) == 1


async def test_buffer_drops_expired_entries(store: Any) -> None:
    await store.push_notification(entry(0, ttl_hours=1), max_per_app=10)
    await store.push_notification(entry(1, ttl_hours=5), max_per_app=10)
    later = T0 + timedelta(hours=2)
    assert await store.count_notifications("app", now=later) == 1
    assert [
        e.entry_id for e in await store.drain_notifications("app", session_id=None, now=later)
    ] == ["e1"]
    assert await store.count_notifications("app", now=T0) == 0


async def test_buffer_drain_by_session(store: Any) -> None:
    for n, session in enumerate(["s1", None, "s2", "s1"]):
        await store.push_notification(entry(n, session), max_per_app=10)
    s1 = await store.drain_notifications("app", session_id="s1", now=T0)
    assert [e.entry_id for e in s1] == ["e0", "e1", "e3"]
    assert await store.count_notifications("app", now=T0) == 1
    rest = await store.drain_notifications("app", session_id=None, now=T0)
    assert [(e.entry_id, e.session_id) for e in rest] == [("e2", "s2")]
    assert await store.drain_notifications("app", session_id=None, now=T0) == []


async def test_acquire_in_batches_takes_each_due_job_once_earliest_first(store: Any) -> None:
    # Ties, out-of-order saves and jobs re-saved several times: what an index of due
    # times (rather than a scan) could get wrong.
    for n in range(120):
        await store.save_job(job(f"j{n:03}", -(n % 7)))
    for n in range(0, 120, 3):
        await store.save_job(job(f"j{n:03}", -(n % 7)))  # same due time, saved again
    await store.save_job(job("future", 5))
    taken: list[JobRecord] = []
    while batch := await store.acquire_due_jobs(T0, owner="p", lease_seconds=60, limit=7):
        assert len(batch) <= 7
        taken.extend(batch)
    keys = [(j.next_run_at, j.job_id) for j in taken]
    assert keys == sorted(keys)
    assert sorted(j.job_id for j in taken) == [f"j{n:03}" for n in range(120)]


async def test_acquire_follows_due_time_changes_and_deletes(store: Any) -> None:
    await store.save_job(job("moved-earlier", 10))
    await store.save_job(job("moved-later", -10))
    await store.save_job(job("paused", -10))
    await store.save_job(job("deleted", -10))
    await store.save_job(job("moved-earlier", -1))
    await store.save_job(job("moved-later", 10))
    await store.save_job(job("paused", None))
    await store.delete_job("deleted")
    assert await store.next_due_at() == T0 - timedelta(minutes=1)
    leased = await store.acquire_due_jobs(T0, owner="p", lease_seconds=60)
    assert [j.job_id for j in leased] == ["moved-earlier"]
    # Released with a later due time: due again only then.
    [held] = leased
    assert await store.release_job(
        attrs.evolve(held, next_run_at=T0 + timedelta(minutes=1)), owner="p"
    )
    assert await store.acquire_due_jobs(T0, owner="p", lease_seconds=60) == []
    later = T0 + timedelta(minutes=10)
    assert [j.job_id for j in await store.acquire_due_jobs(later, owner="p", lease_seconds=60)] == [
        "moved-earlier",
        "moved-later",
    ]
    await store.save_job(job("paused", -5))
    assert [j.job_id for j in await store.acquire_due_jobs(later, owner="q", lease_seconds=60)] == [
        "paused"
    ]


async def test_a_lease_held_past_other_acquires_can_still_expire(store: Any) -> None:
    await store.save_job(job("slow", -1))
    await store.save_job(job("other", 0))
    [held] = await store.acquire_due_jobs(T0, owner="p1", lease_seconds=30, limit=1)
    assert held.job_id == "slow"
    # Acquires that skip the held job must not lose track of it.
    for _ in range(3):
        await store.acquire_due_jobs(T0, owner="p2", lease_seconds=30)
    taken = await store.acquire_due_jobs(T0 + timedelta(seconds=31), owner="p3", lease_seconds=30)
    assert [j.job_id for j in taken] == ["slow", "other"]


async def test_leased_jobs_count_for_next_due_at_and_saved_leases_hold(store: Any) -> None:
    await store.save_job(job("running", -5))
    await store.save_job(job("waiting", 5))
    [held] = await store.acquire_due_jobs(T0, owner="p1", lease_seconds=30)
    # A job being run is still due (its lease can expire): it counts.
    assert await store.next_due_at() == T0 - timedelta(minutes=5)
    # Saved with its lease (a change made while it runs): still not handed out...
    await store.save_job(attrs.evolve(held, data={"label": "changed"}))
    assert await store.acquire_due_jobs(T0, owner="p2", lease_seconds=30) == []
    # ...until the lease expires.
    later = T0 + timedelta(seconds=31)
    [taken] = await store.acquire_due_jobs(later, owner="p2", lease_seconds=30)
    assert (taken.job_id, taken.data, taken.lease_owner) == ("running", {"label": "changed"}, "p2")
    assert await store.release_job(attrs.evolve(taken, next_run_at=None), owner="p2")
    assert await store.next_due_at() == T0 + timedelta(minutes=5)
