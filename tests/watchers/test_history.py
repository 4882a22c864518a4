"""The history ring buffer against a plain list that keeps everything."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digitorn_notify.watchers._history import HISTORY_SIZE, CheckHistory, HistoryEntry

entries = st.lists(
    st.tuples(st.booleans(), st.text(max_size=5), st.booleans(), st.booleans()), max_size=250
)


@given(entries, st.integers(1, 12), st.integers(-3, 130))
def test_the_ring_keeps_the_newest_entries_in_order(
    appended: list[tuple[bool, str, bool, bool]], capacity: int, last_n: int
) -> None:
    ring = CheckHistory(capacity)
    everything: list[HistoryEntry] = []
    for number, (ok, text, truncated, notified) in enumerate(appended, 1):
        ring.append(number, number * 5.0, number / 1000, ok, text, truncated=truncated)
        if notified:
            ring.mark_notified()
        everything.append(
            HistoryEntry(
                number, number * 5.0, ring.last(1)[0].duration, ok, text, notified, truncated
            )
        )
        assert ring.newest_text(number) == text
        assert ring.newest_text(number - 1) is None
    assert len(ring) == min(len(appended), capacity)
    assert ring.last_check == len(appended)
    kept = everything[-capacity:]
    expected = kept[len(kept) - min(max(last_n, 0), len(kept)) :] if kept else []
    assert ring.last(last_n) == expected


def test_the_default_capacity_is_the_specs() -> None:
    assert CheckHistory().capacity == HISTORY_SIZE == 100


def test_a_gap_in_check_numbers_starts_afresh() -> None:
    ring = CheckHistory(5)
    ring.append(1, 0.0, 0.0, True, "a")
    ring.append(2, 0.0, 0.0, True, "b")
    ring.append(7, 0.0, 0.0, True, "c")  # a restored watcher's next check
    assert [e.check for e in ring.last(5)] == [7]


def test_restored_numbering_continues() -> None:
    ring = CheckHistory(3)
    ring.last_check = 41
    ring.append(42, 1.0, 0.5, False, "Connection refused")
    (entry,) = ring.last(10)
    assert (entry.check, entry.ok, entry.text, entry.duration) == (
        42,
        False,
        "Connection refused",
        0.5,
    )


def test_marking_an_empty_ring_does_nothing_and_bad_capacity_is_refused() -> None:
    ring = CheckHistory(2)
    ring.mark_notified()
    assert ring.last(5) == []
    assert repr(ring) == "CheckHistory(0/2, last_check=0)"
    with pytest.raises(ValueError, match="at least one entry"):
        CheckHistory(0)


def test_a_full_history_is_small() -> None:
    import sys

    ring = CheckHistory()
    shared = '{"status": "ok"}'
    for number in range(1, 251):
        ring.append(number, float(number), 0.001, True, shared)
    size = sys.getsizeof(ring) + sum(
        sys.getsizeof(getattr(ring, name)) for name in ("_at", "_duration", "_flags", "_text")
    )
    assert size < 3000
