"""Host protocols: objects and plain callables are both accepted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from digitorn_notify import ActionInvoker, Policy, PolicyGuard, PromptSink
from digitorn_notify.host import as_action_invoker, as_policy_guard, as_prompt_sink

pytestmark = pytest.mark.anyio


async def test_plain_async_function_is_an_invoker() -> None:
    async def tools(tool_name: str, params: Mapping[str, Any]) -> Any:
        return {"tool": tool_name, **params}

    invoker = as_action_invoker(tools)
    assert isinstance(invoker, ActionInvoker)
    assert await invoker.invoke("http.get", {"url": "u"}) == {"tool": "http.get", "url": "u"}


async def test_objects_pass_through_and_sync_functions_are_refused() -> None:
    class Tools:
        async def invoke(self, tool_name: str, params: Mapping[str, Any]) -> Any:
            return tool_name

    tools = Tools()
    assert as_action_invoker(tools) is tools
    with pytest.raises(TypeError, match="async"):
        as_action_invoker(lambda name, params: None)  # type: ignore[arg-type,return-value]


async def test_prompt_sink_from_function() -> None:
    seen = []

    async def submit(app_id: str, session_id: str | None, prompt: str, metadata: Mapping[str, Any]) -> str:
        seen.append((app_id, session_id, prompt, dict(metadata)))
        return "turn-1"

    sink = as_prompt_sink(submit)
    assert isinstance(sink, PromptSink)
    assert await sink.submit("app", "s1", "check the disk", {"job_id": "j"}) == "turn-1"
    assert seen == [("app", "s1", "check the disk", {"job_id": "j"})]


def test_policy_guard_default_and_function() -> None:
    assert as_policy_guard(None).decide("anything") is Policy.AUTO
    guard = as_policy_guard(lambda name: "block" if name.startswith("shell.") else Policy.AUTO)
    assert isinstance(guard, PolicyGuard)
    assert Policy(guard.decide("shell.run")) is Policy.BLOCK
    assert Policy.APPROVE == "approve"  # type: ignore[comparison-overlap]  # a str enum
