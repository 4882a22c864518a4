"""current_delivery(): one key per logical delivery, stable across its retries."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from digitorn_notify import (
    BaseOutputChannel,
    ChannelPayload,
    ChannelRegistry,
    DeliveryResult,
    FakeClock,
)
from digitorn_notify.channels import DeliveryContext, current_delivery

pytestmark = pytest.mark.anyio


class Flaky(BaseOutputChannel):
    CHANNEL_ID: ClassVar[str] = "flaky"
    CHANNEL_NAME: ClassVar[str] = "Flaky"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, int]] = []

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        delivery = current_delivery()
        assert delivery is not None
        self.seen.append((delivery.key, delivery.attempt))
        ok = delivery.attempt == 3
        return DeliveryResult(success=ok, channel_id="flaky", retryable=not ok)


async def test_key_is_stable_across_retries_and_new_per_delivery() -> None:
    registry = ChannelRegistry(load_plugins=False, clock=FakeClock(autojump=True))
    registry.register_type(Flaky)
    await registry.deploy_app("app", {"f": {"type": "flaky"}})
    await registry.deliver("f", "app", "one")
    await registry.deliver("f", "app", "two")
    seen = registry.instances("app")["f"].seen  # type: ignore[attr-defined]
    assert [attempt for _, attempt in seen] == [1, 2, 3, 1, 2, 3]
    assert len({key for key, _ in seen[:3]}) == 1
    assert seen[0][0] != seen[3][0]
    assert len(seen[0][0]) == 32
    assert current_delivery() is None
    assert repr(DeliveryContext("k")) == "DeliveryContext(key='k', attempt=1)"
