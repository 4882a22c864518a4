"""What a channel can learn about the delivery it is running in.

The registry opens one :class:`DeliveryContext` per logical delivery (one payload to
one channel instance) and keeps it across that delivery's retries, so a channel can
send the same idempotency key on every attempt and receivers can de-duplicate.
A ``contextvars`` variable carries it: ``deliver()``'s signature is the spec's and
stays unchanged, and both asyncio and trio copy context into tasks.
"""

from __future__ import annotations

import contextvars
import uuid

__all__ = ["DeliveryContext", "current_delivery"]


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
