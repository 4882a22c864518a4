"""The history ring buffer: the last 100 checks of a watcher, in about 2.5 KB.

Ten thousand watchers with a full history must fit in memory, so the ring is stored by
column rather than as a hundred small objects: check times in an ``array('d')``,
durations in an ``array('f')``, flags in a ``bytearray``, and one reference per entry to
the result's JSON text (shared when a result repeats the previous one). Check numbers
are not stored: every check is recorded, so the entries are consecutive and end at
:attr:`CheckHistory.last_check`.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import attrs

__all__ = ["HISTORY_SIZE", "CheckHistory", "HistoryEntry"]

#: How many checks a watcher remembers.
HISTORY_SIZE = 100

OK = 1
NOTIFIED = 2
TRUNCATED = 4


@attrs.frozen
class HistoryEntry:
    """One recorded check.

    ``text`` is the result's JSON text when ``ok``, else the error message; when
    ``truncated`` it holds only the first characters of a larger result.
    """

    check: int
    at: float
    duration: float
    ok: bool
    text: str
    notified: bool = False
    truncated: bool = False


class CheckHistory:
    """A fixed-capacity ring of :class:`HistoryEntry`, oldest dropped first."""

    __slots__ = ("_at", "_capacity", "_duration", "_flags", "_start", "_text", "last_check")

    def __init__(self, capacity: int = HISTORY_SIZE) -> None:
        if capacity < 1:
            raise ValueError(f"a history holds at least one entry, not {capacity}")
        self._capacity = capacity
        self._at = array("d")
        self._duration = array("f")
        self._flags = bytearray()
        self._text: list[str] = []
        self._start = 0  # index of the oldest entry once the ring is full
        #: The check number of the newest entry (0 when empty).
        self.last_check = 0

    def __len__(self) -> int:
        return len(self._text)

    @property
    def capacity(self) -> int:
        """The most entries kept."""
        return self._capacity

    def append(
        self,
        check: int,
        at: float,
        duration: float,
        ok: bool,
        text: str,
        *,
        truncated: bool = False,
    ) -> None:
        """Record check number ``check`` (one more than the previous one, after a gap: restart)."""
        if check != self.last_check + 1 and self._text:
            # Entries must stay consecutive for the numbering to hold; a gap (a
            # restored watcher) starts the history afresh.
            self.clear()
        flags = (OK if ok else 0) | (TRUNCATED if truncated else 0)
        self.last_check = check
        if len(self._text) < self._capacity:
            self._at.append(at)
            self._duration.append(duration)
            self._flags.append(flags)
            self._text.append(text)
            return
        slot = self._start
        self._at[slot] = at
        self._duration[slot] = duration
        self._flags[slot] = flags
        self._text[slot] = text
        self._start = (slot + 1) % self._capacity

    def newest_text(self, check: int) -> str | None:
        """The text of the newest entry if it is check number ``check``, else ``None``."""
        if not self._text or self.last_check != check:
            return None
        return self._text[(self._start - 1) % len(self._text)]

    def mark_notified(self) -> None:
        """Flag the newest entry as having sent a notification."""
        if self._text:
            self._flags[(self._start - 1) % len(self._text)] |= NOTIFIED

    def clear(self) -> None:
        """Forget every entry (the check numbering restarts at the next append)."""
        self._at = array("d")
        self._duration = array("f")
        self._flags = bytearray()
        self._text = []
        self._start = 0

    def _slots(self, last_n: int) -> Iterator[int]:
        size = len(self._text)
        count = min(max(last_n, 0), size)
        for offset in range(size - count, size):
            yield (self._start + offset) % size

    def last(self, last_n: int) -> list[HistoryEntry]:
        """The newest ``last_n`` entries, oldest first."""
        size = len(self._text)
        first_check = self.last_check - size + 1
        start = size - min(max(last_n, 0), size)
        entries = []
        for offset, slot in enumerate(self._slots(last_n), start):
            flags = self._flags[slot]
            entries.append(
                HistoryEntry(
                    check=first_check + offset,
                    at=self._at[slot],
                    duration=self._duration[slot],
                    ok=bool(flags & OK),
                    text=self._text[slot],
                    notified=bool(flags & NOTIFIED),
                    truncated=bool(flags & TRUNCATED),
                )
            )
        return entries

    def __repr__(self) -> str:
        return f"CheckHistory({len(self)}/{self._capacity}, last_check={self.last_check})"
