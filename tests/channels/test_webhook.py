"""The webhook channel against a real HTTP server on 127.0.0.1, on asyncio and trio.

Here the network is the point (the wire format, timeouts, refused connections, TLS,
pooling, what never leaks into logs); the channel's logic (retries, statuses, bodies)
is tested through ``httpx.MockTransport`` in test_webhook_logic.py."""

from __future__ import annotations

import functools
import logging
import ssl
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import trustme

from digitorn_notify import ChannelPayload, ChannelRegistry, ConfigError, FakeClock
from digitorn_notify.channels import WebhookChannel
from tests.helpers import Recorded, local_http_server, refused_url, scripted

pytestmark = pytest.mark.anyio

TOKEN_PATH = "/services/T0AB12CD3/B0EF45GH6/xoxbSecretToken1234567890"
BEARER = "sk-live-4f3e2d1c0b9a"


OPEN: list[ChannelRegistry] = []


@pytest.fixture(autouse=True)
async def _close_registries() -> AsyncIterator[None]:
    # Close pooled connections inside the test's event loop, not at garbage collection.
    yield
    while OPEN:
        await OPEN.pop().aclose()


def headers_of(request: Recorded) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


async def deploy(
    url: str, clock: FakeClock | None = None, *, fallback: str | None = None, **config: Any
) -> ChannelRegistry:
    registry = ChannelRegistry(load_plugins=False, clock=clock or FakeClock(autojump=True))
    OPEN.append(registry)
    await registry.deploy_app(
        "app",
        {"hook": {"type": "webhook", "config": {"url": url, **config}, "fallback": fallback}},
    )
    return registry


async def test_default_body_headers_and_client_lifecycle() -> None:
    with local_http_server() as server:
        registry = await deploy(server.url + "/notify", headers={"X-Team": "ops"})
        channel = registry.instances("app")["hook"]
        assert isinstance(channel, WebhookChannel)
        payload = ChannelPayload(
            message="Disk at 91%",
            title="db-1",
            priority="high",
            tags=["disk"],
            structured_data={"used": 0.91},
            metadata={"job_id": "j1"},
        )
        result = await registry.deliver("hook", "app", payload)
        opened = channel._client
        assert opened is not None
        await registry.aclose()
        assert channel._client is None
    assert result.success, result.error
    assert result.metadata["status_code"] == 200
    (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/notify")
    headers = headers_of(request)
    assert headers["content-type"] == "application/json"
    assert headers["x-team"] == "ops"
    assert headers["user-agent"].startswith("digitorn-notify/")
    assert headers["idempotency-key"] == result.delivery_id
    assert request.json() == {
        "app_id": "app",
        "message": "Disk at 91%",
        "title": "db-1",
        "priority": "high",
        "tags": ["disk"],
        "structured_data": {"used": 0.91},
        "metadata": {"job_id": "j1"},
    }


async def test_payload_template_is_json_safe_on_the_wire() -> None:
    nasty = 'He said "stop" {}, \\ and\n"channel": "#pwned"}'
    with local_http_server() as server:
        registry = await deploy(
            server.url,
            method="PUT",
            payload_template='{"text": "*{{title}}* {{message}}", "channel": "#alerts", '
            '"tags": {{tags}}, "host": {{structured_data.host}}}',
        )
        result = await registry.deliver(
            "hook",
            "app",
            ChannelPayload(
                message=nasty, title='a "b"', tags=["x"], structured_data={"host": "db-1"}
            ),
        )
    assert result.success
    assert server.requests[0].method == "PUT"
    assert server.requests[0].json() == {
        "text": f'*a "b"* {nasty}',
        "channel": "#alerts",
        "tags": ["x"],
        "host": "db-1",
    }


@pytest.mark.parametrize(
    ("config", "path", "fragment"),
    [
        ({"payload_template": '{"text": {{message}}'}, "payload_template", "not valid JSON"),
        ({"payload_template": '{"a": {{event.path}}}'}, "payload_template", "unknown payload"),
        ({"method": "DELETE"}, "method", "accepted: POST, PUT, PATCH"),
        ({"timeout": 0}, "timeout", "must be a finite number > 0, got 0.0"),
        ({"timeout": -1.5}, "timeout", "must be a finite number > 0"),
        # Values that used to pass deploy and then fail every delivery (issue 11).
        ({"timeout": float("nan")}, "timeout", "expected a finite number, got nan"),
        ({"timeout": float("inf")}, "timeout", "expected a finite number, got inf"),
        ({"timeout": True}, "timeout", "expected a number, got bool"),
        ({"timeout": "10"}, "timeout", "expected a number, got str"),
        ({"headers": {"X-A": "ok\r\nX-Injected: 1"}}, "headers.X-A", "line break"),
        ({"headers": {"X-A": "a\nb"}}, "headers.X-A", "line break"),
        ({"headers": {"Bad Name": "v"}}, "headers", "not a header name"),
        ({"headers": {"X-A": 1}}, "headers.X-A", "expected a string, got int"),
        ({"headers": ["X-A"]}, "headers", "expected a mapping, got list"),
        ({"idempotency_header": "Key\n"}, "idempotency_header", "line break"),
        ({"allowed_hosts": "x"}, "allowed_hosts", "expected a list, got str"),
        ({"allowed_hosts": ["a", 2]}, "allowed_hosts[1]", "expected a string, got int"),
        ({"max_concurrency": 0}, "max_concurrency", "from 1 to 1000, got 0"),
        ({"max_concurrency": 1001}, "max_concurrency", "from 1 to 1000, got 1001"),
        ({"max_concurrency": 10**9}, "max_concurrency", "from 1 to 1000"),
        ({"max_concurrency": 8.5}, "max_concurrency", "expected a whole number, got float"),
        ({"verify_ssl": 1}, "verify_ssl", "true, false or a CA bundle path"),
        ({"method": 3}, "method", "expected a string, got int"),
        ({"url": ["http://127.0.0.1/"]}, "url", "expected a string, got list"),
        ({"url": "ftp://127.0.0.1/x"}, "url", "unsupported scheme"),
        ({"url": "http:///nohost"}, "url", "no host"),
        ({"colour": "red"}, "colour", "unknown key 'colour'; accepted: allowed_hosts, allowed_networks, headers"),
        ({"timout": 3}, "timout", "unknown key 'timout' (did you mean 'timeout'?); accepted: "),
    ],
)
async def test_config_errors_name_the_field(
    config: dict[str, Any], path: str, fragment: str
) -> None:
    registry = ChannelRegistry(load_plugins=False)
    with pytest.raises(ConfigError) as info:
        await registry.deploy_app(
            "app", {"hook": {"type": "webhook", "config": {"url": "http://127.0.0.1/", **config}}}
        )
    assert info.value.path == f"channels.hook.config.{path}"
    assert fragment in info.value.reason


async def test_missing_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"channels\.hook\.config\.url: missing"):
        await ChannelRegistry(load_plugins=False).deploy_app("app", {"hook": {"type": "webhook"}})


async def test_per_delivery_overrides_url_headers_and_payload() -> None:
    with local_http_server() as server:
        registry = await deploy(
            server.url + "/a", headers={"X-A": "1"}, payload_template='{"t": "{{message}}"}'
        )
        result = await registry.deliver(
            "hook",
            "app",
            "hi",
            {
                "url": server.url + "/b",
                "headers": {"x-a": "2", "X-B": "3"},
                "payload": {"text": "{{message}}!", "n": 1},
            },
        )
    assert result.success
    (request,) = server.requests
    assert request.path == "/b"
    assert headers_of(request)["x-a"] == "2"
    assert headers_of(request)["x-b"] == "3"
    assert request.json() == {"text": "hi!", "n": 1}


async def test_url_override_to_another_host_is_refused_and_nothing_is_sent() -> None:
    with local_http_server() as server:
        registry = await deploy(server.url)
        result = await registry.deliver("hook", "app", "x", {"url": "https://evil.example/steal"})
        other = server.url.replace("127.0.0.1", "localhost")
        refused_too = await registry.deliver("hook", "app", "x", {"url": other})
        assert server.requests == []
    assert not result.success
    assert not result.retryable
    port = server.url.rpartition(":")[2]
    assert f"evil.example:443 is not allowed (allowed_hosts: 127.0.0.1:{port})" in str(
        result.error
    )
    assert "nothing was sent" in str(result.error)
    assert not refused_too.success


async def test_allowed_hosts_lets_an_override_through() -> None:
    with local_http_server() as server:
        port = server.url.rpartition(":")[2]
        registry = await deploy(
            "http://hooks.example/x", allowed_hosts=[f"127.0.0.1:{port}", "hooks.example"]
        )
        result = await registry.deliver("hook", "app", "x", {"url": server.url + "/y"})
    assert result.success
    assert server.requests[0].path == "/y"


async def test_connection_refused_is_retried_then_fails() -> None:
    clock = FakeClock(autojump=True)
    registry = await deploy(refused_url(), clock)
    result = await registry.deliver("hook", "app", "x")
    assert not result.success
    assert result.retryable
    assert result.metadata["attempts"] == 4
    assert clock.sleeps == [2.0, 4.0, 8.0]
    assert "ConnectError" in str(result.error)


async def test_slow_response_hits_the_timeout() -> None:
    clock = FakeClock(autojump=True)
    with local_http_server() as server:
        server.respond = scripted(1.0, (200, {}, b"{}"), (200, {}, b"{}"))
        registry = await deploy(server.url, clock, timeout=0.2)
        started = time.perf_counter()
        result = await registry.deliver("hook", "app", "x")
        elapsed = time.perf_counter() - started
    assert result.success
    assert result.metadata["attempts"] == 2
    assert elapsed < 1.0
    health = await registry.health("hook", "app")
    assert health.last_error == f"POST {server.url}: timed out after 0.2s (ReadTimeout)"


async def test_concurrency_is_bounded_by_max_concurrency() -> None:
    in_flight = peak = 0
    lock = threading.Lock()

    def respond(_: Recorded) -> tuple[int, dict[str, str], bytes]:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return 200, {}, b"{}"

    with local_http_server() as server:
        server.respond = respond
        registry = await deploy(server.url, max_concurrency=2)
        results: list[bool] = []

        async def one() -> None:
            results.append((await registry.deliver("hook", "app", "x")).success)

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
    assert results == [True] * 6
    assert peak == 2


async def test_tokens_in_url_path_and_headers_never_leak(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FakeClock(autojump=True)
    with local_http_server() as server:
        server.respond = lambda r: (500, {}, f"bad token {TOKEN_PATH}".encode())
        url = server.url + TOKEN_PATH
        registry = await deploy(
            url, clock, headers={"Authorization": f"Bearer {BEARER}", "X-Api-Key": "k-123456789"}
        )
        result = await registry.deliver("hook", "app", "x")
        override = await registry.deliver(
            "hook", "app", "x", {"url": server.url + "/hooks/Zz9Override8Token7"}
        )
        health = await registry.health("hook", "app")
        channel = registry.instances("app")["hook"]
        assert server.requests[0].path == TOKEN_PATH  # the real URL was used
    texts = [
        str(result.error),
        str(override.error),
        str(health.last_error),
        repr(channel),
        repr(result),
        caplog.text,
    ]
    for text in texts:
        for secret in ("xoxbSecretToken1234567890", "T0AB12CD3", BEARER, "k-123456789"):
            assert secret not in text
        assert "Zz9Override8Token7" not in text
    assert f"POST {server.url}/***: HTTP 500" in caplog.text  # our log line, masked
    assert result.error is not None
    assert result.error.startswith(f"POST {server.url}/***: HTTP 500")


async def test_sharded_transport_spreads_requests_over_small_pools() -> None:
    from digitorn_notify.channels.builtin._http import ShardedTransport

    in_flight = peak = 0
    lock = threading.Lock()
    loads: list[list[int]] = []

    def respond(_: Recorded) -> tuple[int, dict[str, str], bytes]:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return 200, {}, b"{}"

    # Each pool loads the CA bundle: that is file I/O and CPU, kept off the event loop.
    transport = await anyio.to_thread.run_sync(
        functools.partial(ShardedTransport, concurrency=5, shard_size=2)
    )
    assert len(transport._shards) == 3
    with local_http_server() as server:
        server.respond = respond
        async with httpx.AsyncClient(transport=transport) as client:

            async def one() -> None:
                response = await client.post(server.url, content=b"{}")
                loads.append(list(transport._load))
                assert response.json() == {}

            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(one)
    assert peak == 5
    assert all(load <= 2 for snapshot in loads for load in snapshot)
    assert transport._load == [0, 0, 0]


async def test_https_with_a_private_ca_and_an_untrusted_certificate(tmp_path: Path) -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    clock = FakeClock(autojump=True)
    with local_http_server(tls=context) as server:
        trusted = await deploy(server.url, clock, verify_ssl=str(ca_file))
        assert (await trusted.deliver("hook", "app", "x")).success
        untrusted = await deploy(server.url, clock)
        result = await untrusted.deliver("hook", "app", "x")
        unverified = await deploy(server.url, clock, verify_ssl=False)
        assert (await unverified.deliver("hook", "app", "x")).success
    assert not result.success
    assert not result.retryable  # a certificate that fails now fails on every retry
    assert str(result.error).startswith(f"POST {server.url}: TLS certificate rejected")


async def test_a_channel_built_by_hand_checks_its_config_when_first_used() -> None:
    with local_http_server() as server:
        channel = WebhookChannel({"url": server.url + "/x", "timeout": 5, "method": "put"})
        try:
            result = await channel.deliver("app", ChannelPayload(message="hi"), {})
        finally:
            await channel.on_stop()
        assert result.success, result.error
        assert channel.settings.timeout == 5.0
        assert server.requests[0].method == "PUT"
    bad = WebhookChannel({"url": "http://127.0.0.1/", "timeout": float("nan")})
    with pytest.raises(ConfigError, match=r"^timeout: expected a finite number"):
        await bad.on_start()
