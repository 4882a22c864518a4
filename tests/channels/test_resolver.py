"""The YAML user_resolver: the host's invoker is the only thing mocked."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import anyio
import pytest

from digitorn_notify import (
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    FakeClock,
    RecipientContext,
    UserResolverConfig,
)
from digitorn_notify.channels import ActionUserResolver, ResolverError
from digitorn_notify.channels.resolver import first_row
from tests.helpers import LookupChannel, RecordingChannel

pytestmark = pytest.mark.anyio

QUERY = "SELECT phone, email FROM users WHERE session_id = :session_id"


class Host:
    """Stands in for the host's tools: records calls, answers from a table."""

    def __init__(self, result: Any = None, *, fail: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.result = result if result is not None else {"rows": [{"phone": "+33612345678"}]}
        self.fail = fail
        self.gate: anyio.Event | None = None

    async def invoke(self, tool_name: str, params: Mapping[str, Any]) -> Any:
        self.calls.append((tool_name, dict(params)))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise ConnectionError("database down")
        return self.result


def block(**overrides: Any) -> dict[str, Any]:
    return {
        "module": "database",
        "action": "fetch_results",
        "params": {"query": QUERY},
        "mapping": {"to_number": "phone"},
        **overrides,
    }


async def make(host: Host, clock: FakeClock | None = None, **resolver: Any) -> ChannelRegistry:
    registry = ChannelRegistry(
        load_plugins=False, clock=clock or FakeClock(autojump=True), invoker=host.invoke
    )
    registry.register_type(RecordingChannel)
    registry.register_type(LookupChannel)
    channel_type = resolver.pop("channel_type", "recording")
    await registry.deploy_app(
        "app", {"sms": {"type": channel_type, "user_resolver": block(**resolver)}}
    )
    return registry


def sent(registry: ChannelRegistry) -> list[dict[str, Any]]:
    return [call[2] for call in registry.instances("app")["sms"].calls]  # type: ignore[attr-defined]


async def test_session_id_stays_a_bind_parameter_and_explicit_config_wins() -> None:
    host = Host()
    registry = await make(host)
    await registry.deliver("sms", "app", "x", session_id="abc123")
    await registry.deliver("sms", "app", "x", {"to_number": "+1"}, session_id="abc123")
    assert host.calls == [
        ("database.fetch_results", {"query": QUERY, "params": {"session_id": "abc123"}})
    ]
    assert sent(registry) == [{"to_number": "+33612345678"}, {"to_number": "+1"}]


async def test_session_id_in_other_strings_is_url_quoted() -> None:
    host = Host({"push_token": "tok", "device_platform": "ios"})
    registry = await make(
        host,
        module="http",
        action="json_api",
        params={
            "url": "https://auth.internal/users/{{session_id}}/contacts?s=:session_id",
            "method": "GET",
            "params": {"limit": 1},
        },
        mapping={"device_token": "push_token", "platform": "device_platform"},
    )
    await registry.deliver("sms", "app", "x", session_id="a:b@c")
    assert host.calls == [
        (
            "http.json_api",
            {
                "url": "https://auth.internal/users/a%3Ab%40c/contacts?s=a%3Ab%40c",
                "method": "GET",
                "params": {"limit": 1},
            },
        )
    ]
    assert sent(registry) == [{"device_token": "tok", "platform": "ios"}]


async def test_template_token_in_sql_is_refused_at_deploy() -> None:
    with pytest.raises(ConfigError) as info:
        await make(Host(), params={"query": "SELECT 1 WHERE s = '{{session_id}}'"})
    assert info.value.path == "channels.sms.user_resolver.params.query"
    assert ":session_id" in info.value.reason


@pytest.mark.parametrize("session_id", ["x' OR '1'='1", "a b", "é", "a" * 129, "a/b"])
async def test_suspicious_session_ids_are_refused(
    session_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    host = Host()
    registry = await make(host)
    result = await registry.deliver("sms", "app", "x", {"to": "explicit"}, session_id=session_id)
    assert result.success
    assert host.calls == []
    assert sent(registry) == [{"to": "explicit"}]
    assert "session id refused" in caplog.text


@pytest.mark.parametrize(
    "result",
    [
        {"phone": "+1"},
        [{"phone": "+1"}, {"phone": "+2"}],
        {"rows": [{"phone": "+1"}]},
        {"columns": ["id", "phone"], "rows": [[7, "+1"]]},
        {"data": [{"phone": "+1"}], "count": 1},
    ],
)
def test_result_shapes(result: Any) -> None:
    row = first_row(result)
    assert row is not None
    assert row["phone"] == "+1"


@pytest.mark.parametrize("result", [[], {"rows": []}, {}, None, "text", [["no", "columns"]]])
def test_results_without_a_row(result: Any) -> None:
    assert first_row(result) is None


async def test_cache_ttl_and_disabled_cache() -> None:
    clock = FakeClock(autojump=True)
    host = Host()
    registry = await make(host, clock)
    for _ in range(3):
        await registry.deliver("sms", "app", "x", session_id="s1")
    assert len(host.calls) == 1
    await clock.advance(301)
    await registry.deliver("sms", "app", "x", session_id="s1")
    assert len(host.calls) == 2

    uncached = Host()
    registry = await make(uncached, cache_ttl=0)
    for _ in range(3):
        await registry.deliver("sms", "app", "x", session_id="s1")
    assert len(uncached.calls) == 3


async def test_least_recently_used_entries_are_evicted() -> None:
    host = Host()
    resolver = ActionUserResolver(
        UserResolverConfig(**block()), host.invoke, clock=FakeClock(), max_entries=2
    )

    def context(session_id: str) -> RecipientContext:
        return RecipientContext("app", "sms", session_id, {}, ChannelPayload(message="x"))

    for session_id in ("a", "b", "a", "c", "a", "b"):
        await resolver.resolve(context(session_id))
    # a, b cached; a refreshed; c evicts b; a is a hit; b is looked up again.
    assert [p["params"]["session_id"] for _, p in host.calls] == ["a", "b", "c", "b"]
    assert "cached=2" in repr(resolver)
    resolver.invalidate("a")
    await resolver.resolve(context("a"))
    resolver.invalidate()
    assert len(host.calls) == 5


async def test_concurrent_lookups_of_one_session_share_one_call() -> None:
    host = Host()
    host.gate = anyio.Event()
    registry = await make(host)

    async def one() -> None:
        await registry.deliver("sms", "app", "x", session_id="s1")

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        host.gate.set()
    assert len(host.calls) == 1
    assert sent(registry) == [{"to_number": "+33612345678"}] * 10


async def test_failures_are_not_cached_and_delivery_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = Host(fail=1)
    registry = await make(host)
    caplog.set_level(logging.WARNING, logger="digitorn_notify.channels")
    first = await registry.deliver("sms", "app", "x", {"to": "explicit"}, session_id="s1")
    second = await registry.deliver("sms", "app", "x", session_id="s1")
    assert first.success
    assert second.success
    assert len(host.calls) == 2
    assert sent(registry) == [{"to": "explicit"}, {"to_number": "+33612345678"}]
    assert "database down" in caplog.text


async def test_no_row_falls_back_to_the_channels_own_resolve_recipient(
    caplog: pytest.LogCaptureFixture,
) -> None:
    host = Host({"rows": []})
    registry = await make(host, channel_type="lookup")
    await registry.deliver("sms", "app", "x", session_id="s1")
    assert sent(registry) == [{"to_number": "+33-s1", "source": "lookup"}]
    assert "returned no row" in caplog.text


async def test_unmapped_row_is_a_failure_and_empty_mapping_returns_the_row() -> None:
    host = Host({"email": "a@example.com"})
    registry = await make(host)
    await registry.deliver("sms", "app", "x", session_id="s1")
    assert sent(registry) == [{}]
    whole = await make(Host({"email": "a@example.com"}), mapping={})
    await whole.deliver("sms", "app", "x", session_id="s1")
    assert sent(whole) == [{"email": "a@example.com"}]


async def test_without_session_nothing_is_looked_up() -> None:
    host = Host()
    registry = await make(host)
    await registry.deliver("sms", "app", "x", {"to": "y"})
    assert host.calls == []
    assert sent(registry) == [{"to": "y"}]


async def test_a_factory_overrides_the_invoker() -> None:
    class Fixed:
        async def resolve(self, context: RecipientContext) -> dict[str, Any]:
            return {"to_number": "fixed"}

    host = Host()
    registry = ChannelRegistry(
        load_plugins=False, invoker=host.invoke, user_resolver_factory=lambda c, ch: Fixed()
    )
    registry.register_type(RecordingChannel)
    await registry.deploy_app("app", {"sms": {"type": "recording", "user_resolver": block()}})
    await registry.deliver("sms", "app", "x", session_id="s1")
    assert host.calls == []
    assert sent(registry) == [{"to_number": "fixed"}]


async def test_a_hanging_lookup_times_out() -> None:
    host = Host()
    host.gate = anyio.Event()
    resolver = ActionUserResolver(UserResolverConfig(**block()), host.invoke, timeout=0.05)
    context = RecipientContext("app", "sms", "s1", {}, ChannelPayload(message="x"))
    with pytest.raises(TimeoutError):
        await resolver.resolve(context)
    host.gate.set()
    with pytest.raises(ResolverError):
        await ActionUserResolver(UserResolverConfig(**block()), Host([]).invoke).resolve(context)
