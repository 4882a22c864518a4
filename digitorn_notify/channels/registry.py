"""``ChannelRegistry``: channel types, per-app instances, and the delivery flow.

``deliver(name, app_id, payload, config, session_id=...)``:

1. find the instance ``name`` in the app; else a registered type id usable without
   config; else fall back to ``llm_notification`` (the result's metadata says so);
2. structure a ``dict`` (or ``str``) payload into :class:`ChannelPayload`; a bad payload
   is a failed :class:`DeliveryResult`, never an exception;
3. resolve the recipient: the channel's ``user_resolver`` if configured (when it fails
   or finds nothing, the channel's ``resolve_recipient`` is asked instead), else the
   channel's ``resolve_recipient``; explicit per-delivery config wins; a resolver
   failure logs a warning and delivery goes on with the explicit config;
   then the payload is fitted to the channel's capabilities (``channels/adapt.py``):
   rich text and attachments it cannot render are dropped, an over-long message is
   truncated or split into numbered parts, each part a delivery of its own;
4. call ``deliver()`` under a timeout; an exception becomes a failed result;
5. retry while the result is ``retryable``, per the channel's :class:`RetryPolicy`,
   honouring the ``retry_after`` the channel reports, never past ``backoff_max``;
6. record health for each attempt;
7. after the last failure, hand the payload to the instance's ``fallback`` channel;
8. return a :class:`DeliveryResult` whose ``error`` holds no secret.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from importlib.metadata import entry_points
from typing import Any

import anyio
import attrs
import cattrs

from digitorn_notify._convert import converter, describe_structure_error, unknown_key
from digitorn_notify._fanout import fan_out
from digitorn_notify.channels._delivery import DeliveryFlow, failure
from digitorn_notify.channels._guard import (
    START_TIMEOUT,
    deploy_error,
    guarded,
    literal_secrets,
    start_guarded,
)
from digitorn_notify.channels._state import (
    AppState,
    Instance,
    UserResolver,
    stop_app,
    stop_instance,
)
from digitorn_notify.channels.base import BaseOutputChannel
from digitorn_notify.channels.builtin.apprise_bridge import AppriseChannel
from digitorn_notify.channels.builtin.llm_notification import (
    LLMNotificationChannel,
    NotificationHub,
    Subscription,
)
from digitorn_notify.channels.builtin.log import LogChannel
from digitorn_notify.channels.builtin.smtp_email import EmailChannel
from digitorn_notify.channels.builtin.webhook import WebhookChannel
from digitorn_notify.channels.resolver import ActionUserResolver
from digitorn_notify.clock import Clock, SystemClock
from digitorn_notify.config import ChannelConfig, UserResolverConfig, parse_channels
from digitorn_notify.errors import ChannelNotFoundError, ConfigError, DeliveryError
from digitorn_notify.host import ActionInvoker
from digitorn_notify.payload import ChannelHealth, ChannelPayload, DeliveryResult
from digitorn_notify.secrets import LOG_FILTER, Redactor, SecretProvider, as_secret_provider
from digitorn_notify.storage.memory import MemoryStore
from digitorn_notify.storage.protocols import NotificationBuffer
from digitorn_notify.templates import VariableResolver

__all__ = ["ENTRY_POINT_GROUP", "ChannelRegistry", "UserResolver", "UserResolverFactory"]

logger = logging.getLogger("digitorn_notify.channels")

ENTRY_POINT_GROUP = "digitorn.channels"
FALLBACK_CHANNEL = LLMNotificationChannel.CHANNEL_ID
_BUILTIN_TYPES: tuple[type[BaseOutputChannel], ...] = (
    LLMNotificationChannel,
    LogChannel,
    WebhookChannel,
    EmailChannel,
    AppriseChannel,
)
_HEALTH_CHECK_TIMEOUT = 5.0

PayloadInput = ChannelPayload | Mapping[str, Any] | str

#: Builds the resolver of one channel instance from its ``user_resolver:`` block.
UserResolverFactory = Callable[[UserResolverConfig, BaseOutputChannel], UserResolver]


class ChannelRegistry:
    """Channel types, per-app instances, and delivery with retry, health and fallback.

    Use it as an async context manager (``async with ChannelRegistry() as registry``)
    or call :meth:`aclose` so every deployed instance gets its ``on_stop``.

    ``invoker`` is the host's :class:`~digitorn_notify.host.ActionInvoker` (or a plain
    ``async def (tool_name, params)``): with it, a channel's ``user_resolver:`` block
    becomes an :class:`~digitorn_notify.channels.resolver.ActionUserResolver`.
    ``user_resolver_factory`` overrides that with resolvers of your own.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        buffer: NotificationBuffer | None = None,
        secrets: SecretProvider | Callable[[str], str | None] | None = None,
        load_plugins: bool = True,
        delivery_timeout: float = 30.0,
        start_timeout: float = START_TIMEOUT,
        user_resolver_factory: UserResolverFactory | None = None,
        invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]] | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        # Steps 3 to 8 of a delivery; it finds fallback channels through our lookup.
        self._flow = DeliveryFlow(self.clock, self._lookup)
        self.hub = NotificationHub(buffer if buffer is not None else MemoryStore(), self.clock)
        self.delivery_timeout = delivery_timeout
        #: How long a channel's ``on_start`` may take before its deployment is refused.
        self.start_timeout = start_timeout
        self._secrets = as_secret_provider(secrets)
        self._resolver_factory = user_resolver_factory
        if user_resolver_factory is None and invoker is not None:
            self._resolver_factory = self._action_resolver_factory(invoker)
        self._types: dict[str, type[BaseOutputChannel]] = {}
        self._apps: dict[str, AppState] = {}
        self._deploy_locks: dict[str, anyio.Lock] = {}
        self._closed = False
        for channel_type in _BUILTIN_TYPES:
            self.register_type(channel_type)
        if load_plugins:
            self.load_plugins()
        #: The instances apps that were never deployed share (see ``_app``).
        self._undeployed = AppState("")
        self._undeployed.instances[FALLBACK_CHANNEL] = self._implicit(
            self._undeployed.serving(""), FALLBACK_CHANNEL
        )

    def _action_resolver_factory(
        self, invoker: ActionInvoker | Callable[[str, Mapping[str, Any]], Awaitable[Any]]
    ) -> UserResolverFactory:
        def factory(config: UserResolverConfig, channel: BaseOutputChannel) -> UserResolver:
            return ActionUserResolver(
                config,
                invoker,
                clock=self.clock,
                path=f"channels.{channel.name}.user_resolver",
            )

        return factory

    async def __aenter__(self) -> ChannelRegistry:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Undeploy every app (each instance's ``on_stop`` runs); refuse work afterwards."""
        self._closed = True
        with anyio.CancelScope(shield=True):
            for app_id in list(self._apps):
                await self.undeploy_app(app_id)
            await stop_app(self._undeployed)

    # -- types ---------------------------------------------------------------------------

    def register_type(
        self, channel_type: type[BaseOutputChannel], *, replace: bool = False
    ) -> None:
        """Make ``channel_type`` available under its ``CHANNEL_ID``."""
        type_id = getattr(channel_type, "CHANNEL_ID", "")
        if not isinstance(channel_type, type) or not issubclass(channel_type, BaseOutputChannel):
            raise TypeError(f"{channel_type!r} is not a BaseOutputChannel subclass")
        if not type_id:
            raise ValueError(f"{channel_type.__name__} has no CHANNEL_ID")
        current = self._types.get(type_id)
        if (
            current is not None
            and current is not channel_type
            and (not replace or current in _BUILTIN_TYPES)
        ):
            raise ValueError(
                f"channel type {type_id!r} is already registered by "
                f"{current.__module__}.{current.__qualname__}"
            )
        self._types[type_id] = channel_type

    def load_plugins(self) -> list[str]:
        """Register the channel types of the ``digitorn.channels`` entry-point group.

        A plugin that fails to load is logged and skipped; built-ins are never replaced.
        Returns the type ids registered.
        """
        loaded = []
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            try:
                channel_type = entry.load()
                self.register_type(channel_type, replace=True)
            except Exception as exc:
                logger.warning(
                    "channel plugin %s (%s) failed to load: %s", entry.name, entry.value, exc
                )
                continue
            if entry.name != channel_type.CHANNEL_ID:
                logger.info(
                    "channel plugin %s registers type id %s", entry.name, channel_type.CHANNEL_ID
                )
            loaded.append(channel_type.CHANNEL_ID)
        return loaded

    @property
    def types(self) -> Mapping[str, type[BaseOutputChannel]]:
        """Registered channel types by id."""
        return dict(self._types)

    # -- apps ----------------------------------------------------------------------------

    def _new_channel(
        self,
        channel_type: type[BaseOutputChannel],
        config: Mapping[str, Any],
        name: str,
        app_id: str | None,
    ) -> BaseOutputChannel:
        if issubclass(channel_type, LLMNotificationChannel):
            channel: BaseOutputChannel = channel_type(
                config, name=name, app_id=app_id, hub=self.hub
            )
        else:
            channel = channel_type(config, name=name, app_id=app_id)
        channel.clock = self.clock
        return channel

    def _implicit(self, app: AppState, type_id: str) -> Instance:
        # A shared instance (apps never deployed) belongs to no one app.
        owner = None if app.shared is not None else app.app_id
        channel = self._new_channel(self._types[type_id], {}, type_id, owner)
        return Instance(
            channel=channel,
            fallback=None if type_id == FALLBACK_CHANNEL else FALLBACK_CHANNEL,
            timeout=self.delivery_timeout,
            resolver=None,
            custom_resolve=_overrides_resolve(channel),
            implicit=True,
        )

    def _app(self, app_id: str) -> AppState:
        app = self._apps.get(app_id)
        if app is None:
            # Delivering to an app that was never deployed still reaches its agent
            # (llm_notification), through the instances every such app shares: app
            # ids from untrusted input must not each leave state behind.
            app = self._undeployed.serving(app_id)
        return app

    async def deploy_app(
        self,
        app_id: str,
        channels: Mapping[str, Any] | None = None,
        *,
        variables: Mapping[str, Any] | None = None,
    ) -> list[str]:
        """Create the app's channel instances from a ``channels:`` mapping.

        Variables and secrets are resolved, each instance's config is validated, then
        every ``on_start`` runs. Any error is a :class:`ConfigError` naming the path,
        and nothing of the new deployment stays. Deploying an app again replaces its
        instances: the new ones start before the old ones stop (after the deliveries
        under way finish), so a deployment that fails leaves the previous one running.
        Deployments of one app are serialised. Returns the instance names.
        """
        if self._closed:
            raise DeliveryError("the registry is closed")
        parsed = parse_channels(channels)
        lock = self._deploy_locks.setdefault(app_id, anyio.Lock())
        async with lock:
            app = AppState(app_id)
            app.instances[FALLBACK_CHANNEL] = self._implicit(app, FALLBACK_CHANNEL)
            # Before anything runs channel code that might log a secret.
            LOG_FILTER.track(app.redactor)
            started: list[Instance] = []
            try:
                resolver = VariableResolver(variables=variables, secrets=self._secrets)
                for name, block in parsed.items():
                    app.instances[name] = self._build_instance(app, name, block, resolver)
                for name, block in parsed.items():
                    await self._validate(app, name, block)
                for name in parsed:
                    instance = app.instances[name]
                    await start_guarded(
                        instance.channel.on_start,
                        app.redactor,
                        name=name,
                        limit=self.start_timeout,
                    )
                    started.append(instance)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    for instance in reversed(started):
                        await stop_instance(instance, app.redactor)
                LOG_FILTER.forget(app.redactor)
                raise
            previous = self._apps.get(app_id)
            self._apps[app_id] = app
            if previous is not None:
                await stop_app(previous)
        return list(parsed)

    def _build_instance(
        self, app: AppState, name: str, block: ChannelConfig, resolver: VariableResolver
    ) -> Instance:
        path = f"channels.{name}"
        if name == FALLBACK_CHANNEL:
            raise ConfigError(
                f"{FALLBACK_CHANNEL} is built in and always present; choose another name",
                path=path,
            )
        channel_type = self._types.get(block.type)
        if channel_type is None:
            raise ConfigError(
                unknown_key(block.type, self._types, noun="channel type"), path=f"{path}.type"
            )
        config = resolver.resolve(block.config, f"{path}.config")
        app.redactor.add(*resolver.secret_values)
        for short in resolver.unmaskable:
            logger.warning("%s: a secret shorter than 4 characters cannot be masked", short)
        if block.fallback == name:
            raise ConfigError("a channel cannot be its own fallback", path=f"{path}.fallback")
        # The channel is not there yet to name its literal secrets: mask what may be one.
        literal = Redactor(literal_secrets(config))
        channel = guarded(
            lambda: self._new_channel(channel_type, config, name, app.app_id),
            lambda text: literal.redact(app.redactor.redact(text)),
            config_path=f"{path}.config",
            path=path,
            what="cannot create the channel",
        )
        error: ConfigError | None = None
        try:
            # Literal secrets (a token in a webhook URL path) are masked like resolved ones.
            app.redactor.add(*channel.sensitive_values())
            user_resolver = None
            if block.user_resolver is not None:
                user_resolver = self._user_resolver(block, channel, resolver, path)
            return Instance(
                channel=channel,
                fallback=block.fallback,
                timeout=block.delivery_timeout or self.delivery_timeout,
                resolver=user_resolver,
                custom_resolve=_overrides_resolve(channel),
                overflow="split" if block.overflow == "split" else "truncate",
            )
        except ConfigError:
            raise
        except Exception as exc:
            error = deploy_error(exc, app.redactor, path, "cannot create the channel")
        assert error is not None
        raise error  # outside the except block: nothing leads back to the original

    def _user_resolver(
        self,
        block: ChannelConfig,
        channel: BaseOutputChannel,
        resolver: VariableResolver,
        path: str,
    ) -> UserResolver:
        assert block.user_resolver is not None
        if self._resolver_factory is None:
            raise ConfigError(
                "user_resolver needs the host's tools: pass invoker= (an ActionInvoker) "
                "or user_resolver_factory= to ChannelRegistry",
                path=f"{path}.user_resolver",
            )
        params = resolver.resolve(block.user_resolver.params, f"{path}.user_resolver.params")
        factory = self._resolver_factory
        settings = attrs.evolve(block.user_resolver, params=params)
        return guarded(
            lambda: factory(settings, channel),
            Redactor(resolver.secret_values),
            config_path=f"{path}.user_resolver",
            path=f"{path}.user_resolver",
            what="cannot create the user_resolver",
        )

    async def _validate(self, app: AppState, name: str, block: ChannelConfig) -> None:
        instance = app.instances[name]
        path = f"channels.{name}.config"
        error: ConfigError | None = None
        try:
            outcome = instance.channel.validate_config()
            if isinstance(outcome, Awaitable):
                await outcome
        except Exception as exc:
            error = deploy_error(exc, app.redactor, path, "invalid config")
        if error is not None:
            raise error  # outside the except block: nothing leads back to the original
        if (
            block.fallback is not None
            and block.fallback not in app.instances
            and block.fallback not in self._types
        ):
            raise ConfigError(
                unknown_key(
                    block.fallback, {*app.instances, *self._types}, noun="fallback channel"
                ),
                path=f"channels.{name}.fallback",
            )

    async def undeploy_app(self, app_id: str) -> None:
        """Stop (``on_stop``) and forget the app's instances; unknown apps are ignored.

        Deliveries already under way finish first (up to 30 s).
        """
        app = self._apps.pop(app_id, None)
        if app is not None:
            await stop_app(app)

    def instances(self, app_id: str) -> Mapping[str, BaseOutputChannel]:
        """The app's channel instances by name (``llm_notification`` included)."""
        app = self._apps.get(app_id)
        return {} if app is None else {n: i.channel for n, i in app.instances.items()}

    # -- delivery -------------------------------------------------------------------------

    async def _lookup(self, app: AppState, name: str) -> tuple[Instance, str | None]:
        instance = app.instances.get(name)
        if instance is not None:
            return instance, None
        if name not in self._types:
            return app.instances[FALLBACK_CHANNEL], f"unknown channel {name!r}"
        return await self._start_implicit(app, name)

    async def _start_implicit(self, app: AppState, name: str) -> tuple[Instance, str | None]:
        """A type id used directly: an instance with an empty config, if it needs none."""
        while (starting := app.starting.get(name)) is not None:
            await starting.wait()  # another delivery is starting it: use its outcome
        instance = app.instances.get(name)
        if instance is not None:
            return instance, None
        app.starting[name] = done = anyio.Event()
        reason: str | None = None
        try:
            instance = self._implicit(app, name)
            if instance.channel.config_schema().get("required"):
                reason = f"channel type {name!r} needs config: deploy an instance of it"
            else:
                with anyio.fail_after(self.start_timeout):
                    await instance.channel.on_start()
                # Published only once started, so no delivery can use it half-ready.
                app.instances[name] = instance
                return instance, None
        except Exception as exc:
            reason = app.redactor.redact(f"channel type {name!r} cannot run without config: {exc}")
        except BaseException:
            if instance is not None:
                await stop_instance(instance, app.redactor)
            raise
        finally:
            del app.starting[name]
            done.set()
        return app.instances[FALLBACK_CHANNEL], reason

    async def deliver(
        self,
        name: str,
        app_id: str,
        payload: PayloadInput,
        config: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
    ) -> DeliveryResult:
        """Deliver ``payload`` through channel ``name`` of ``app_id`` (see the module doc)."""
        if not isinstance(payload, ChannelPayload):
            coerced = _coerce_payload(payload, name)
            if isinstance(coerced, DeliveryResult):
                return coerced
            payload = coerced
        if self._closed:
            return failure(name, error="the registry is closed")
        return await self._deliver_named(self._app(app_id), name, payload, config, session_id)

    async def _deliver_named(
        self,
        app: AppState,
        name: str,
        payload: ChannelPayload,
        config: Mapping[str, Any] | None,
        session_id: str | None,
    ) -> DeliveryResult:
        app.enter()
        try:
            instance = app.instances.get(name)
            missing = None
            if instance is None:  # not a deployed instance: the slower lookup
                instance, missing = await self._lookup(app, name)
            result = await self._flow.deliver(
                app, instance, payload, config, session_id, frozenset((instance.name,))
            )
        except Exception as exc:
            # A bug (ours or a channel's hook) must not escape into the scheduler.
            text = "".join(traceback.format_exception(exc))
            # Not logger.exception: the traceback must go through the redactor first.
            logger.error("delivery through %s failed: %s", name, app.redactor.redact(text))  # noqa: TRY400
            return failure(name, error=app.redactor.redact(f"{type(exc).__name__}: {exc}"))
        finally:
            app.leave()
        if missing is not None:
            logger.warning(
                "%s; delivered through %s", missing, FALLBACK_CHANNEL, extra={"app_id": app.app_id}
            )
            result = attrs.evolve(
                result,
                metadata={**result.metadata, "fallback_reason": missing, "requested_channel": name},
            )
        return result

    async def deliver_multi(
        self,
        names: Sequence[str],
        app_id: str,
        payload: PayloadInput,
        config: Mapping[str, Any] | None = None,
        *,
        session_id: str | None = None,
    ) -> list[DeliveryResult]:
        """Deliver to every channel in ``names`` concurrently; results in input order.

        One channel's failure cancels nothing: each result says how its delivery went.
        """
        if not isinstance(payload, ChannelPayload):
            coerced = _coerce_payload(payload, "deliver_multi")
            if isinstance(coerced, DeliveryResult):
                return [attrs.evolve(coerced, channel_id=name) for name in names]
            payload = coerced
        if self._closed:
            return [failure(name, error="the registry is closed") for name in names]
        app = self._app(app_id)
        # Local channels finish without waiting: fan_out spends a task only on
        # deliveries that actually wait (HTTP, SMTP), and those all run concurrently.
        return await fan_out(
            names,
            lambda name: self._deliver_named(app, name, payload, config, session_id),
        )

    # -- health and consumers -----------------------------------------------------------------

    def _find(self, name: str, app_id: str | None) -> BaseOutputChannel:
        if app_id is not None:
            apps = [self._apps[app_id]] if app_id in self._apps else []
        else:
            apps = list(self._apps.values())
        found = [app.instances[name].channel for app in apps if name in app.instances]
        if not found:
            where = f" in app {app_id!r}" if app_id else ""
            raise ChannelNotFoundError(f"no channel instance {name!r}{where}")
        if len(found) > 1:
            raise ChannelNotFoundError(f"channel {name!r} exists in several apps; pass app_id")
        return found[0]

    async def health(self, name: str, app_id: str | None = None) -> ChannelHealth:
        """Health of instance ``name`` (of ``app_id``, needed when several apps have it)."""
        return await _health_of(self._find(name, app_id))

    async def health_all(self, app_id: str | None = None) -> dict[str, ChannelHealth]:
        """Health of every instance of ``app_id`` by name; of every app as ``app/name``."""
        report: dict[str, ChannelHealth] = {}
        # Snapshots: health checks await, and apps may be deployed meanwhile.
        for app in list(self._apps.values()):
            if app_id is not None and app.app_id != app_id:
                continue
            for name, instance in list(app.instances.items()):
                key = name if app_id is not None else f"{app.app_id}/{name}"
                report[key] = await _health_of(instance.channel)
        return report

    def subscribe(
        self, app_id: str, session_id: str | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Consume ``llm_notification`` deliveries of an app (or one session of it).

        Buffered notifications are delivered first, oldest first::

            async with registry.subscribe("my-app", session_id="s1") as inbox:
                async for note in inbox:
                    print(note.payload.message)
        """
        return self.hub.subscribe(app_id, session_id)

    # -- naming channels -------------------------------------------------------------------

    def channel_names(self, app_id: str) -> frozenset[str]:
        """The names a delivery of ``app_id`` can use without falling back.

        The app's instances (``llm_notification`` always included) and the type ids
        usable without config (``log``, plugins that require nothing). The scheduler
        and the watchers check an ``output_channel`` against this when a job or a
        watcher is created.
        """
        app = self._apps.get(app_id)
        names = {FALLBACK_CHANNEL, *(app.instances if app is not None else ())}
        names.update(t for t, cls in self._types.items() if _usable_without_config(cls))
        return frozenset(names)


async def _health_of(channel: BaseOutputChannel) -> ChannelHealth:
    """A channel's own health check, bounded; its internal record when the check fails."""
    try:
        with anyio.fail_after(_HEALTH_CHECK_TIMEOUT):
            return await channel.health_check()
    except Exception as exc:
        logger.warning("health check of %s failed: %s", channel.name, type(exc).__name__)
        return channel._health.snapshot()


@functools.cache
def _usable_without_config(channel_type: type[BaseOutputChannel]) -> bool:
    """Whether a type id works as a channel name of its own (it requires no config)."""
    if channel_type is LLMNotificationChannel:
        return True
    try:
        channel = channel_type({}, name=channel_type.CHANNEL_ID)
        return not channel.config_schema().get("required")
    except Exception:  # a plugin that cannot even be built without config
        return False


def _overrides_resolve(channel: BaseOutputChannel) -> bool:
    return type(channel).resolve_recipient is not BaseOutputChannel.resolve_recipient


def _coerce_payload(payload: Any, name: str) -> ChannelPayload | DeliveryResult:
    if isinstance(payload, str):
        return ChannelPayload(message=payload)
    if isinstance(payload, Mapping):
        try:
            return converter.structure(dict(payload), ChannelPayload)
        except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
            reason = "; ".join(describe_structure_error(exc, "payload"))
            return failure(name, error=f"invalid payload: {reason}")
    return DeliveryResult(
        success=False,
        channel_id=name,
        error="invalid payload: expected ChannelPayload, dict or str, "
        f"got {type(payload).__name__}",
    )
