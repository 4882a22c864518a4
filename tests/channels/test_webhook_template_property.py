"""Hypothesis, through ``httpx.MockTransport``: whatever a message holds, it stays inside
its field of the webhook's payload template."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitorn_notify import ChannelPayload
from tests.channels.test_webhook_logic import OPEN, Server, deploy

# Any message, whatever quotes, braces or newlines it holds, cannot break the
# template's JSON or add a field to it.
TEMPLATE = '{"text": "{{title}}: {{message}}", "channel": "#alerts"}'


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@settings(max_examples=150, deadline=None)
@given(title=st.text(max_size=40), message=st.text(max_size=200))
def test_any_message_stays_inside_its_template_field(
    backend: str, title: str, message: str
) -> None:
    async def deliver() -> Any:
        server = Server()
        registry = await deploy(server, payload_template=TEMPLATE)
        try:
            await registry.deliver("hook", "app", ChannelPayload(message=message, title=title))
        finally:
            OPEN.remove(registry)
            await registry.aclose()
        return server.bodies()

    assert anyio.run(deliver, backend=backend) == [
        {"text": f"{title}: {message}", "channel": "#alerts"}
    ]
