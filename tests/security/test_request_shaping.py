"""What a per-delivery override (which an LLM can write) may change in a webhook request."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from digitorn_notify import ChannelRegistry, ConfigError, FakeClock
from digitorn_notify.channels.builtin._http import REFUSED_OVERRIDE_HEADERS
from tests.helpers import local_http_server

pytestmark = pytest.mark.anyio


@pytest.fixture
async def registries() -> AsyncIterator[list[ChannelRegistry]]:
    made: list[ChannelRegistry] = []
    yield made
    for registry in made:
        await registry.aclose()


async def deploy(made: list[ChannelRegistry], url: str, **config: Any) -> ChannelRegistry:
    registry = ChannelRegistry(load_plugins=False, clock=FakeClock(autojump=True))
    made.append(registry)
    await registry.deploy_app(
        "app", {"hook": {"type": "webhook", "config": {"url": url, **config}, "fallback": None}}
    )
    return registry


def port_of(url: str) -> str:
    return url.rpartition(":")[2]


@pytest.mark.parametrize(
    "header",
    sorted(REFUSED_OVERRIDE_HEADERS | {"Proxy-Authorization", "Proxy-Foo", "HOST", ":authority"}),
)
async def test_routing_and_hop_by_hop_headers_cannot_be_overridden(
    registries: list[ChannelRegistry], header: str
) -> None:
    with local_http_server() as server:
        registry = await deploy(registries, server.url)
        result = await registry.deliver("hook", "app", "x", {"headers": {header: "evil.internal"}})
        assert server.requests == []  # nothing was sent
    assert not result.success
    assert not result.retryable
    assert "headers override refused" in str(result.error)
    assert "nothing was sent" in str(result.error)


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
async def test_header_values_cannot_inject_headers(
    registries: list[ChannelRegistry], value: str
) -> None:
    with local_http_server() as server:
        registry = await deploy(registries, server.url)
        result = await registry.deliver("hook", "app", "x", {"headers": {"X-Note": value}})
        assert server.requests == []
    assert "contains CR, LF or NUL" in str(result.error)


async def test_ordinary_headers_can_be_overridden(registries: list[ChannelRegistry]) -> None:
    with local_http_server() as server:
        registry = await deploy(registries, server.url)
        result = await registry.deliver(
            "hook", "app", "x", {"headers": {"X-Request-Source": "agent", "Authorization": "t"}}
        )
        [request] = server.requests
    assert result.success
    assert request.headers["X-Request-Source"] == "agent"


async def test_an_entry_without_a_port_allows_only_the_configured_port(
    registries: list[ChannelRegistry],
) -> None:
    with local_http_server() as first, local_http_server() as second:
        registry = await deploy(registries, first.url, allowed_hosts=["127.0.0.1"])
        same_port = await registry.deliver("hook", "app", "x", {"url": first.url + "/other"})
        other_port = await registry.deliver("hook", "app", "x", {"url": second.url + "/x"})
        assert [r.path for r in first.requests] == ["/other"]
        assert second.requests == []
    assert same_port.success
    assert not other_port.success
    assert f"127.0.0.1:{port_of(second.url)} is not allowed" in str(other_port.error)
    assert f"(allowed_hosts: 127.0.0.1:{port_of(first.url)})" in str(other_port.error)


async def test_an_entry_may_name_a_port(registries: list[ChannelRegistry]) -> None:
    with local_http_server() as first, local_http_server() as second:
        registry = await deploy(
            registries, first.url, allowed_hosts=["127.0.0.1", f"127.0.0.1:{port_of(second.url)}"]
        )
        result = await registry.deliver("hook", "app", "x", {"url": second.url + "/y"})
        assert [r.path for r in second.requests] == ["/y"]
    assert result.success


async def test_the_default_allows_only_the_configured_host_and_port(
    registries: list[ChannelRegistry],
) -> None:
    with local_http_server() as first, local_http_server() as second:
        registry = await deploy(registries, first.url)
        result = await registry.deliver("hook", "app", "x", {"url": second.url})
        assert second.requests == []
    assert "is not allowed" in str(result.error)


@pytest.mark.parametrize(
    "entries", [["host/path"], ["host:99999"], ["host:x"], ["[::1"], [""], [3], "host"]
)
async def test_malformed_allowed_hosts_are_refused_at_deploy(entries: Any) -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app(
                "app",
                {
                    "hook": {
                        "type": "webhook",
                        "config": {"url": "http://127.0.0.1:8080/", "allowed_hosts": entries},
                    }
                },
            )
    # A wrong type is named down to the entry (allowed_hosts[0]), a bad value by field.
    assert caught.value.path.startswith("channels.hook.config.allowed_hosts")


# -- the resolved address: an opt-in check, with loopback names ---------------------------


async def test_allowed_networks_lets_names_resolving_inside_them_through(
    registries: list[ChannelRegistry],
) -> None:
    with local_http_server() as server:
        name_url = server.url.replace("127.0.0.1", "localhost")
        registry = await deploy(
            registries,
            server.url,
            allowed_hosts=[f"localhost:{port_of(server.url)}"],
            allowed_networks=["127.0.0.0/8", "::1/128"],
        )
        result = await registry.deliver("hook", "app", "x", {"url": name_url + "/n"})
        [request] = server.requests
    assert result.success
    # Connected to the address that was checked, with the name kept in Host.
    assert request.headers["Host"] == f"localhost:{port_of(server.url)}"
    assert request.path == "/n"


async def test_allowed_networks_refuses_names_resolving_elsewhere(
    registries: list[ChannelRegistry],
) -> None:
    # "localhost" is an allowed host name, but it resolves to loopback, which
    # "public" excludes: the rebinding a name-only check cannot see.
    with local_http_server() as server:
        name_url = server.url.replace("127.0.0.1", "localhost")
        registry = await deploy(
            registries,
            server.url,
            allowed_hosts=[f"localhost:{port_of(server.url)}"],
            allowed_networks=["public"],
        )
        override = await registry.deliver("hook", "app", "x", {"url": name_url})
        configured = await registry.deliver("hook", "app", "x")
        assert server.requests == []
    assert "'localhost' resolves to 127.0.0.1, outside allowed_networks" in str(override.error)
    assert "outside allowed_networks; nothing was sent" in str(configured.error)


@pytest.mark.parametrize("networks", [[], ["10.0.0.0/33"], ["nope"], "public"])
async def test_malformed_allowed_networks_are_refused_at_deploy(networks: Any) -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app(
                "app",
                {
                    "hook": {
                        "type": "webhook",
                        "config": {"url": "http://127.0.0.1:8080/", "allowed_networks": networks},
                    }
                },
            )
    assert caught.value.path == "channels.hook.config.allowed_networks"


# -- credentials in a URL are sent, as httpx sends them --------------------------------------


async def test_url_credentials_are_sent_as_basic_auth_like_httpx(
    registries: list[ChannelRegistry],
) -> None:
    with local_http_server() as server:
        url = server.url.replace("http://", "http://ops%40team:p%2Fss%3Aw0rd@") + "/hook"
        registry = await deploy(registries, url)
        result = await registry.deliver("hook", "app", "x")
        async with httpx.AsyncClient() as client:
            await client.post(url, content=b"{}")
        ours, httpx_own = server.requests
    assert result.success
    expected = "Basic " + base64.b64encode(b"ops@team:p/ss:w0rd").decode()
    assert ours.headers["Authorization"] == httpx_own.headers["Authorization"] == expected
    assert ours.path == "/hook"  # the credentials are not in the request target
    assert "w0rd" not in repr(registry.instances("app")["hook"])


async def test_url_credentials_of_an_override_are_sent_too(
    registries: list[ChannelRegistry],
) -> None:
    with local_http_server() as server:
        registry = await deploy(registries, server.url)
        override = server.url.replace("http://", "http://agent:s3cret-value@")
        result = await registry.deliver("hook", "app", "x", {"url": override})
        [request] = server.requests
    assert result.success
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(b"agent:s3cret-value").decode()
    )


async def test_url_credentials_and_an_authorization_header_are_refused_together() -> None:
    async with ChannelRegistry(load_plugins=False) as registry:
        with pytest.raises(ConfigError) as caught:
            await registry.deploy_app(
                "app",
                {
                    "hook": {
                        "type": "webhook",
                        "config": {
                            "url": "http://u:p@127.0.0.1:8080/",
                            "headers": {"authorization": "Bearer x"},
                        },
                    }
                },
            )
    assert caught.value.path == "channels.hook.config.url"
    assert "keep one" in caught.value.reason
