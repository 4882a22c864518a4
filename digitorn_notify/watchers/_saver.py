"""Saving watchers to the :class:`~digitorn_notify.storage.WatcherStore`.

Checks never wait for the store: after a notification, or every ``save_every``
checks, a watcher is only marked dirty, and one background task saves dirty watchers
one at a time (retrying with backoff while the store fails). Requests that change a
watcher (start, pause, resume, stop) save before they act and raise if the store does.
Every save takes one lock and snapshots the watcher once it holds it, so a slower,
older save can never overwrite a newer one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import anyio

from digitorn_notify.clock import Clock
from digitorn_notify.storage.protocols import WatcherRecord, WatcherStore
from digitorn_notify.watchers._watcher import STOPPED, Watcher

__all__ = ["Saver"]

logger = logging.getLogger("digitorn_notify.watchers")

#: How long shutdown may spend saving counters, in real seconds (a hung store).
SHUTDOWN_SAVE_SECONDS = 30.0


class Saver:
    """The engine's link to its store."""

    def __init__(self, store: WatcherStore, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        self._lock = anyio.Lock()
        self._dirty: set[Watcher] = set()
        self._wanted: anyio.Event | None = None

    def mark_dirty(self, watcher: Watcher) -> None:
        """Have ``watcher`` saved soon, by the background task."""
        self._dirty.add(watcher)
        if self._wanted is not None:
            self._wanted.set()

    def forget(self, watcher: Watcher) -> None:
        """Drop a pending save (the watcher is gone)."""
        self._dirty.discard(watcher)

    async def _write(self, watcher: Watcher, status: str | None = None) -> None:
        checks = watcher.check_count
        data = watcher.snapshot(status)
        await self.store.save_watcher(WatcherRecord(watcher.watcher_id, watcher.spec.app_id, data))
        watcher.saved_checks = checks

    async def save(self, watcher: Watcher) -> None:
        """Save ``watcher`` now (unless it was stopped meanwhile); errors propagate."""
        async with self._lock:
            if watcher.status != STOPPED:
                await self._write(watcher)

    async def save_status(self, watcher: Watcher, status: str) -> bool:
        """Save ``watcher`` with ``status``, then give it that status; errors propagate.

        ``False`` (and nothing saved) when the watcher was stopped meanwhile: a late
        pause must not bring a deleted watcher back into the store.
        """
        async with self._lock:
            if watcher.status == STOPPED:
                return False
            await self._write(watcher, status)
            watcher.status = status
        return True

    async def delete(self, watcher: Watcher) -> None:
        """Delete ``watcher`` from the store, then mark it stopped; errors propagate."""
        async with self._lock:
            await self.store.delete_watcher(watcher.watcher_id)
            watcher.status = STOPPED
        self._dirty.discard(watcher)

    async def run(self) -> None:
        """Save dirty watchers as they come, for ever."""
        failures = 0
        while True:
            if not self._dirty:
                self._wanted = anyio.Event()
                await self._wanted.wait()
                self._wanted = None
            watcher = self._dirty.pop()
            try:
                await self.save(watcher)
            except Exception:
                self._dirty.add(watcher)
                failures += 1
                if failures == 1:
                    logger.exception("could not save watcher %s; retrying", watcher.watcher_id)
                await self._clock.sleep(min(2.0 ** (failures - 1), 60.0))
            else:
                if failures:
                    logger.info("saving watchers works again after %d failure(s)", failures)
                failures = 0

    async def flush(self, watchers: Iterable[Watcher]) -> None:
        """Save every watcher with unsaved changes (on shutdown; shielded, bounded)."""
        with anyio.move_on_after(SHUTDOWN_SAVE_SECONDS, shield=True):
            for watcher in list(watchers):
                if watcher.check_count == watcher.saved_checks and watcher not in self._dirty:
                    continue
                try:
                    await self.save(watcher)
                except Exception:
                    logger.exception(
                        "could not save watcher %s on shutdown",
                        watcher.watcher_id,
                        extra={"watcher_id": watcher.watcher_id},
                    )
        self._dirty.clear()
