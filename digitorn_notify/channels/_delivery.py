"""The delivery flow of one instance: recipient, capabilities, retries, health, fallback.

:class:`DeliveryFlow` is owned by :class:`~digitorn_notify.channels.registry.ChannelRegistry`,
which finds the instance (step 1 of the flow described there), structures the payload
(step 2) and hands both to :meth:`DeliveryFlow.deliver` for steps 3 to 8. The flow is
given the registry's clock and its instance lookup, which it needs for one thing: to
find an instance's ``fallback`` channel the way the registry finds any channel.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import attrs

from digitorn_notify._stepping import is_coroutine, on_first_wait
from digitorn_notify.channels._state import AppState, Instance
from digitorn_notify.channels.adapt import Adapted, adapt_payload
from digitorn_notify.channels.base import RecipientContext
from digitorn_notify.channels.context import _CURRENT, DeliveryContext, requested_key
from digitorn_notify.clock import Clock
from digitorn_notify.payload import ChannelPayload, DeliveryResult

__all__ = ["DeliveryFlow", "Lookup", "failure"]

logger = logging.getLogger("digitorn_notify.channels")


#: The registry's instance lookup: by name, else type id, else ``llm_notification``;
#: also says which name was missing when it fell back.
Lookup = Callable[[AppState, str], Awaitable[tuple[Instance, str | None]]]


class DeliveryFlow:
    """Delivers a payload through one instance (steps 3 to 8 of the registry's flow)."""

    __slots__ = ("_lookup", "clock")

    def __init__(self, clock: Clock, lookup: Lookup) -> None:
        self.clock = clock
        self._lookup = lookup

    async def deliver(
        self,
        app: AppState,
        instance: Instance,
        payload: ChannelPayload,
        config: Mapping[str, Any] | None,
        session_id: str | None,
        tried: frozenset[str],
    ) -> DeliveryResult:
        output_config = dict(config) if config else {}
        if instance.resolver is not None or instance.custom_resolve:
            output_config = await self._resolve(app, instance, payload, output_config, session_id)
        adapted = None
        if (
            instance.limited
            or (instance.drops_rich and payload.rich_message is not None)
            or (instance.drops_attachments and payload.attachments)
        ):
            adapted = adapt_payload(
                payload,
                instance.capabilities,
                overflow=instance.overflow,
                format_text=instance.channel.format_text,
            )
        if adapted is None:
            result = await self._retry_loop(app, instance, payload, output_config)
        else:
            result = await self._deliver_adapted(app, instance, adapted, output_config)
        if not result.success and instance.fallback is not None:
            # The fallback gets the original payload: it may render what this one could not.
            result = await self._fall_back(app, instance, payload, result, session_id, tried)
        return result

    async def _deliver_adapted(
        self,
        app: AppState,
        instance: Instance,
        adapted: Adapted,
        output_config: dict[str, Any],
    ) -> DeliveryResult:
        results: list[DeliveryResult] = []
        base = requested_key()
        many = len(adapted.payloads) > 1
        for number, part in enumerate(adapted.payloads, start=1):
            # Each part is its own logical delivery (its own idempotency key).
            key = f"{base}.{number}" if base and many else base
            result = await self._retry_loop(app, instance, part, dict(output_config), key)
            results.append(result)
            if not result.success:
                break
        metadata: dict[str, Any] = {**result.metadata, "adapted": adapted.changes}
        count = len(adapted.payloads)
        if count > 1:
            metadata["parts"] = count
            metadata["parts_delivered"] = sum(r.success for r in results)
            metadata["delivery_ids"] = [r.delivery_id for r in results]
        return attrs.evolve(result, metadata=metadata)

    async def _retry_loop(
        self,
        app: AppState,
        instance: Instance,
        payload: ChannelPayload,
        output_config: dict[str, Any],
        key: str | None = None,
    ) -> DeliveryResult:
        channel = instance.channel
        policy = instance.policy
        clock = self.clock
        attempt = 0
        # The same context (idempotency key) for every attempt of this delivery.
        context = DeliveryContext(key or requested_key())
        token = _CURRENT.set(context)
        try:
            while True:
                started = clock.monotonic()
                result = await self._attempt(app, instance, payload, output_config)
                latency_ms = (clock.monotonic() - started) * 1000.0
                if result.success:
                    channel._record_success(latency_ms, clock.now())
                    break
                channel._record_failure(result.error, latency_ms, clock.now())
                if not result.retryable or attempt >= policy.max_retries:
                    break
                attempt += 1
                context.attempt = attempt + 1
                delay = policy.delay(attempt, retry_after=result.retry_after)
                logger.info(
                    "delivery through %s failed (%s); retry %d/%d in %.2fs",
                    channel.name,
                    result.error,
                    attempt,
                    policy.max_retries,
                    delay,
                    extra={"app_id": app.app_id, "channel": channel.name},
                )
                await clock.sleep(delay)
        finally:
            _CURRENT.reset(token)
        if attempt:
            result = attrs.evolve(result, metadata={**result.metadata, "attempts": attempt + 1})
        return result

    async def _attempt(
        self, app: AppState, instance: Instance, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        channel = instance.channel
        result: object = None
        try:
            # The scope gets its deadline only once the delivery waits: arming a timer
            # costs more than a delivery that never waits takes, and cancellation only
            # lands where a coroutine waits, so the deadline bounds it all the same.
            # The scope is entered before the delivery starts: scopes it opens nest in it.
            with anyio.CancelScope() as scope:

                def arm() -> None:
                    scope.deadline = anyio.current_time() + instance.timeout

                # Typed as object: plugins are untyped and may return anything.
                delivery: object = channel.deliver(app.app_id, payload, config)
                if is_coroutine(delivery):
                    result = await on_first_wait(delivery, arm)
                else:
                    scope.deadline = anyio.current_time() + instance.timeout
                    result = await delivery  # type: ignore[misc]
        except Exception as exc:
            logger.warning(
                "channel %s raised %s",
                channel.name,
                type(exc).__name__,
                extra={"app_id": app.app_id, "channel": channel.name},
            )
            # Network errors (ConnectionError, TimeoutError...) are OSErrors: transient.
            error = app.redactor.redact(f"{type(exc).__name__}: {exc}")
            return failure(channel.CHANNEL_ID, error=error, retryable=isinstance(exc, OSError))
        if scope.cancelled_caught:
            error = f"delivery timed out after {instance.timeout:g}s"
            return failure(channel.CHANNEL_ID, error=error, retryable=True)
        if not isinstance(result, DeliveryResult):
            error = f"channel returned {type(result).__name__}, not a DeliveryResult"
            return failure(channel.CHANNEL_ID, error=error)
        return _checked(result, app)

    async def _resolve(
        self,
        app: AppState,
        instance: Instance,
        payload: ChannelPayload,
        explicit: dict[str, Any],
        session_id: str | None,
    ) -> dict[str, Any]:
        context = RecipientContext(
            app_id=app.app_id,
            channel_name=instance.name,
            session_id=session_id,
            output_config=explicit,
            payload=payload,
        )
        if instance.resolver is not None:
            try:
                with anyio.fail_after(instance.timeout):
                    resolved = await instance.resolver.resolve(context)
            except Exception as exc:
                self._resolution_failed(app, instance, exc, "user_resolver")
            else:
                if resolved or not instance.custom_resolve:
                    return {**resolved, **explicit}
            if not instance.custom_resolve:
                return explicit
        # No YAML resolver, or it failed or found nothing: the channel's own hook.
        try:
            with anyio.fail_after(instance.timeout):
                return dict(await instance.channel.resolve_recipient(context))
        except Exception as exc:
            self._resolution_failed(app, instance, exc, "resolve_recipient")
            return explicit

    @staticmethod
    def _resolution_failed(app: AppState, instance: Instance, exc: Exception, what: str) -> None:
        logger.warning(
            "recipient resolution (%s) for %s failed (%s); using the explicit config",
            what,
            instance.name,
            app.redactor.redact(f"{type(exc).__name__}: {exc}"),
            extra={"app_id": app.app_id, "channel": instance.name},
        )

    async def _fall_back(
        self,
        app: AppState,
        instance: Instance,
        payload: ChannelPayload,
        failed: DeliveryResult,
        session_id: str | None,
        tried: frozenset[str],
    ) -> DeliveryResult:
        assert instance.fallback is not None  # checked by the caller
        target, _ = await self._lookup(app, instance.fallback)
        if target.name in tried:
            # A cycle (a -> b -> a): every channel of it has had its chance.
            return failed
        note = attrs.evolve(
            payload,
            metadata={
                **payload.metadata,
                "fallback_from": instance.name,
                "fallback_error": failed.error,
            },
        )
        backup = await self.deliver(app, target, note, None, session_id, tried | {target.name})
        logger.warning(
            "delivery through %s failed for good (%s); fell back to %s (%s)",
            instance.name,
            failed.error,
            target.name,
            "delivered" if backup.success else "failed too",
            extra={"app_id": app.app_id, "channel": instance.name},
        )
        return attrs.evolve(
            failed,
            metadata={
                **failed.metadata,
                "fallback": target.name,
                "fallback_success": backup.success,
                "fallback_delivery_id": backup.delivery_id,
            },
        )


def _masked(result: DeliveryResult, app: AppState) -> DeliveryResult:
    """``result`` with the app's secrets masked in its metadata and delivery id."""
    redactor = app.redactor
    metadata: object = result.metadata
    delivery_id: object = result.delivery_id
    changes: dict[str, Any] = {}
    if metadata:
        masked = redactor.redact_data(metadata)
        if masked != metadata:
            changes["metadata"] = masked
    if isinstance(delivery_id, str) and delivery_id:
        masked_id = redactor.redact(delivery_id)
        if masked_id != delivery_id:
            changes["delivery_id"] = masked_id
    return attrs.evolve(result, **changes) if changes else result


def _checked(result: DeliveryResult, app: AppState) -> DeliveryResult:
    """A plugin's result with its fields made safe for the retry loop and for callers."""
    if app.redactor:
        # A channel may echo what a server answered (a status text, a response id)
        # into metadata: no secret of the app leaves through it.
        result = _masked(result, app)
    # Typed as object: plugins are untyped and may put anything in these fields.
    raw_error: object = result.error
    raw_retry_after: object = result.retry_after
    if raw_error is None and raw_retry_after is None:
        return result  # the common case, kept cheap
    error = None
    if raw_error is not None:
        error = app.redactor.redact(raw_error if isinstance(raw_error, str) else repr(raw_error))
    retry_after = None
    if isinstance(raw_retry_after, int | float | str):
        try:
            retry_after = float(raw_retry_after)  # "5" from a Retry-After header counts
        except ValueError:
            retry_after = None
        if retry_after is not None and not math.isfinite(retry_after):
            retry_after = None
    return attrs.evolve(result, error=error, retry_after=retry_after)


def failure(channel_id: str, error: str, *, retryable: bool = False) -> DeliveryResult:
    return DeliveryResult(success=False, channel_id=channel_id, error=error, retryable=retryable)
