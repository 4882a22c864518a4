"""The channels: block: structuring, variables, secrets, and errors that name the path."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pytest

from digitorn_notify import (
    AppConfig,
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    DeliveryResult,
    Redactor,
    Secret,
)
from digitorn_notify.templates import VariableResolver
from tests.helpers import RecordingChannel

pytestmark = pytest.mark.anyio

TOKEN = "tok-5f3a9c1e-super-secret"


class LeakyChannel(RecordingChannel):
    """Puts its token in every error, the way careless channels do."""

    CHANNEL_ID: ClassVar[str] = "leaky"

    def config_schema(self) -> dict[str, dict[str, str]]:
        return {"required": {"url": "Endpoint"}, "optional": {"headers": "Headers", "port": "Port"}}

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        if payload.message == "raise":
            raise RuntimeError(f"cannot reach {self.channel_config['url']}")
        return DeliveryResult(
            False, self.CHANNEL_ID, error=f"HTTP 500 from {self.channel_config['url']}"
        )


def registry(**kwargs: Any) -> ChannelRegistry:
    reg = ChannelRegistry(load_plugins=False, **kwargs)
    reg.register_type(LeakyChannel)
    reg.register_type(RecordingChannel)
    return reg


async def test_env_secret_and_variables_are_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    reg = registry(secrets={"API_KEY": "key-12345"}.get)
    await reg.deploy_app(
        "app",
        {
            "hook": {
                "type": "leaky",
                "config": {
                    "url": "https://hooks.example.invalid/services/{{env.HOOK_TOKEN}}",
                    "headers": {
                        "Authorization": "Bearer {{secret.API_KEY}}",
                        "X-Channel": "{{chan}}",
                    },
                    "port": "{{port}}",
                },
            }
        },
        variables={"chan": "#alerts", "port": 8443},
    )
    config = reg.instances("app")["hook"].channel_config
    assert config["url"] == f"https://hooks.example.invalid/services/{TOKEN}"
    assert isinstance(config["url"], Secret)
    assert config["headers"]["Authorization"] == "Bearer key-12345"
    assert config["headers"]["X-Channel"] == "#alerts"
    assert not isinstance(config["headers"]["X-Channel"], Secret)
    assert config["port"] == 8443


async def test_secrets_never_leak(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HOOK_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    reg = registry()
    await reg.deploy_app(
        "app",
        {
            "hook": {
                "type": "leaky",
                "config": {"url": "https://h.example.invalid/{{env.HOOK_TOKEN}}"},
            }
        },
    )
    channel = reg.instances("app")["hook"]
    failed = await reg.deliver("hook", "app", "fail")
    raised = await reg.deliver("hook", "app", "raise")
    health = await reg.health("hook")
    texts = [
        repr(channel),
        repr(channel.channel_config),
        str(failed),
        repr(raised),
        str(health),
        caplog.text,
    ]
    for text in texts:
        assert TOKEN not in text
    assert failed.error == "HTTP 500 from https://h.example.invalid/***"
    assert raised.error == "RuntimeError: cannot reach https://h.example.invalid/***"
    assert health.last_error == "RuntimeError: cannot reach https://h.example.invalid/***"
    assert "Secret('***')" in repr(channel)


async def test_secret_in_on_start_error_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    class FailingStart(RecordingChannel):
        CHANNEL_ID: ClassVar[str] = "failing_start"

        async def on_start(self) -> None:
            raise ConnectionError(f"login refused for {self.channel_config['password']}")

    monkeypatch.setenv("PW", TOKEN)
    reg = registry()
    reg.register_type(FailingStart)
    with pytest.raises(ConfigError) as info:
        await reg.deploy_app(
            "app", {"x": {"type": "failing_start", "config": {"password": "{{env.PW}}"}}}
        )
    assert TOKEN not in str(info.value)
    assert info.value.path == "channels.x"
    assert "login refused for ***" in str(info.value)


@pytest.mark.parametrize(
    ("channels", "path", "fragment"),
    [
        ({"x": {"type": "nope"}}, "channels.x.type", "unknown channel type 'nope'"),
        ({"x": {"config": {}}}, "channels.x.type", "missing required field"),
        (
            {"x": {"type": "leaky", "confg": {}}},
            "channels.x.confg",
            "unknown key 'confg' (did you mean 'config'?)",
        ),
        ({"x": {"type": "leaky"}}, "channels.x.config.url", "missing required field (Endpoint)"),
        (
            {"x": {"type": "leaky", "config": {"url": "u", "verb": 1}}},
            "channels.x.config.verb",
            "unknown key 'verb'; accepted: headers, port, url",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "{{env.NOT_SET_ANYWHERE}}"}}},
            "channels.x.config.url",
            "environment variable NOT_SET_ANYWHERE is not set",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "{{secret.NOPE}}"}}},
            "channels.x.config.url",
            "secret NOPE is not defined",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "https://{{host}}/"}}},
            "channels.x.config.url",
            "unknown variable {{host}}",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "fallback": "ghost"}},
            "channels.x.fallback",
            "unknown fallback channel 'ghost'",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "fallback": "x"}},
            "channels.x.fallback",
            "its own fallback",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "delivery_timeout": -1}},
            "channels.x.delivery_timeout",
            "must be a number of seconds > 0, got -1.0",
        ),
        # Values that used to pass deploy and then fail every delivery (issue 11).
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "delivery_timeout": True}},
            "channels.x.delivery_timeout",
            "expected a number, got bool",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "delivery_timeout": float("nan")}},
            "channels.x.delivery_timeout",
            "expected a finite number, got nan",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "overflow": "wrap"}},
            "channels.x.overflow",
            "unknown overflow 'wrap' (accepted: truncate, split)",
        ),
        (
            {"x": {"type": "leaky", "config": {"url": "u"}, "fallback": ["log"]}},
            "channels.x.fallback",
            "expected a string, got list",
        ),
        (
            {
                "x": {
                    "type": "leaky",
                    "config": {"url": "u"},
                    "user_resolver": {"module": "db", "action": "q", "cache_ttl": -1},
                }
            },
            "channels.x.user_resolver.cache_ttl",
            "must be a number of seconds >= 0, got -1.0",
        ),
        ({"bad name!": {"type": "log"}}, "channels.bad name!", "a channel name is letters"),
        ({"x": "log"}, "channels.x", "must be a mapping with a 'type'"),
        (["log"], "channels", "must be a mapping of names"),
    ],
)
async def test_config_errors_name_the_path(channels: Any, path: str, fragment: str) -> None:
    reg = registry()
    with pytest.raises(ConfigError) as info:
        await reg.deploy_app("app", channels)
    assert info.value.path == path, str(info.value)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{path}: ")
    assert reg.instances("app") == {}


WEBHOOK_KEYS = (
    "allowed_hosts, allowed_networks, headers, idempotency_header, max_concurrency, method, payload_template,"
    " timeout, url, verify_ssl"
)
BLOCK_KEYS = "config, delivery_timeout, fallback, overflow, type, user_resolver"


@pytest.mark.parametrize(
    ("block", "path", "reason"),
    [
        (
            {"type": "webhook", "config": {"ulr": "http://127.0.0.1/"}},
            "channels.alerts.config.ulr",
            f"unknown key 'ulr' (did you mean 'url'?); accepted: {WEBHOOK_KEYS}",
        ),
        (
            {"type": "webhook", "config": {"url": "http://127.0.0.1/"}, "fallbak": "log"},
            "channels.alerts.fallbak",
            f"unknown key 'fallbak' (did you mean 'fallback'?); accepted: {BLOCK_KEYS}",
        ),
        (
            {"type": "webhook", "config": {"url": "http://127.0.0.1/", "timout": 5}},
            "channels.alerts.config.timout",
            f"unknown key 'timout' (did you mean 'timeout'?); accepted: {WEBHOOK_KEYS}",
        ),
        # A plugin that only declares config_schema() reads the same way.
        (
            {"type": "leaky", "config": {"ulr": "http://127.0.0.1/"}},
            "channels.alerts.config.ulr",
            "unknown key 'ulr' (did you mean 'url'?); accepted: headers, port, url",
        ),
        (
            {"type": "leaky", "config": {"url": "u", "prot": 1}},
            "channels.alerts.config.prot",
            "unknown key 'prot' (did you mean 'port'?); accepted: headers, port, url",
        ),
        # Nothing close: no suggestion, still the list.
        (
            {"type": "log", "config": {"zzz": 1}},
            "channels.alerts.config.zzz",
            "unknown key 'zzz'; accepted: format, include_data, level, logger_name",
        ),
    ],
)
async def test_misspelled_keys_are_reported_one_way(
    block: dict[str, Any], path: str, reason: str
) -> None:
    """ulr, fallbak and timout used to be reported three different ways (issue 10)."""
    with pytest.raises(ConfigError) as info:
        await registry().deploy_app("app", {"alerts": block})
    assert (info.value.path, info.value.reason) == (path, reason)
    assert str(info.value) == f"{path}: {reason}"


async def test_every_problem_of_a_block_is_in_one_error() -> None:
    with pytest.raises(ConfigError) as info:
        await registry().deploy_app(
            "app",
            {
                "alerts": {
                    "type": "webhook",
                    "config": {"url": "http://127.0.0.1/", "timeout": "x", "max_concurrency": True},
                }
            },
        )
    assert info.value.path == "channels.alerts.config.timeout"
    # The others are named relative to the block the first one's path is in.
    assert info.value.reason == (
        "expected a number, got str (and 1 more: max_concurrency: expected a whole number, got bool)"
    )


async def test_failed_deploy_keeps_the_previous_one() -> None:
    reg = registry()
    await reg.deploy_app("app", {"rec": {"type": "recording"}})
    with pytest.raises(ConfigError):
        await reg.deploy_app("app", {"rec": {"type": "nope"}})
    assert "rec" in reg.instances("app")


def test_runtime_tokens_are_left_for_delivery_time() -> None:
    resolver = VariableResolver(variables={"chan": "#ops"}, secrets={}.get)  # type: ignore[arg-type]
    template = '{"text": "{{message}}", "title": "{{ title }}", "x": "{{structured_data.x}}", "c": "{{chan}}"}'
    assert resolver.resolve(template, "p") == (
        '{"text": "{{message}}", "title": "{{ title }}", "x": "{{structured_data.x}}", "c": "#ops"}'
    )


def test_variables_can_use_env_and_nested_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WS", "/srv/app")
    monkeypatch.setenv("PASS", TOKEN)
    from digitorn_notify.secrets import EnvSecretProvider

    resolver = VariableResolver(
        variables={"workspace": "{{env.WS}}", "db": {"host": "db.local"}, "pw": "{{env.PASS}}"},
        secrets=EnvSecretProvider(),
    )
    assert resolver.resolve("{{workspace}}/users.db", "p") == "/srv/app/users.db"
    assert resolver.resolve("{{db.host}}", "p") == "db.local"
    assert isinstance(resolver.resolve("x={{pw}}", "p"), Secret)
    with pytest.raises(ConfigError, match=r"variable db\.port is not defined"):
        resolver.resolve("{{db.port}}", "p")
    with pytest.raises(ConfigError, match=r"variables\.loop"):
        VariableResolver(variables={"loop": "{{loop}}"}, secrets=EnvSecretProvider())


def test_app_config_from_mapping() -> None:
    config = AppConfig.from_mapping(
        {
            "app": {"app_id": "bot"},
            "variables": {"x": 1},
            "channels": {"audit": {"type": "log", "config": {"level": "INFO"}}},
            "execution": {"mode": "conversation", "default_channel": "audit"},
        }
    )
    assert config.default_channel == "audit"
    assert config.channels["audit"].type == "log"
    assert config.variables == {"x": 1}
    assert AppConfig.from_mapping({}).default_channel == "llm_notification"
    with pytest.raises(ConfigError, match=r"execution\.default_channel"):
        AppConfig.from_mapping({"execution": {"default_channel": 3}})
    with pytest.raises(ConfigError, match="variables: must be a mapping"):
        AppConfig.from_mapping({"variables": [1]})


def test_redactor_masks_plain_and_url_encoded_forms() -> None:
    redactor = Redactor(["a b/c+d", "xy"])
    assert redactor.redact("raw a b/c+d, quoted a%20b%2Fc%2Bd, plus a+b%2Fc%2Bd, short xy") == (
        "raw ***, quoted ***, plus ***, short xy"
    )
    assert not Redactor()
    assert Redactor().redact("text") == "text"


async def test_failed_start_keeps_the_previous_deployment_running() -> None:
    class FailingStart(RecordingChannel):
        CHANNEL_ID: ClassVar[str] = "failing_start2"

        async def on_start(self) -> None:
            raise ConnectionError("smtp down")

    stopped: list[RecordingChannel] = []

    class Watched(RecordingChannel):
        CHANNEL_ID: ClassVar[str] = "watched"

        async def on_stop(self) -> None:
            stopped.append(self)

    reg = registry()
    reg.register_type(FailingStart)
    reg.register_type(Watched)
    await reg.deploy_app("app", {"rec": {"type": "watched"}})
    old = reg.instances("app")["rec"]
    with pytest.raises(ConfigError, match=r"channels\.bad: on_start failed"):
        await reg.deploy_app("app", {"rec": {"type": "watched"}, "bad": {"type": "failing_start2"}})
    # The new "rec" was started, then stopped when "bad" failed; the old one still serves.
    assert len(stopped) == 1
    assert stopped[0] is not old
    assert reg.instances("app")["rec"] is old
    assert (await reg.deliver("rec", "app", "still here")).success
    await reg.deploy_app("app", {"rec": {"type": "watched"}})
    assert stopped[-1] is old
    assert reg.instances("app")["rec"] is not old
