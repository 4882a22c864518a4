"""The Apprise bridge, with json:// targets on a real local HTTP server."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from digitorn_notify import ChannelPayload, ChannelRegistry, ConfigError, FakeClock
from digitorn_notify.channels import AppriseChannel
from tests.helpers import Recorded, local_http_server

pytest.importorskip("apprise")
pytestmark = pytest.mark.anyio

TOKEN = "Tk9secretPathToken42"


def json_url(server_url: str, path: str, query: str = "") -> str:
    return server_url.replace("http://", "json://") + path + (f"?{query}" if query else "")


async def deploy(urls: Any, **config: Any) -> ChannelRegistry:
    registry = ChannelRegistry(load_plugins=False, clock=FakeClock(autojump=True))
    await registry.deploy_app(
        "app",
        {"everywhere": {"type": "apprise", "config": {"urls": urls, **config}, "fallback": None}},
    )
    return registry


async def test_delivers_and_reports_each_target() -> None:
    with local_http_server() as server:
        registry = await deploy([json_url(server.url, "/a"), json_url(server.url, "/b")])
        result = await registry.deliver(
            "everywhere",
            "app",
            ChannelPayload(message="Disk at 91%", title="db-1", priority="high"),
        )
    assert result.success, result.error
    assert sorted(r.path for r in server.requests) == ["/a", "/b"]
    body = server.requests[0].json()
    assert (body["title"], body["message"], body["type"]) == ("db-1", "Disk at 91%", "warning")
    targets = result.metadata["targets"]
    assert [t["status"] for t in targets] == ["SUCCESS", "SUCCESS"]
    assert all(t["service"] == "JSON" and t["attempts"] == 1 for t in targets)


async def test_partial_success_fails_and_the_retry_goes_only_to_failed_targets() -> None:
    failures = {"/bad": 1}

    def respond(request: Recorded) -> tuple[int, dict[str, str], bytes]:
        if failures.get(request.path, 0) > 0:
            failures[request.path] -= 1
            return 500, {}, b"down"
        return 200, {}, b"{}"

    with local_http_server() as server:
        server.respond = respond
        registry = await deploy([json_url(server.url, "/ok"), json_url(server.url, "/bad")])
        result = await registry.deliver("everywhere", "app", "x")
        health = await registry.health("everywhere", "app")
    paths = [r.path for r in server.requests]
    assert sorted(paths) == ["/bad", "/bad", "/ok"]  # /ok got it once, no duplicate
    assert result.success
    assert result.metadata["attempts"] == 2
    assert health.last_error == "1 of 2 Apprise target(s) failed: JSON (failure)"


async def test_apprise_does_not_retry_or_throttle_on_its_own() -> None:
    with local_http_server() as server:
        server.respond = lambda r: (500, {}, b"")
        registry = await deploy([json_url(server.url, "/x", "retry=5")])
        channel = registry.instances("app")["everywhere"]
        assert isinstance(channel, AppriseChannel)
        assert channel._apprise is not None
        assert [(s.retry, s.request_rate_per_sec) for s in channel._apprise] == [(0, 0)]
        result = await registry.deliver("everywhere", "app", "x")
    assert not result.success
    assert result.retryable
    assert len(server.requests) == 4  # our 1 + 3 retries, none of Apprise's own
    assert result.metadata["targets"][0]["status"] == "FAILURE"


async def test_tags_select_targets() -> None:
    with local_http_server() as server:
        registry = await deploy(
            [
                {"url": json_url(server.url, "/ops"), "tags": ["ops"]},
                {"url": json_url(server.url, "/dev"), "tags": "dev"},
            ]
        )
        result = await registry.deliver("everywhere", "app", "x", {"tags": "ops"})
        nothing = await registry.deliver("everywhere", "app", "x", {"tags": ["sales"]})
    assert result.success
    assert [r.path for r in server.requests] == ["/ops"]
    assert not nothing.success
    assert nothing.error == "no Apprise target matches the tags"


async def test_invalid_urls_are_config_errors_that_hide_the_url() -> None:
    with pytest.raises(ConfigError) as info:
        await deploy(["json://127.0.0.1/ok", f"nosuchservice://{TOKEN}@host"])
    assert info.value.path == "channels.everywhere.config.urls[1]"
    assert "not a valid Apprise URL (nosuchservice://***)" in info.value.reason
    assert TOKEN not in str(info.value)
    with pytest.raises(ConfigError, match="must be an Apprise URL or a list"):
        await deploy(42)


@pytest.mark.parametrize(
    ("urls", "config", "path", "fragment"),
    [
        ([{"url": "json://127.0.0.1/x", "tgas": ["a"]}], {}, "urls[0].tgas", "did you mean 'tags'"),
        ([{"url": "json://127.0.0.1/x", "tags": [1]}], {}, "urls[0].tags", "a list of tags"),
        (["json://127.0.0.1/x", 7], {}, "urls[1]", "an Apprise URL or a {url, tags}"),
        (["json://127.0.0.1/x"], {"timeout": float("nan")}, "timeout", "finite number"),
        (["json://127.0.0.1/x"], {"timeout": 0}, "timeout", "finite number > 0"),
        (["json://127.0.0.1/x"], {"throttle": "no"}, "throttle", "expected true or false"),
        (["json://127.0.0.1/x"], {"tags": {"a": 1}}, "tags", "a list of tags"),
    ],
)
async def test_config_errors_name_the_field(
    urls: Any, config: dict[str, Any], path: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        await deploy(urls, **config)
    assert info.value.path == f"channels.everywhere.config.{path}"
    assert fragment in info.value.reason


async def test_urls_are_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with local_http_server() as server:
        server.respond = lambda r: (500, {}, TOKEN.encode())
        url = json_url(server.url, f"/hook/{TOKEN}").replace("json://", "json://bob:pw-9f8e7d@")
        registry = await deploy([url])
        result = await registry.deliver("everywhere", "app", "x")
        health = await registry.health("everywhere", "app")
        channel = registry.instances("app")["everywhere"]
        assert server.requests[0].path == f"/hook/{TOKEN}"
    for text in (
        str(result.error),
        str(result.metadata),
        str(health.last_error),
        repr(channel),
        caplog.text,
    ):
        assert TOKEN not in text
        assert "pw-9f8e7d" not in text


async def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)
    with pytest.raises(ConfigError) as info:
        await deploy(["json://127.0.0.1/x"])
    assert "pip install 'digitorn-notify[apprise]'" in info.value.reason


async def test_attachments_and_rich_text_are_handed_to_apprise() -> None:
    with local_http_server() as server:
        registry = await deploy([json_url(server.url, "/a")])
        payload = ChannelPayload(
            message="plain",
            rich_message="<b>rich</b>",
            attachments=[{"filename": "r.txt", "content": b"hello", "content_type": "text/plain"}],
        )
        result = await registry.deliver("everywhere", "app", payload)
    assert result.success, result.error
    body = server.requests[0].json()
    assert "rich" in body["message"]
    assert body["attachments"][0]["filename"] == "r.txt"
