"""What a channel can learn about the delivery it is running in.

The registry opens one :class:`DeliveryContext` per logical delivery (one payload to
one channel instance) and keeps it across that delivery's retries, so a channel can
send the same idempotency key on every attempt and receivers can de-duplicate.
A ``contextvars`` variable carries it: ``deliver()``'s signature is the spec's and
stays unchanged, and both asyncio and trio copy context into tasks.

The key is random unless the caller chose it with :func:`delivery_key`: the scheduler
derives it from the job and the due time a run fires for (:func:`run_key`), so a run
repeated after a crash carries the key of the first attempt and a receiver can drop
the repeat.
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

__all__ = ["DeliveryContext", "current_delivery", "delivery_key", "requested_key", "run_key"]

#: The namespace of run keys (uuid5): fixed, so a key is the same in every process.
_RUN_KEYS = uuid.UUID("5b1f4f4e-7d0a-4a57-9c4e-0d1f1a0c2e11")


class DeliveryContext:
    """One logical delivery: its ``key`` (stable across retries) and ``attempt`` (1-based)."""

    __slots__ = ("_key", "attempt")

    def __init__(self, key: str | None = None) -> None:
        self._key = key
        self.attempt = 1

    @property
    def key(self) -> str:
        """A random, URL-safe id of this logical delivery, created on first use."""
        if self._key is None:
            # Created lazily: most channels never ask, and uuid4 costs a syscall.
            self._key = uuid.uuid4().hex
        return self._key

    def __repr__(self) -> str:
        return f"DeliveryContext(key={self._key!r}, attempt={self.attempt})"


_CURRENT: contextvars.ContextVar[DeliveryContext | None] = contextvars.ContextVar(
    "digitorn_notify_delivery", default=None
)


def current_delivery() -> DeliveryContext | None:
    """The delivery the calling channel is running in; ``None`` outside the registry."""
    return _CURRENT.get()


_REQUESTED: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "digitorn_notify_delivery_key", default=None
)


@contextmanager
def delivery_key(key: str) -> Iterator[None]:
    """Deliveries started inside this block use ``key`` as their idempotency key.

    Each part of a message split for a channel's length limit gets ``key`` followed by
    ``.1``, ``.2``...; a fallback delivery keeps ``key`` (it goes to another receiver).
    """
    token = _REQUESTED.set(key)
    try:
        yield
    finally:
        _REQUESTED.reset(token)


def requested_key() -> str | None:
    """The key set by the enclosing :func:`delivery_key`, if any."""
    return _REQUESTED.get()


def run_key(app_id: str, job_id: str, due: datetime) -> str:
    """The idempotency key of the run of ``job_id`` (of ``app_id``) due at ``due``.

    The same inputs give the same key in every process and after every restart; it
    looks like a random key (32 hex digits) and reveals neither id.
    """
    return uuid.uuid5(_RUN_KEYS, f"{app_id}\n{job_id}\n{due.isoformat()}").hex
