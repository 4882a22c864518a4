"""Instrumentation hooks: one small protocol, called at each event worth counting.

A hook is any callable that takes one :class:`Event` and returns nothing::

    def print_hook(event: dn.Event) -> None:
        print(event.kind, event.app_id, event.subject, event.outcome)

    hooks = dn.Hooks([print_hook, dn.prometheus_hook()])

Components take a :class:`Hooks` (the runtime builds one from ``hooks=``) and call
:meth:`Hooks.emit`. With no hook, ``Hooks.enabled`` is false and components skip
building the event, so instrumentation costs nothing until it is asked for. A hook
that raises is logged (once per hook) and never disturbs the delivery, run or check
that emitted the event.

Hooks whose setup is costly or imports an optional library are given as a
:class:`HookFactory`: the factory runs at the first event, not at start-up, so
``import digitorn_notify`` stays light. The Prometheus and OpenTelemetry adapters
are factories for that reason.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attrs

__all__ = [
    "Event",
    "EventKind",
    "Hook",
    "HookFactory",
    "Hooks",
    "opentelemetry_hook",
    "prometheus_hook",
]

logger = logging.getLogger("digitorn_notify.instrumentation")


class EventKind(enum.StrEnum):
    """What happened. The value is the name adapters use in metric labels."""

    DELIVERY_ATTEMPT = "delivery_attempt"
    DELIVERY_RETRY = "delivery_retry"
    DELIVERY_FALLBACK = "delivery_fallback"
    JOB_FIRED = "job_fired"
    JOB_MISFIRED = "job_misfired"
    WATCHER_CHECK = "watcher_check"
    WATCHER_NOTIFICATION = "watcher_notification"
    TRIGGER_ACTIVATION = "trigger_activation"
    TRIGGER_DROP = "trigger_drop"
    TASK_DONE = "task_done"


@attrs.frozen(slots=True)
class Event:
    """One instrumentation event.

    ``subject`` names what the event is about within the app: the channel of a
    delivery, the job, watcher, trigger or task id. ``outcome`` is a short word
    (``"ok"``, ``"failed"``, ``"dropped"``, ``"throttled"`` ...; see
    ``docs/instrumentation.md`` for each kind's). ``duration`` is in seconds when the
    event ends something that took time. ``attempt`` counts from 1 for deliveries.
    ``detail`` is a short, secret-free reason (an error class, a drop reason).
    """

    kind: EventKind
    app_id: str
    subject: str
    outcome: str = "ok"
    duration: float | None = None
    attempt: int = 0
    detail: str = ""


class Hook(Protocol):
    """Called with each :class:`Event`; its return value is ignored."""

    def __call__(self, event: Event, /) -> None:
        """Record ``event``. Should be quick: it runs inline, in the event loop."""


@attrs.frozen
class HookFactory:
    """A hook built at the first event rather than at start-up.

    ``factory`` takes no argument and returns the :class:`Hook`.
    """

    factory: Callable[[], Hook]


class Hooks:
    """The hooks a component calls. ``Hooks()`` (no hook) is free to call."""

    __slots__ = ("_factories", "_failed", "_hooks")

    def __init__(self, hooks: Iterable[Hook | HookFactory] = ()) -> None:
        self._hooks: list[Hook] = []
        self._factories: list[HookFactory] = []
        self._failed: set[int] = set()
        for hook in hooks:
            if isinstance(hook, HookFactory):
                self._factories.append(hook)
            elif callable(hook):
                self._hooks.append(hook)
            else:
                raise TypeError(f"a hook must be callable or a HookFactory, not {hook!r}")

    @property
    def enabled(self) -> bool:
        """Whether any hook is set; components build no event when it is false."""
        return bool(self._hooks or self._factories)

    def emit(self, event: Event) -> None:
        """Give ``event`` to every hook. A hook that raises is logged once, then ignored."""
        if self._factories:
            self._build()
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                key = id(hook)
                if key not in self._failed:
                    self._failed.add(key)
                    logger.exception(
                        "instrumentation hook %r failed; its later errors are muted", hook
                    )

    def _build(self) -> None:
        factories, self._factories = self._factories, []
        for factory in factories:
            try:
                self._hooks.append(factory.factory())
            except Exception:
                logger.exception("instrumentation hook factory %r failed", factory.factory)

    def __repr__(self) -> str:
        return f"Hooks({len(self._hooks) + len(self._factories)} hooks)"


def _missing(extra: str, module: str) -> ImportError:
    return ImportError(
        f"this hook needs the optional dependency {module!r}: "
        f"pip install 'digitorn-notify[{extra}]'"
    )


def prometheus_hook(
    registry: Any = None, *, namespace: str = "digitorn_notify"
) -> HookFactory:
    """Count events in Prometheus metrics (the ``prometheus`` extra).

    Two metrics, labelled by ``kind``, ``app_id`` and ``outcome``:
    ``<namespace>_events_total`` (a counter) and ``<namespace>_event_duration_seconds``
    (a histogram of the events that carry a duration). ``registry`` defaults to
    ``prometheus_client.REGISTRY``. Subjects (job ids, channel names) are not labels:
    they are unbounded, and Prometheus wants bounded label sets.
    """

    def build() -> Hook:
        try:
            import prometheus_client  # noqa: PLC0415 - optional extra, loaded on first use
        except ImportError:
            raise _missing("prometheus", "prometheus-client") from None
        target = registry if registry is not None else prometheus_client.REGISTRY
        labels = ("kind", "app_id", "outcome")
        total = prometheus_client.Counter(
            f"{namespace}_events_total",
            "digitorn_notify events, by kind, app and outcome",
            labels,
            registry=target,
        )
        seconds = prometheus_client.Histogram(
            f"{namespace}_event_duration_seconds",
            "How long the events that carry a duration took",
            labels,
            registry=target,
        )

        def hook(event: Event) -> None:
            values = (event.kind.value, event.app_id, event.outcome)
            total.labels(*values).inc()
            if event.duration is not None:
                seconds.labels(*values).observe(event.duration)

        return hook

    return HookFactory(build)


def opentelemetry_hook(meter: Any = None) -> HookFactory:
    """Record events with OpenTelemetry metrics (the ``opentelemetry`` extra).

    A counter ``digitorn_notify.events`` and a histogram
    ``digitorn_notify.event.duration`` (seconds), with the attributes ``kind``,
    ``app_id`` and ``outcome``. ``meter`` defaults to the global meter provider's
    meter named ``digitorn_notify``.
    """

    def build() -> Hook:
        try:
            from opentelemetry import metrics  # noqa: PLC0415 - optional extra
        except ImportError:
            raise _missing("opentelemetry", "opentelemetry-api") from None
        target = meter if meter is not None else metrics.get_meter("digitorn_notify")
        counter = target.create_counter(
            "digitorn_notify.events", unit="1", description="digitorn_notify events"
        )
        histogram = target.create_histogram(
            "digitorn_notify.event.duration", unit="s", description="event durations"
        )

        def hook(event: Event) -> None:
            attributes: Mapping[str, str] = {
                "kind": event.kind.value,
                "app_id": event.app_id,
                "outcome": event.outcome,
            }
            counter.add(1, attributes)
            if event.duration is not None:
                histogram.record(event.duration, attributes)

        return hook

    return HookFactory(build)
