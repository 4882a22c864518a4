"""The main example: channels, a consumer, fallback, fan-out, health, a job and a
watcher, on SQLite.

Run with ``make demo``. Nothing to start: the embedded SQLite store lives in a
temporary directory.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio

import digitorn_notify as dn

APP = "monitoring-bot"


class FlakyPager(dn.BaseOutputChannel):
    """A pager whose API is down: every delivery fails with a transient error."""

    CHANNEL_ID = "flaky_pager"
    CHANNEL_NAME = "Flaky pager"
    CHANNEL_VERSION = "1.0.0"

    def retry_policy(self) -> dn.RetryPolicy:
        return dn.RetryPolicy(max_retries=2, backoff_base=0.05)

    async def deliver(
        self, app_id: str, payload: dn.ChannelPayload, config: dict[str, Any]
    ) -> dn.DeliveryResult:
        return dn.DeliveryResult(
            success=False, channel_id=self.CHANNEL_ID, error="HTTP 503", retryable=True
        )


CHANNELS = {
    "audit": {
        "type": "log",
        "config": {"logger_name": "demo.audit", "format": "json", "include_data": True},
    },
    "console": {"type": "log", "config": {"logger_name": "demo.console", "level": "WARNING"}},
    "pager": {"type": "flaky_pager"},  # falls back to llm_notification when it gives up
}


async def disk_usage(tool_name: str, params: Mapping[str, Any]) -> Any:
    """Stands for one of the host's tools."""
    return {"host": params["host"], "disk_pct": 91}


def show(label: str, result: dn.DeliveryResult) -> None:
    extra = f" buffered={result.buffered}" if result.buffered else ""
    reason = result.metadata.get("fallback_reason")
    print(f"  {label:<28} success={result.success} via={result.channel_id}{extra}"
          + (f" ({reason})" if reason else ""))


async def main() -> None:
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stdout, format="    log [%(name)s] %(message)s"
    )
    logging.getLogger("demo").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        async with dn.SQLiteStore(Path(tmp) / "notify.db") as store, dn.ChannelRegistry(
            buffer=store
        ) as registry:
            registry.register_type(FlakyPager)
            print(f"channel types: {', '.join(sorted(registry.types))}")
            print(f"deployed {APP}: {await registry.deploy_app(APP, CHANNELS)}")

            print("\n1. nobody connected: llm_notification buffers in SQLite")
            show("llm_notification", await registry.deliver(
                "llm_notification", APP, "Backup finished", session_id="alice"))

            print("\n2. a consumer connects: the buffer drains first, then live pushes")
            async with registry.subscribe(APP, session_id="alice") as inbox:
                note = await inbox.receive()
                print(f"  received (buffered={note.buffered}): {note.payload.message}")
                show("unknown channel 'sms'", await registry.deliver(
                    "sms", APP, {"message": "CPU at 97% on db-1", "priority": "high"},
                    session_id="alice"))
                note = await inbox.receive()
                print(f"  received (live): {note.payload.message} "
                      f"[priority={note.payload.priority}]")

                print("\n3. a failing channel: retried, then the fallback delivers")
                result = await registry.deliver("pager", APP, "Pager test", session_id="alice")
                show("pager", result)
                print(f"  attempts={result.metadata['attempts']} error={result.error!r} "
                      f"fallback={result.metadata['fallback']}")
                note = await inbox.receive()
                print(f"  received (live): {note.payload.message} "
                      f"(fallback_from={note.payload.metadata['fallback_from']})")

                print("\n4. fan-out with deliver_multi (concurrent, results in order)")
                payload = dn.ChannelPayload(
                    message="Disk at 91% on db-1", title="Disk alert", tags=["ops", "disk"],
                    structured_data={"host": "db-1", "disk_pct": 91}, priority="high",
                )
                results = await registry.deliver_multi(
                    ["audit", "console", "llm_notification"], APP, payload, session_id="alice")
                for name, result in zip(["audit", "console", "llm_notification"], results,
                                        strict=True):
                    show(name, result)
                note = await inbox.receive()
                print(f"  received (live): {note.payload.title}: {note.payload.message}")

            print("\n5. channel health")
            for name, health in (await registry.health_all(APP)).items():
                latency = f"{health.latency_ms:.3f} ms" if health.latency_ms is not None else "-"
                print(f"  {name:<18} status={health.status} deliveries={health.deliveries_total}"
                      f" failures={health.failures_total} latency={latency}")

            print("\n6. a job and a watcher: app_id on every call, to_dict() is the agent's answer")
            async with (
                dn.Scheduler(registry, store=store, invoker=disk_usage) as scheduler,
                dn.WatcherEngine(registry, disk_usage, store=store) as engine,
                registry.subscribe(APP, session_id="alice") as inbox,
            ):
                job = await scheduler.schedule_once(
                    timedelta(0), app_id=APP, session_id="alice", prompt="Stand-up starts now")
                print(f"  schedule_once -> {job.to_dict()}")
                watcher = await engine.start(
                    "disk.usage", {"host": "db-1"}, app_id=APP, session_id="alice",
                    watcher_id="disk-db-1", replace_existing=True)
                print(f"  watch_start   -> {watcher.to_dict()['hint']}")
                with anyio.fail_after(10):
                    for _ in range(2):
                        note = await inbox.receive()
                        print(f"  received (live): {note.payload.message.splitlines()[0]}")
                try:
                    await scheduler.schedule_cron("0 9 * * 1-5", app_id=APP, prompt="Daily report",
                                                  output_channel="audti")
                except dn.ConfigError as exc:
                    print(f"  refused at once: {exc}")


if __name__ == "__main__":
    anyio.run(main)
