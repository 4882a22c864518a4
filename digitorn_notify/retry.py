"""Retry policy: how many times, and how long to wait between attempts.

Channels declare a :class:`RetryPolicy`; the registry runs the loop. The delay for
retry ``n`` (1-based) is ``backoff_base * backoff_multiplier ** (n - 1)`` capped at
``backoff_max``, optionally lowered by up to ``jitter`` (a fraction) so that many
clients failing together do not retry together. A delay the destination asked for
(HTTP ``Retry-After``) replaces the computed one, still capped at ``backoff_max``.
"""

from __future__ import annotations

import random
from typing import Any

import attrs

__all__ = ["RetryPolicy"]


def _non_negative(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"RetryPolicy.{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How a channel wants failed deliveries retried (only while ``retryable``)."""

    max_retries: int = attrs.field(
        default=3, validator=[attrs.validators.instance_of(int), _non_negative]
    )
    backoff_base: float = attrs.field(default=1.0, validator=_non_negative)
    backoff_max: float = attrs.field(default=60.0, validator=_non_negative)
    backoff_multiplier: float = attrs.field(default=2.0)
    jitter: float = attrs.field(default=0.0)

    @backoff_multiplier.validator
    def _check_multiplier(self, _: attrs.Attribute[float], value: float) -> None:
        if value < 1.0:
            raise ValueError(f"RetryPolicy.backoff_multiplier must be >= 1.0, got {value!r}")

    @jitter.validator
    def _check_jitter(self, _: attrs.Attribute[float], value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"RetryPolicy.jitter must be within [0, 1], got {value!r}")

    @classmethod
    def no_retry(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_retries=0)

    def delay(
        self,
        attempt: int,
        *,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry).

        ``retry_after`` (from the destination) wins over the computed backoff but never
        exceeds ``backoff_max``; jitter does not apply to it, since the server chose it.
        """
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        if retry_after is not None:
            return min(max(0.0, retry_after), self.backoff_max)
        # Cap the exponent before computing: 2.0 ** 5000 overflows a float.
        exponent = min(attempt - 1, 1024)
        try:
            raw = self.backoff_base * self.backoff_multiplier**exponent
        except OverflowError:
            raw = self.backoff_max
        delay = min(raw, self.backoff_max)
        if self.jitter:
            # Secure randomness is pointless for spreading retries.
            draw = (rng or random).random()
            delay -= delay * self.jitter * draw
        return delay

    def delays(self) -> list[float]:
        """The un-jittered delays of every retry this policy allows, in order."""
        saved = attrs.evolve(self, jitter=0.0)
        return [saved.delay(n) for n in range(1, self.max_retries + 1)]
