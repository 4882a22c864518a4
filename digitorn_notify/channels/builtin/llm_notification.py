"""``llm_notification``: push to the host's connected consumers, buffer when none is.

The host (an agent loop, a UI, a test) consumes notifications with
``registry.subscribe(app_id, session_id)``. A notification meant for session ``S``
reaches the consumers of ``S`` and the app-wide consumers (``session_id=None``); one
without a session reaches every consumer of the app. With no consumer to take it,
it is buffered in the :class:`~digitorn_notify.storage.NotificationBuffer`: at most
100 per app (oldest dropped), kept 24 hours, and drained in order to the next
consumer that connects. A consumer that leaves with notifications still unread puts
them back in the buffer, so nothing is lost between connections.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar

import anyio
import attrs
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from digitorn_notify._convert import converter, describe_structure_error
from digitorn_notify._json import dumps
from digitorn_notify.channels.base import BaseOutputChannel, RecipientContext
from digitorn_notify.channels.builtin._configs import (
    LLMNotificationConfig,
    LLMNotificationDeliveryConfig,
)
from digitorn_notify.clock import Clock
from digitorn_notify.payload import ChannelCapabilities, ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.storage.protocols import (
    BufferedNotification,
    NotificationBuffer,
    unreadable_reason,
)

__all__ = ["LLMNotificationChannel", "Notification", "NotificationHub", "Subscription"]

logger = logging.getLogger("digitorn_notify.channels.llm_notification")

BUFFER_MAX_PER_APP = 100
BUFFER_TTL = timedelta(hours=24)


@attrs.frozen
class Notification:
    """A notification as a consumer receives it."""

    notification_id: str
    app_id: str
    session_id: str | None
    payload: ChannelPayload
    created_at: datetime
    #: True when it waited in the buffer before reaching this consumer.
    buffered: bool = False


class Subscription:
    """An async iterator of :class:`Notification` for one consumer.

    Obtained from ``registry.subscribe(...)`` (an async context manager); iterate it
    with ``async for``, or take one item with :meth:`receive`.
    """

    def __init__(self, hub: NotificationHub, app_id: str, session_id: str | None) -> None:
        self.app_id = app_id
        self.session_id = session_id
        self._hub = hub
        send, receive = anyio.create_memory_object_stream[Notification](hub.queue_size)
        self._send: MemoryObjectSendStream[Notification] = send
        self._receive: MemoryObjectReceiveStream[Notification] = receive
        # While the buffer is being drained, live notifications wait here so that
        # the consumer sees buffered ones first, in order.
        self._held: list[Notification] | None = []

    def wants(self, app_id: str, session_id: str | None) -> bool:
        """Whether a notification for ``(app_id, session_id)`` is for this consumer."""
        return app_id == self.app_id and (
            self.session_id is None or session_id is None or session_id == self.session_id
        )

    def offer(self, note: Notification) -> bool:
        """Hand ``note`` over without waiting; ``False`` when this consumer is full."""
        if self._held is not None:
            self._held.append(note)
            return True
        try:
            self._send.send_nowait(note)
        except (anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return False
        return True

    def _open(self, backlog: list[Notification]) -> list[Notification]:
        """Hand over the backlog, then what arrived meanwhile; return what did not fit."""
        held, self._held = self._held or [], None
        overflow = [note for note in [*backlog, *held] if not self.offer(note)]
        if overflow:
            logger.warning(
                "consumer queue full: %d notifications stay buffered",
                len(overflow),
                extra={"app_id": self.app_id, "session_id": self.session_id},
            )
        return overflow

    async def receive(self) -> Notification:
        """The next notification (waits for one)."""
        return await self._receive.receive()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Notification:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    def _unread(self) -> list[Notification]:
        self._send.close()
        unread = []
        while True:
            try:
                unread.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
        self._receive.close()
        return [*unread, *(self._held or [])]

    def __repr__(self) -> str:
        return f"Subscription(app_id={self.app_id!r}, session_id={self.session_id!r})"


class NotificationHub:
    """Routes ``llm_notification`` deliveries to subscriptions, or to the buffer."""

    def __init__(
        self,
        buffer: NotificationBuffer,
        clock: Clock,
        *,
        max_per_app: int = BUFFER_MAX_PER_APP,
        ttl: timedelta = BUFFER_TTL,
        queue_size: int = 1000,
    ) -> None:
        self.buffer = buffer
        self.clock = clock
        self.max_per_app = max_per_app
        self.ttl = ttl
        self.queue_size = queue_size
        self._subscriptions: dict[str, list[Subscription]] = {}

    def consumers(self, app_id: str) -> int:
        """How many consumers of ``app_id`` are connected."""
        return len(self._subscriptions.get(app_id, ()))

    @asynccontextmanager
    async def subscribe(
        self, app_id: str, session_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        """Connect a consumer; buffered notifications for it come first, in order."""
        subscription = Subscription(self, app_id, session_id)
        self._subscriptions.setdefault(app_id, []).append(subscription)
        try:
            # Shielded: drained entries are deleted from the store, so a cancellation
            # must not discard them between the drain and the hand-over.
            with anyio.CancelScope(shield=True):
                entries = await self.buffer.drain_notifications(
                    app_id, session_id=session_id, now=self.clock.now()
                )
                backlog, unreadable = self._read_entries(entries)
                await self._store_all(subscription._open(backlog))
                await self._keep(unreadable)
            yield subscription
        finally:
            peers = self._subscriptions.get(app_id, [])
            if subscription in peers:
                peers.remove(subscription)
            if not peers:
                self._subscriptions.pop(app_id, None)
            with anyio.CancelScope(shield=True):
                await self._store_all(subscription._unread())

    async def _store_all(self, notes: list[Notification]) -> None:
        """Put notifications back in the buffer; one that fails does not stop the rest."""
        for note in notes:
            try:
                await self._store(note)
            except Exception as exc:
                logger.warning(
                    "could not buffer notification %s: %s",
                    note.notification_id,
                    exc,
                    extra={"app_id": note.app_id},
                )

    async def publish(
        self, app_id: str, session_id: str | None, payload: ChannelPayload
    ) -> Notification:
        """Push to matching consumers, or buffer; returns the notification made.

        The payload is normalised to its JSON form first, so a live consumer sees the
        same types a consumer of the buffer would (ISO strings for datetimes, base64
        for bytes), and data the buffer could not store is refused up front
        (``ValueError``) instead of being lost later.
        """
        payload = normalise(payload)
        note = Notification(
            notification_id=uuid.uuid4().hex,
            app_id=app_id,
            session_id=session_id,
            payload=payload,
            created_at=self.clock.now(),
        )
        taken = 0
        for subscription in self._subscriptions.get(app_id, ()):
            if subscription.wants(app_id, session_id) and subscription.offer(note):
                taken += 1
        if not taken:
            await self._store(note)
        return attrs.evolve(note, buffered=not taken)

    async def _store(self, note: Notification) -> None:
        entry = BufferedNotification(
            entry_id=note.notification_id,
            app_id=note.app_id,
            session_id=note.session_id,
            created_at=note.created_at,
            expires_at=note.created_at + self.ttl,
            data=converter.unstructure(note.payload),
        )
        dropped = await self.buffer.push_notification(entry, max_per_app=self.max_per_app)
        if dropped:
            logger.warning(
                "notification buffer full: dropped the %d oldest",
                dropped,
                extra={"app_id": note.app_id},
            )

    @staticmethod
    def _read_entries(
        entries: list[BufferedNotification],
    ) -> tuple[list[Notification], list[BufferedNotification]]:
        """The entries as notifications, and those that cannot be read (reported)."""
        notes, unreadable = [], []
        for entry in entries:
            note = _from_entry(entry)
            if isinstance(note, Notification):
                notes.append(note)
                continue
            # One unreadable entry (a torn write, another version's) costs only itself.
            logger.error(
                "buffered notification %s cannot be read and stays in the buffer until it "
                "expires: %s",
                entry.entry_id,
                note,
                extra={"app_id": entry.app_id},
            )
            unreadable.append(entry)
        return notes, unreadable

    async def _keep(self, entries: list[BufferedNotification]) -> None:
        """Put unreadable entries back as they were, for inspection."""
        for entry in entries:
            try:
                await self.buffer.push_notification(entry, max_per_app=self.max_per_app)
            except Exception as exc:
                logger.warning(
                    "could not keep unreadable notification %s: %s",
                    entry.entry_id,
                    exc,
                    extra={"app_id": entry.app_id},
                )


def _from_entry(entry: BufferedNotification) -> Notification | str:
    """The notification ``entry`` holds, or why it cannot be read."""
    undecodable = unreadable_reason(entry.data)
    if undecodable is not None:
        return undecodable
    try:
        payload = converter.structure(entry.data, ChannelPayload)
    except Exception as exc:
        return "; ".join(describe_structure_error(exc, "data"))
    return Notification(
        notification_id=entry.entry_id,
        app_id=entry.app_id,
        session_id=entry.session_id,
        payload=payload,
        created_at=entry.created_at,
        buffered=True,
    )


def normalise(payload: ChannelPayload) -> ChannelPayload:
    """``payload`` as it reads after a JSON round trip; ``ValueError`` if it has none."""
    data = converter.unstructure(payload)
    try:
        # NaN and infinities become null, as everywhere a payload becomes JSON.
        text = dumps(data)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"payload is not JSON-compatible: {exc}") from None
    return converter.structure(json.loads(text), ChannelPayload)


class LLMNotificationChannel(BaseOutputChannel):
    """Deliver to the host's agent conversation (always registered; the fallback)."""

    CHANNEL_ID: ClassVar[str] = "llm_notification"
    CHANNEL_NAME: ClassVar[str] = "LLM notification"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"
    CHANNEL_DESCRIPTION: ClassVar[str] = (
        "Push to the agent's conversation; buffer while no consumer is connected"
    )

    CONFIG_CLASS: ClassVar[type[Any]] = LLMNotificationConfig
    PER_DELIVERY_CONFIG_CLASS: ClassVar[type[Any]] = LLMNotificationDeliveryConfig

    def __init__(self, *args: Any, hub: NotificationHub, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hub = hub

    def capabilities(self) -> ChannelCapabilities:
        """Consumers receive the payload object itself: nothing needs adapting."""
        return ChannelCapabilities(
            supports_rich_text=True,
            supports_attachments=True,
            supports_threading=True,
            supported_formats=["text", "html", "markdown", "json"],
        )

    def retry_policy(self) -> RetryPolicy:
        """Local and in-memory: nothing to retry."""
        return RetryPolicy.no_retry()

    async def resolve_recipient(self, context: RecipientContext) -> dict[str, Any]:
        """The delivery's session, unless ``output_config`` names one."""
        if context.session_id is None or "session_id" in context.output_config:
            return context.output_config
        return {"session_id": context.session_id, **context.output_config}

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Publish through the hub."""
        session_id = config.get("session_id")
        note = await self.hub.publish(
            app_id, None if session_id is None else str(session_id), payload
        )
        return DeliveryResult(
            success=True,
            channel_id=self.CHANNEL_ID,
            delivery_id=note.notification_id,
            buffered=note.buffered,
        )
