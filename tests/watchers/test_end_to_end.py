"""A watcher on a real HTTP endpoint on 127.0.0.1, through httpx, on both backends."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from digitorn_notify import ChannelRegistry, FakeClock, MemoryStore
from digitorn_notify.watchers import WatcherEngine
from tests.helpers import RecordingChannel, local_http_server
from tests.watchers.support import APP, eventually

pytestmark = pytest.mark.anyio


async def test_an_http_health_check_notifies_outage_and_recovery() -> None:
    status = {"code": 200}
    with local_http_server() as server:
        server.respond = lambda request: (
            status["code"],
            {},
            json.dumps({"ok": status["code"] == 200}).encode(),
        )

        async with httpx.AsyncClient() as client:

            async def http_get(tool_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
                response = await client.get(params["url"], timeout=5)
                if response.status_code >= 500:
                    raise RuntimeError(f"HTTP {response.status_code}")
                return {"status_code": response.status_code, "body": response.json()}

            clock = FakeClock()
            registry = ChannelRegistry(clock=clock, load_plugins=False)
            registry.register_type(RecordingChannel)
            await registry.deploy_app(APP, {"inbox": {"type": "recording"}})
            inbox = registry.instances(APP)["inbox"]
            assert isinstance(inbox, RecordingChannel)
            async with (
                registry,
                WatcherEngine(
                    registry,
                    http_get,
                    store=MemoryStore(),
                    clock=clock,
                    default_channel="inbox",
                ) as engine,
            ):
                watcher_id = (
                    await engine.start(
                        "http.get",
                        {"url": f"{server.url}/health"},
                        interval=30,
                        label="API health check",
                        notify_when="on_error",
                        app_id=APP,
                    )
                ).watcher_id
                await eventually(lambda: engine.stats().checks == 1)
                status["code"] = 503
                await clock.advance(30)
                await eventually(lambda: len(inbox.calls) == 1)
                await clock.advance(30)
                await eventually(lambda: engine.stats().checks == 3)
                status["code"] = 200
                await clock.advance(30)
                await eventually(lambda: len(inbox.calls) == 2)
                outage, recovery = (payload.message for _, payload, _ in inbox.calls)
                assert outage.splitlines()[1:] == [
                    "Check #2 (interval: 30s, 1 notification(s) so far, strategy: on_error)",
                    "Error: HTTP 503",
                ]
                assert recovery.splitlines()[2:] == [
                    'Result: {"status_code": 200, "body": {"ok": true}}',
                    "Recovered after 2 failed check(s).",
                ]
                history = (await engine.history(watcher_id, app_id=APP)).to_dict()
                assert [e["ok"] for e in history["entries"]] == [True, False, False, True]
                assert len(server.requests) == 4
                assert all(r.path == "/health" for r in server.requests)
