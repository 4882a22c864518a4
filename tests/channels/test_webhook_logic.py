"""The webhook channel's logic through ``httpx.MockTransport``: what it sends, what it
retries, how it reads an answer. No socket: these are about the channel, not the
network (timeouts, refused connections, TLS and pooling are tested against real
servers in test_webhook.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar

import httpx
import pytest

from digitorn_notify import ChannelPayload, ChannelRegistry, FakeClock
from digitorn_notify.channels import WebhookChannel

pytestmark = pytest.mark.anyio

URL = "https://hooks.example.test/services/hook"
#: How errors and logs show it: a path may hold a token.
SHOWN = "https://hooks.example.test/***"
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


class Server:
    """Answers in turn (the last one repeats), and keeps what it was sent."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers) or [httpx.Response(200, json={})]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer(request) if callable(answer) else answer

    def bodies(self) -> list[Any]:
        return [json.loads(request.content) for request in self.requests]


class MockedWebhook(WebhookChannel):
    """The webhook channel, sending through the test's ``Server``."""

    CHANNEL_ID: ClassVar[str] = "mocked_webhook"
    server: ClassVar[Server]

    def create_transport(self) -> httpx.AsyncBaseTransport:
        return httpx.MockTransport(self.server)


OPEN: list[ChannelRegistry] = []


@pytest.fixture(autouse=True)
async def _close_registries() -> AsyncIterator[None]:
    yield
    while OPEN:
        await OPEN.pop().aclose()


async def deploy(
    server: Server, clock: FakeClock | None = None, *, fallback: str | None = None, **config: Any
) -> ChannelRegistry:
    MockedWebhook.server = server
    registry = ChannelRegistry(load_plugins=False, clock=clock or FakeClock(autojump=True))
    registry.register_type(MockedWebhook)
    OPEN.append(registry)
    config = {"url": URL, **config}
    await registry.deploy_app(
        "app", {"hook": {"type": "mocked_webhook", "config": config, "fallback": fallback}}
    )
    return registry


async def test_the_default_body_and_headers() -> None:
    server = Server()
    registry = await deploy(server, headers={"X-Team": "ops"})
    payload = ChannelPayload(
        message="m",
        title="t",
        rich_message="<b>m</b>",
        thread_id="t1",
        attachments=[{"filename": "a.bin", "content": b"\x00\x01"}],
    )
    result = await registry.deliver("hook", "app", payload)
    assert result.success
    assert result.metadata["status_code"] == 200
    [request] = server.requests
    assert (request.method, str(request.url)) == ("POST", URL)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("digitorn-notify/")
    assert request.headers["x-team"] == "ops"
    assert request.headers["idempotency-key"] == result.delivery_id
    body = server.bodies()[0]
    assert (body["message"], body["title"], body["app_id"]) == ("m", "t", "app")
    assert body["rich_message"] == "<b>m</b>"
    assert body["thread_id"] == "t1"
    assert body["attachments"] == [
        {"filename": "a.bin", "content_type": "application/octet-stream", "content": "AAE="}
    ]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_the_configured_method(method: str) -> None:
    server = Server()
    registry = await deploy(server, method=method.lower())
    assert (await registry.deliver("hook", "app", "x")).success
    assert server.requests[0].method == method


async def test_5xx_is_retried_with_backoff_and_one_idempotency_key() -> None:
    clock = FakeClock(autojump=True)
    server = Server(httpx.Response(503, text="busy"), httpx.Response(502), httpx.Response(200))
    registry = await deploy(server, clock)
    result = await registry.deliver("hook", "app", "x")
    second = await registry.deliver("hook", "app", "y")
    assert result.success
    assert result.metadata["attempts"] == 3
    assert clock.sleeps == [2.0, 4.0]
    keys = [request.headers["idempotency-key"] for request in server.requests]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2] == result.delivery_id
    assert keys[3] == second.delivery_id != keys[0]


async def test_gives_up_after_three_retries_then_falls_back() -> None:
    clock = FakeClock(autojump=True)
    server = Server(httpx.Response(500, text="oops"))
    registry = await deploy(server, clock, fallback="llm_notification")
    result = await registry.deliver("hook", "app", "x")
    assert len(server.requests) == 4
    assert clock.sleeps == [2.0, 4.0, 8.0]
    assert not result.success
    assert result.error == f"POST {SHOWN}: HTTP 500 Internal Server Error: oops"
    assert result.metadata["fallback"] == "llm_notification"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_other_4xx_are_not_retried(status: int) -> None:
    clock = FakeClock(autojump=True)
    server = Server(httpx.Response(status, json={"error": "invalid_payload"}))
    registry = await deploy(server, clock)
    result = await registry.deliver("hook", "app", "x")
    assert len(server.requests) == 1
    assert clock.sleeps == []
    assert not result.retryable
    assert f"HTTP {status}" in str(result.error)
    assert "invalid_payload" in str(result.error)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
async def test_retryable_statuses(status: int) -> None:
    clock = FakeClock(autojump=True)
    server = Server(httpx.Response(status), httpx.Response(200))
    registry = await deploy(server, clock)
    result = await registry.deliver("hook", "app", "x")
    assert result.success
    assert clock.sleeps == [2.0]


async def test_retry_after_seconds_and_http_date_are_honoured_within_backoff_max() -> None:
    clock = FakeClock(autojump=True)
    server_now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    date_headers = {
        "Date": format_datetime(server_now, usegmt=True),
        "Retry-After": format_datetime(server_now + timedelta(seconds=5), usegmt=True),
    }
    server = Server(
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(503, headers=date_headers),
        httpx.Response(429, headers={"Retry-After": "3600"}),
        httpx.Response(200),
    )
    registry = await deploy(server, clock)
    result = await registry.deliver("hook", "app", "x")
    assert result.success
    assert clock.sleeps == [7.0, 5.0, 30.0]


async def test_redirects_are_not_followed() -> None:
    server = Server(httpx.Response(302, headers={"Location": "http://evil.example/"}))
    registry = await deploy(server)
    result = await registry.deliver("hook", "app", "x")
    assert len(server.requests) == 1
    assert not result.retryable
    assert "redirects are not followed" in str(result.error)


async def test_a_long_error_body_is_cut_in_the_error() -> None:
    server = Server(httpx.Response(400, text="e" * 5000))
    registry = await deploy(server)
    result = await registry.deliver("hook", "app", "x")
    assert result.error is not None
    assert result.error.endswith("e" * 199 + "…")  # masked, then cut with an ellipsis
    assert len(result.error) < 300


async def test_per_delivery_url_headers_and_payload() -> None:
    server = Server()
    registry = await deploy(server)
    result = await registry.deliver(
        "hook",
        "app",
        "x",
        {
            "url": "https://hooks.example.test/other",
            "headers": {"X-Extra": "1"},
            "payload": {"text": "{{message}}", "n": 1},
        },
    )
    assert result.success
    [request] = server.requests
    assert str(request.url) == "https://hooks.example.test/other"
    assert request.headers["x-extra"] == "1"
    assert server.bodies() == [{"text": "x", "n": 1}]


async def test_a_url_override_to_another_host_sends_nothing() -> None:
    server = Server()
    registry = await deploy(server)
    result = await registry.deliver("hook", "app", "x", {"url": "https://elsewhere.test/x"})
    assert not result.success
    assert "elsewhere.test:443 is not allowed" in str(result.error)
    assert server.requests == []


async def test_idempotency_key_from_config_and_custom_header_name() -> None:
    server = Server()
    registry = await deploy(server, idempotency_header="X-Dedup")
    result = await registry.deliver("hook", "app", "x", {"idempotency_key": "k-1"})
    assert server.requests[0].headers["x-dedup"] == "k-1"
    assert result.delivery_id == "k-1"


async def test_bad_per_delivery_payload_is_a_clear_failure() -> None:
    server = Server()
    registry = await deploy(server)
    result = await registry.deliver("hook", "app", "x", {"payload": "text"})
    unknown = await registry.deliver("hook", "app", "x", {"payload": {"a": "{{secret}}"}})
    assert server.requests == []
    assert "payload must be a mapping or a list" in str(result.error)
    assert "unknown payload template token" in str(unknown.error)


async def test_an_exception_of_the_transport_is_a_failure_not_a_crash() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed the connection", request=request)

    clock = FakeClock(autojump=True)
    registry = await deploy(Server(broken), clock)
    result = await registry.deliver("hook", "app", "x")
    assert not result.success
    assert result.retryable
    assert result.error == f"POST {SHOWN}: RemoteProtocolError: peer closed the connection"
