"""Instrumentation hooks: the Hooks fan-out and the Prometheus / OpenTelemetry adapters."""

from __future__ import annotations

import logging

import pytest

from digitorn_notify.instrumentation import (
    Event,
    EventKind,
    HookFactory,
    Hooks,
    opentelemetry_hook,
    prometheus_hook,
)


def _event(kind: EventKind = EventKind.DELIVERY_ATTEMPT, **kw: object) -> Event:
    return Event(kind=kind, app_id="app", subject="alerts", **kw)  # type: ignore[arg-type]


def test_no_hook_is_disabled() -> None:
    hooks = Hooks()
    assert not hooks.enabled
    hooks.emit(_event())  # nothing to call, nothing raised


def test_hooks_are_called_in_order() -> None:
    seen: list[tuple[str, Event]] = []
    hooks = Hooks([lambda e: seen.append(("a", e)), lambda e: seen.append(("b", e))])
    event = _event(outcome="failed", attempt=2, detail="ConnectError")
    hooks.emit(event)
    assert seen == [("a", event), ("b", event)]


def test_a_failing_hook_is_logged_once_and_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Event] = []

    def broken(_: Event) -> None:
        raise RuntimeError("boom")

    hooks = Hooks([broken, seen.append])
    with caplog.at_level(logging.ERROR, logger="digitorn_notify.instrumentation"):
        for _ in range(3):
            hooks.emit(_event())
    assert len(seen) == 3
    assert len([r for r in caplog.records if "failed" in r.getMessage()]) == 1


def test_factories_run_at_the_first_event_only() -> None:
    built: list[int] = []
    seen: list[Event] = []

    def factory() -> object:
        built.append(1)
        return seen.append

    hooks = Hooks([HookFactory(factory)])  # type: ignore[arg-type]
    assert hooks.enabled
    assert built == []
    hooks.emit(_event())
    hooks.emit(_event())
    assert built == [1]
    assert len(seen) == 2


def test_a_non_callable_hook_is_refused() -> None:
    with pytest.raises(TypeError, match="callable"):
        Hooks([42])  # type: ignore[list-item]


def test_prometheus_text_output() -> None:
    prometheus_client = pytest.importorskip("prometheus_client")
    registry = prometheus_client.CollectorRegistry()
    hooks = Hooks([prometheus_hook(registry)])
    hooks.emit(_event(duration=0.25))
    hooks.emit(_event(outcome="failed", duration=0.5))
    hooks.emit(_event(EventKind.JOB_FIRED))
    text = prometheus_client.generate_latest(registry).decode()
    assert (
        'digitorn_notify_events_total{app_id="app",kind="delivery_attempt",outcome="ok"} 1.0'
        in text
    )
    assert (
        'digitorn_notify_events_total{app_id="app",kind="delivery_attempt",outcome="failed"} 1.0'
        in text
    )
    assert 'digitorn_notify_events_total{app_id="app",kind="job_fired",outcome="ok"} 1.0' in text
    assert (
        'digitorn_notify_event_duration_seconds_sum{app_id="app",kind="delivery_attempt",'
        'outcome="failed"} 0.5' in text
    )


def test_opentelemetry_records_through_a_real_sdk_meter() -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    hooks = Hooks([opentelemetry_hook(provider.get_meter("test"))])
    hooks.emit(_event(duration=0.1))
    hooks.emit(_event(EventKind.TASK_DONE, outcome="failed"))
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[object]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points[metric.name] = list(metric.data.data_points)
    counts = {
        (p.attributes["kind"], p.attributes["outcome"]): p.value  # type: ignore[attr-defined]
        for p in points["digitorn_notify.events"]
    }
    assert counts == {("delivery_attempt", "ok"): 1, ("task_done", "failed"): 1}
    assert len(points["digitorn_notify.event.duration"]) == 1
