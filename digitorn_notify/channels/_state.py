"""The registry's per-app state: deployed instances, in-flight deliveries, shutdown."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import anyio
import attrs

from digitorn_notify.channels.adapt import OverflowPolicy
from digitorn_notify.channels.base import BaseOutputChannel, RecipientContext
from digitorn_notify.payload import ChannelCapabilities
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.secrets import LOG_FILTER, Redactor

__all__ = ["AppState", "Instance", "UserResolver", "stop_app", "stop_instance"]

logger = logging.getLogger("digitorn_notify.channels")

#: How long one ``on_stop`` may take before it is abandoned.
STOP_TIMEOUT = 10.0
#: How long an undeploy waits for deliveries already under way to finish.
DRAIN_TIMEOUT = 30.0


class UserResolver(Protocol):
    """Looks up per-delivery config (an address) for a session."""

    async def resolve(self, context: RecipientContext) -> Mapping[str, Any]:
        """Resolved fields; the registry merges explicit ``output_config`` over them."""
        ...


@attrs.define(eq=False)
class Instance:
    """A deployed channel with what the delivery loop needs precomputed."""

    channel: BaseOutputChannel
    fallback: str | None
    timeout: float
    resolver: UserResolver | None
    custom_resolve: bool
    implicit: bool = False
    overflow: OverflowPolicy = "truncate"
    #: Read once: a channel declares its retry behaviour and capabilities, they do not
    #: vary per call.
    policy: RetryPolicy = attrs.field(init=False)
    capabilities: ChannelCapabilities = attrs.field(init=False)
    #: What a payload may need adapting for, precomputed so that the common case
    #: (nothing to adapt) costs three attribute checks and no call.
    drops_rich: bool = attrs.field(init=False)
    drops_attachments: bool = attrs.field(init=False)
    limited: bool = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.policy = self.channel.retry_policy()
        caps = self.capabilities = self.channel.capabilities()
        self.drops_rich = not caps.supports_rich_text
        self.drops_attachments = not caps.supports_attachments
        self.limited = caps.max_message_length is not None

    @property
    def name(self) -> str:
        """The instance name in its app."""
        return self.channel.name


@attrs.define(eq=False)
class AppState:
    """One app: its instances, its secrets' redactor, and its deliveries under way."""

    app_id: str
    instances: dict[str, Instance] = attrs.field(factory=dict)
    redactor: Redactor = attrs.field(factory=Redactor)
    #: Type ids whose implicit instance is starting, with the event set when done.
    starting: dict[str, anyio.Event] = attrs.field(factory=dict)
    inflight: int = 0
    #: The state whose instances and counters this one shares (apps never deployed).
    shared: AppState | None = None
    _drained: anyio.Event | None = None

    def serving(self, app_id: str) -> AppState:
        """A state for ``app_id`` made of this one's instances, redactor and counters.

        Apps that were never deployed all use one such shared state, so a delivery to
        an unknown app id (untrusted input) creates nothing that outlives it.
        """
        return AppState(
            app_id,
            instances=self.instances,
            redactor=self.redactor,
            starting=self.starting,
            shared=self,
        )

    def enter(self) -> None:
        """A delivery starts using this app's instances."""
        if self.shared is not None:
            self.shared.enter()
            return
        self.inflight += 1

    def leave(self) -> None:
        """A delivery is done with this app's instances."""
        if self.shared is not None:
            self.shared.leave()
            return
        self.inflight -= 1
        if not self.inflight and self._drained is not None:
            self._drained.set()

    async def wait_drained(self, grace: float) -> bool:
        """Wait (at most ``grace`` seconds) until no delivery is under way; ``True`` if none is."""
        if self.inflight:
            self._drained = anyio.Event()
            with anyio.move_on_after(grace):
                await self._drained.wait()
        return not self.inflight


async def stop_instance(instance: Instance, redactor: Redactor) -> None:
    """Run ``on_stop``, shielded from cancellation and bounded in time; never raises."""
    name = instance.channel.name
    with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_TIMEOUT) as scope:
        try:
            await instance.channel.on_stop()
        except Exception as exc:
            logger.warning(
                "on_stop of channel %s failed: %s",
                name,
                redactor.redact(f"{type(exc).__name__}: {exc}"),
            )
    if scope.cancelled_caught:
        logger.warning("on_stop of channel %s took over %ss; abandoned", name, STOP_TIMEOUT)


async def stop_app(app: AppState) -> None:
    """Let deliveries under way finish, then stop every instance (shielded)."""
    with anyio.CancelScope(shield=True):
        if not await app.wait_drained(DRAIN_TIMEOUT):
            logger.warning(
                "undeploying %s with %d deliveries still under way",
                app.app_id,
                app.inflight,
                extra={"app_id": app.app_id},
            )
        for instance in list(app.instances.values()):
            await stop_instance(instance, app.redactor)
    LOG_FILTER.forget(app.redactor)
