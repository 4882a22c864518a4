"""Running checks: cadence, overlap, timeouts, errors, pause and stop, concurrency."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from digitorn_notify import BaseOutputChannel, ChannelPayload, DeliveryResult, Policy
from digitorn_notify.watchers import ToolNotAllowedError, WatcherEngine
from tests.watchers.support import APP, Harness, eventually, harness, returning

pytestmark = pytest.mark.anyio


async def checked_at(h: Harness, watcher_id: str) -> list[str]:
    entries = (await h.engine.history(watcher_id, last_n=100, app_id=APP)).to_dict()["entries"]
    return [e["checked_at"][11:19] for e in entries]


async def test_first_check_at_once_then_at_a_fixed_rate() -> None:
    async with harness() as h:
        await h.advance(3)
        watcher_id = (await h.engine.start("http.get", interval=10, app_id=APP)).watcher_id
        await h.settle()
        assert len(h.tool.calls) == 1
        await h.advance(9.5)
        assert len(h.tool.calls) == 1
        await h.advance(0.5)
        await h.advance(10, times=3)
        assert await checked_at(h, watcher_id) == [
            "00:00:03",
            "00:00:13",
            "00:00:23",
            "00:00:33",
            "00:00:43",
        ]


async def test_an_idle_engine_does_not_wake_up() -> None:
    async with harness() as h:
        await h.settle()
        assert h.clock.next_deadline() is None  # no watcher: the timer sleeps forever
        watcher_id = (await h.engine.start("http.get", interval=3600, app_id=APP)).watcher_id
        await h.settle()
        assert h.clock.next_deadline() == h.clock.now() + dt.timedelta(hours=1)
        await h.engine.pause(watcher_id, app_id=APP)
        await h.advance(7200)
        assert len(h.tool.calls) == 1


async def test_a_slow_check_skips_ticks_instead_of_piling_up() -> None:
    release = anyio.Event()
    async with harness() as h:
        h.tool.then(returning({"ok": 1}, release.wait), {"ok": 2})
        watcher_id = (await h.engine.start("http.get", interval=5, app_id=APP)).watcher_id
        await h.advance(5, times=4)  # the first check is still waiting
        assert len(h.tool.calls) == 1
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["check_running"] is True
        assert status["skipped_checks"] == 4
        release.set()
        await h.settle()
        await h.advance(5)
        assert len(h.tool.calls) == 2  # back on the original cadence
        assert await checked_at(h, watcher_id) == ["00:00:20", "00:00:25"]


async def test_a_hanging_check_times_out_on_the_engines_clock() -> None:
    async with harness(check_timeout=12) as h:
        hang = anyio.Event()
        h.tool.then(returning({"ok": 1}, hang.wait), {"ok": 2})
        watcher_id = (
            await h.engine.start("http.get", interval=5, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.advance(11.9)
        assert (await h.engine.status(watcher_id, app_id=APP)).check_running is True
        await h.advance(0.1)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["check_running"] is False
        assert status["timeouts"] == 1
        assert status["last_error"] == "the check timed out after 12s"
        assert status["skipped_checks"] == 2  # the ticks at 5 s and 10 s
        assert h.reasons == ["error"]
        assert "Error: the check timed out after 12s" in h.messages[0]
        entry = (await h.engine.history(watcher_id, last_n=1, app_id=APP)).to_dict()["entries"][0]
        assert entry["duration_ms"] == 12000.0
        await h.advance(3)  # tick at 15 s: the next check runs and recovers
        assert h.reasons == ["error", "recovered"]
        assert h.engine.stats().timeouts == 1


async def test_a_timeout_shorter_than_the_interval_wakes_the_timer() -> None:
    async with harness(check_timeout=2) as h:
        h.tool.then(returning({"ok": 1}, lambda: h.clock.sleep(60)))
        watcher_id = (await h.engine.start("http.get", interval=3600, app_id=APP)).watcher_id
        await h.advance(2)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["timeouts"] == 1
        assert status["last_check_at"] == "2026-01-01T00:00:02Z"


async def test_checks_of_several_watchers_wait_concurrently() -> None:
    arrived = 0
    everyone = anyio.Event()

    async def meet() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == 5:
            everyone.set()
        await everyone.wait()

    async with harness(returning({"ok": 1}, meet)) as h:
        for _ in range(5):
            await h.engine.start("http.get", app_id=APP)
        await h.settle()
        await eventually(lambda: h.engine.stats().checks == 5)
        assert h.engine.stats().tasks >= 5


async def test_checks_in_flight_are_limited() -> None:
    in_flight = 0
    most = 0
    gate = anyio.Event()

    async def busy() -> None:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await gate.wait()
        in_flight -= 1

    async with harness(returning({"ok": 1}, busy), max_concurrent_checks=2) as h:
        for _ in range(5):
            await h.engine.start("http.get", interval=60, app_id=APP)
        await h.settle()
        assert (in_flight, h.engine.stats().tasks) == (2, 3)  # 2 checking, 1 timing
        gate.set()
        with anyio.fail_after(5):
            while h.engine.stats().checks < 5:
                await h.settle()
        assert most == 2
        assert len(h.tool.calls) == 5


async def test_checks_that_return_at_once_run_in_the_timer() -> None:
    async with harness({"n": 1}) as h:
        for _ in range(50):
            await h.engine.start("http.get", notify_when="on_error", app_id=APP)
        await h.advance(30, times=3)
        stats = h.engine.stats()
        assert stats.checks == 200
        assert stats.tasks == 1  # nothing waited: no task beyond the timer


async def test_exceptions_and_error_shaped_results_are_errors() -> None:
    script = [
        ConnectionRefusedError("Connection refused"),
        {"success": False, "error": "HTTP 503"},
        {"error": {"code": 7}},
        {"success": False},
        ValueError(),
        {"success": True, "error": "ignored when success is true"},
    ]
    async with harness(*script) as h:
        watcher_id = (
            await h.engine.start("http.get", interval=5, notify_when="always", app_id=APP)
        ).watcher_id
        await h.advance(5, times=5)
        entries = (await h.engine.history(watcher_id, app_id=APP)).to_dict()["entries"]
        assert [e.get("error") for e in entries] == [
            "Connection refused",
            "HTTP 503",
            '{"code": 7}',
            "the tool reported success: false",
            "ValueError",
            None,
        ]
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert (status["error_count"], status["consecutive_errors"]) == (5, 0)


async def test_a_custom_error_detector() -> None:
    def detector(result: Any) -> str | None:
        return None if result.get("status") == "up" else f"status is {result.get('status')}"

    async with harness({"status": "up"}, {"status": "down"}, error_detector=detector) as h:
        watcher_id = (
            await h.engine.start("svc.state", interval=5, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.advance(5)
        assert (await h.engine.status(watcher_id, app_id=APP)).last_error == "status is down"


async def test_results_json_does_not_know_are_converted() -> None:
    @attrs.define
    class Point:
        x: int
        when: dt.datetime

    value = {
        "at": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        "tags": {"b", "a"},
        "point": Point(1, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        "raw": b"\xff\x00",
        "text": b"hello",
        (1, 2): "tuple key",
    }
    async with harness(value) as h:
        watcher_id = (await h.engine.start("x.y", app_id=APP)).watcher_id
        await h.settle()
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["last_result"] == {
            "at": "2026-01-02T03:04:05+00:00",
            "tags": ["a", "b"],
            "point": {"x": 1, "when": "2026-01-01T00:00:00+00:00"},
            "raw": "base64:/wA=",
            "text": "hello",
            "[1, 2]": "tuple key",
        }


async def test_a_result_that_cannot_be_json_is_an_error() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    async with harness(cyclic) as h:
        watcher_id = (await h.engine.start("x.y", app_id=APP)).watcher_id
        await h.settle()
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["last_error"] is not None
        assert status["last_error"].startswith("the result cannot be written as JSON")


async def test_pause_skips_checks_keeps_history_and_resume_keeps_the_phase() -> None:
    async with harness() as h:
        watcher_id = (await h.engine.start("http.get", interval=10, app_id=APP)).watcher_id
        await h.advance(10)
        await h.advance(4)
        paused = (await h.engine.pause(watcher_id, app_id=APP)).to_dict()
        assert paused["check_count"] == 2
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert (status["paused_at"], status["next_check_at"]) == (
            "2026-01-01T00:00:14Z",
            None,
        )
        await h.advance(10, times=5)
        assert len(h.tool.calls) == 2
        await h.engine.resume(watcher_id, app_id=APP)  # at 64 s: the cadence says 70 s
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["next_check_at"] == "2026-01-01T00:01:10Z"
        assert status["paused_at"] is None
        await h.advance(6)
        assert await checked_at(h, watcher_id) == ["00:00:00", "00:00:10", "00:01:10"]


async def test_a_check_running_when_paused_is_recorded() -> None:
    release = anyio.Event()
    async with harness(returning({"ok": 1}, release.wait)) as h:
        watcher_id = (await h.engine.start("http.get", app_id=APP)).watcher_id
        await h.settle()
        await h.engine.pause(watcher_id, app_id=APP)
        release.set()
        await h.settle()
        assert (await h.engine.status(watcher_id, app_id=APP)).check_count == 1


async def test_stop_cancels_the_check_in_flight_and_discards_it() -> None:
    cancelled = anyio.Event()

    async def hang() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with harness(returning({"ok": 1}, hang)) as h:
        watcher_id = (await h.engine.start("http.get", notify_when="always", app_id=APP)).watcher_id
        await h.settle()
        await h.engine.stop(watcher_id, app_id=APP)
        with anyio.fail_after(5):
            await cancelled.wait()
        await h.advance(60)
        assert h.messages == []
        assert h.engine.stats().timeouts == 0
        assert await h.store.list_watchers() == []


async def test_a_policy_change_turns_checks_into_errors() -> None:
    policy = {"http.get": Policy.AUTO}
    async with harness(guard=lambda tool: policy[tool]) as h:
        watcher_id = (
            await h.engine.start("http.get", interval=5, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.settle()
        policy["http.get"] = Policy.BLOCK
        await h.advance(5)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["last_error"] == (
            "'http.get' may not run unattended: the host's policy rates it BLOCK"
        )
        assert len(h.tool.calls) == 1  # the blocked check never ran the tool
        await h.engine.pause(watcher_id, app_id=APP)
        with pytest.raises(ToolNotAllowedError, match=r"'http\.get' cannot be resumed: the host"):
            await h.engine.resume(watcher_id, app_id=APP)
        assert (await h.engine.status(watcher_id, app_id=APP)).status == "paused"


async def test_a_check_that_ignores_cancellation_is_abandoned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    released = anyio.Event()

    async def stubborn() -> None:
        with anyio.CancelScope(shield=True):
            await released.wait()

    async with harness(returning({"late": True}, stubborn), check_timeout=5) as h:
        h.tool.then(returning({"late": True}, stubborn), {"ok": 1})
        watcher_id = (await h.engine.start("http.get", interval=10, app_id=APP)).watcher_id
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            await h.advance(10, times=2)  # deadline at 5 s is ignored; 20 s: overdue by 15 s > 10 s
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["crashes"] == 1
        assert status["last_crash"] == (
            "RuntimeError: check #1 ignored its cancellation 15s after timing out and was abandoned"
        )
        assert "ignored its cancellation" in caplog.text
        assert "crashed" in h.reasons
        await h.advance(10)  # the watcher goes on
        assert (await h.engine.status(watcher_id, app_id=APP)).last_result == {"ok": 1}
        released.set()
        await h.settle()
        # The abandoned check's late result is ignored.
        history = (await h.engine.history(watcher_id, app_id=APP)).to_dict()
        assert [e.get("result") for e in history["entries"]] == [{"ok": 1}]


async def test_a_crash_while_processing_a_check_is_reported_once_and_the_watcher_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = True

    def detector(result: Any) -> str | None:
        if broken:
            raise KeyError("detector bug")
        return None

    async with harness({"ok": 1}, error_detector=detector) as h:
        watcher_id = (
            await h.engine.start("http.get", interval=5, label="API", app_id=APP)
        ).watcher_id
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            await h.advance(5, times=2)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["crashes"] == 3
        assert status["last_crash"] == "KeyError: 'detector bug'"
        assert h.reasons == ["crashed"]  # one notification per streak
        assert h.messages[0].splitlines()[2] == (
            "Internal error: processing this check failed (KeyError: 'detector bug'). "
            "The watcher was restarted and checks go on at the next tick."
        )
        assert caplog.text.count("crashed; the watcher goes on") == 3
        broken = False
        await h.advance(5)
        assert (await h.engine.status(watcher_id, app_id=APP)).check_count == 1
        assert h.reasons == ["crashed", "baseline"]
        assert h.engine.stats().crashes == 3


async def test_a_crashed_timer_is_restarted(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with harness({"ok": 1}) as h:
        watcher_id = (
            await h.engine.start("http.get", interval=5, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.settle()
        runner = h.engine._runner.timing
        original = runner._next_due
        calls = 0

        def flaky(now: float) -> Any:
            nonlocal calls
            calls += 1
            if calls == 1:
                # Lose the heap entry mid-update, as a real bug would.
                runner._ticks.clear()
                raise RuntimeError("timer bug")
            return original(now)

        monkeypatch.setattr(runner, "_next_due", flaky)
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            await h.advance(5)
            await h.advance(0.1)  # the restart backoff
        assert "timer crashed; restarting it" in caplog.text
        assert h.engine.stats().task_restarts == 1
        await h.advance(5)
        assert (await h.engine.status(watcher_id, app_id=APP)).check_count >= 2


async def test_a_failing_delivery_is_recorded_and_does_not_stop_the_watcher(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with harness() as h:
        h.registry.register_type(_Failing)
        await h.registry.deploy_app(
            APP, {"inbox": {"type": "recording"}, "bad": {"type": "failing"}}
        )
        watcher_id = (
            await h.engine.start("http.get", notify_when="always", output_channel="bad", app_id=APP)
        ).watcher_id
        with caplog.at_level(logging.WARNING, "digitorn_notify.watchers"):
            await h.advance(30)
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert (status["check_count"], status["notification_count"]) == (2, 2)
        assert status["last_delivery_error"] == "gateway down"
        assert "delivery to bad failed: gateway down" in caplog.text
        # The registry handed the notification to its fallback, llm_notification.
        async with h.registry.subscribe(APP) as inbox:
            note = await inbox.receive()
            assert note.payload.metadata["fallback_from"] == "bad"


class _Failing(BaseOutputChannel):
    CHANNEL_ID = "failing"
    CHANNEL_NAME = "Failing"
    CHANNEL_VERSION = "1.0.0"

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        return DeliveryResult(success=False, channel_id="failing", error="gateway down")


async def test_engine_exit_cancels_waiting_checks() -> None:
    cancelled = anyio.Event()

    async def hang() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()

    async with harness(returning({"ok": 1}, hang)) as h:
        await h.engine.start("http.get", app_id=APP)
        await h.settle()
    assert cancelled.is_set()


async def test_an_exception_in_the_engines_block_comes_out_unchanged() -> None:
    async def fail_inside() -> None:
        async with harness() as h:
            await h.engine.start("http.get", app_id=APP)
            raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        await fail_inside()


async def test_an_engine_runs_under_a_host_cancel_scope() -> None:
    async with harness() as h:
        engine: WatcherEngine = h.engine
        await engine.start("http.get", app_id=APP)
        with anyio.move_on_after(0.05):
            await anyio.sleep_forever()
        assert engine.stats().checks == 1


async def test_an_invoker_returning_any_awaitable() -> None:
    class Later:
        def __await__(self) -> Any:
            return anyio.lowlevel.checkpoint().__await__()

    class Invoker:
        def invoke(self, tool_name: str, params: Any) -> Later:
            return Later()

    async with harness() as h:
        engine = WatcherEngine(h.registry, Invoker(), clock=h.clock)  # type: ignore[arg-type]
        async with engine:
            watcher_id = (await engine.start("x.y", notify_when="on_error", app_id=APP)).watcher_id
            await eventually(lambda: engine.stats().checks == 1)
            assert (await engine.status(watcher_id, app_id=APP)).last_result is None


async def test_a_tool_that_swallows_its_cancellation_is_recorded_once() -> None:
    async def swallow() -> dict[str, str]:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            return {"gave": "up"}  # bad manners, but it happens
        raise AssertionError

    async with harness(swallow, {"ok": 1}, check_timeout=5) as h:
        watcher_id = (
            await h.engine.start("x.y", interval=10, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.advance(5)
        await h.advance(5)
        history = (await h.engine.history(watcher_id, app_id=APP)).to_dict()
        assert [(e["check"], e.get("result")) for e in history["entries"]] == [
            (1, {"gave": "up"}),
            (2, {"ok": 1}),
        ]
        assert (await h.engine.status(watcher_id, app_id=APP)).timeouts == 0


async def test_a_late_timer_runs_one_late_check_and_skips_the_rest() -> None:
    async with harness() as h:
        watcher_id = (
            await h.engine.start("x.y", interval=10, notify_when="on_error", app_id=APP)
        ).watcher_id
        await h.settle()
        # As if the event loop had been blocked for 62 s: time moved, nobody ran.
        h.clock.set(h.clock.now() + dt.timedelta(seconds=62))
        await h.settle()
        # The tick due at 10 s runs late, once; those at 20..60 s are skipped; the
        # cadence goes on at 70 s.
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["skipped_checks"] == 5
        await h.advance(8)
        assert await checked_at(h, watcher_id) == ["00:00:00", "00:01:02", "00:01:10"]


async def test_a_registry_that_raises_is_survived(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with harness() as h:

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("registry bug")

        monkeypatch.setattr(h.registry, "deliver", broken)
        watcher_id = (await h.engine.start("x.y", app_id=APP)).watcher_id
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            await h.settle()
        status = (await h.engine.status(watcher_id, app_id=APP)).to_dict()
        assert status["last_delivery_error"] == "RuntimeError: registry bug"
        assert status["crashes"] == 0
        assert f"watcher {watcher_id} could not deliver to inbox" in caplog.text


async def test_a_crash_report_that_cannot_be_delivered_is_logged(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def detector(result: Any) -> str | None:
        raise KeyError("bug")

    async with harness(error_detector=detector) as h:
        runner = h.engine._runner

        async def broken_notify(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("notify bug")

        monkeypatch.setattr(runner, "_notify", broken_notify)
        await h.engine.start("x.y", app_id=APP)
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            await h.settle()
        assert "could not report its crash" in caplog.text


async def test_a_crashed_saver_is_restarted(caplog: pytest.LogCaptureFixture) -> None:
    async with harness({"v": 1}) as h:
        saver = h.engine._runner.saver
        fired = False

        class Exploding(set[Any]):
            def pop(self) -> Any:
                nonlocal fired
                if not fired:
                    fired = True
                    raise RuntimeError("saver bug")
                return super().pop()

        saver._dirty = Exploding()
        watcher_id = (await h.engine.start("x.y", app_id=APP)).watcher_id
        with caplog.at_level(logging.ERROR, "digitorn_notify.watchers"):
            await h.settle()  # the baseline notification makes it dirty: the saver crashes
            await h.advance(1)  # restarted after its backoff, it saves
        assert "the watcher engine's saver crashed; restarting it in 0.1s" in caplog.text
        assert h.engine.stats().task_restarts == 1
        record = await h.store.get_watcher(watcher_id)
        assert record is not None
        assert record.data["check_count"] == 1
