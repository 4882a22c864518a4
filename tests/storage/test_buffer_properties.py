"""Hypothesis: the notification buffer behaves like a simple model, on every store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from hypothesis import given, settings
from hypothesis import strategies as st

from digitorn_notify import BufferedNotification, MemoryStore, SQLiteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("push"),
            st.sampled_from(["a", "b"]),
            st.sampled_from([None, "s1", "s2"]),
            st.integers(1, 10),
        ),
        st.tuples(
            st.just("drain"),
            st.sampled_from(["a", "b"]),
            st.sampled_from([None, "s1", "s2"]),
            st.integers(0, 12),
        ),
    ),
    max_size=40,
)


def visible(session: str | None, wanted: str | None) -> bool:
    return wanted is None or session is None or session == wanted


async def check(store: Any, ops: list[tuple[Any, ...]], cap: int) -> None:
    model: dict[str, list[tuple[str, str | None, datetime]]] = {"a": [], "b": []}
    now = T0
    for index, (kind, app, session, number) in enumerate(ops):
        now += timedelta(minutes=30)
        if kind == "push":
            expires = now + timedelta(hours=number)
            entry = BufferedNotification(f"e{index}", app, session, now, expires, {"n": index})
            await store.push_notification(entry, max_per_app=cap)
            model[app].append((f"e{index}", session, expires))
            del model[app][: max(0, len(model[app]) - cap)]
        else:
            at = now + timedelta(hours=number)
            got = await store.drain_notifications(app, session_id=session, now=at)
            alive = [e for e in model[app] if e[2] > at]
            expected = [e[0] for e in alive if visible(e[1], session)]
            model[app] = [e for e in alive if not visible(e[1], session)]
            assert [g.entry_id for g in got] == expected
            assert len(expected) <= cap


@settings(max_examples=60, deadline=None)
@given(ops=operations, cap=st.integers(1, 5))
def test_memory_buffer_matches_model(ops: list[tuple[Any, ...]], cap: int) -> None:
    anyio.run(check, MemoryStore(), ops, cap)


@settings(max_examples=25, deadline=None)
@given(ops=operations, cap=st.integers(1, 5))
def test_sqlite_buffer_matches_model(
    tmp_path_factory: Any, ops: list[tuple[Any, ...]], cap: int
) -> None:
    path: Path = tmp_path_factory.mktemp("buf") / "b.db"

    async def run() -> None:
        async with SQLiteStore(path) as store:
            await check(store, ops, cap)

    anyio.run(run)
