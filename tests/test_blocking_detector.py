"""The suite's blocked-loop detector (tests/conftest.py) is real: it fails a test whose
async code blocks the event loop, on asyncio and on trio."""

from __future__ import annotations

import time

import anyio
import anyio.lowlevel
import pytest

from digitorn_notify import ChannelPayload, ChannelRegistry, DeliveryResult
from tests.conftest import BLOCKED_AFTER, BlockedLoopError
from tests.helpers import RecordingChannel

pytestmark = pytest.mark.anyio


@pytest.mark.xfail(raises=BlockedLoopError, strict=True, reason="the detector must catch it")
async def test_a_blocking_sleep_in_a_test_fails_it() -> None:
    await anyio.lowlevel.checkpoint()
    time.sleep(BLOCKED_AFTER * 2)  # noqa: ASYNC251 - the point of the test
    await anyio.lowlevel.checkpoint()


class BlockingChannel(RecordingChannel):
    CHANNEL_ID = "blocking"

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, object]
    ) -> DeliveryResult:
        time.sleep(BLOCKED_AFTER * 2)  # noqa: ASYNC251 - a plugin written carelessly
        return DeliveryResult(success=True, channel_id=self.CHANNEL_ID)


@pytest.mark.xfail(raises=BlockedLoopError, strict=True, reason="the detector must catch it")
async def test_a_channel_that_blocks_fails_the_test_that_delivers_through_it() -> None:
    registry = ChannelRegistry(load_plugins=False)
    registry.register_type(BlockingChannel)
    await registry.deploy_app("app", {"slow": {"type": "blocking"}})
    await registry.deliver("slow", "app", "hello")
    await registry.aclose()


@pytest.mark.blocks_the_loop
async def test_a_test_that_blocks_on_purpose_says_so() -> None:
    time.sleep(BLOCKED_AFTER * 2)  # noqa: ASYNC251 - the point of the test
    await anyio.lowlevel.checkpoint()


async def test_waiting_is_not_blocking() -> None:
    await anyio.sleep(BLOCKED_AFTER * 2)
    await anyio.to_thread.run_sync(time.sleep, BLOCKED_AFTER * 2)
