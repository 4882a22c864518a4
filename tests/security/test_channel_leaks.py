"""One secret leak check per channel, built on the public conformance kit.

Each channel is made to fail every way its transport can (refused, 4xx, 5xx echoing
the request across the usual cut lengths, timeout, TLS failure) and every way its own
code can (exceptions in __init__, validate_config, on_start and deliver, secrets in
a result), and everything left behind is searched for each secret: raw, URL-quoted,
base64 and as an 8-character prefix (digitorn_notify.testing). A new channel gets the
same check by calling check_channel_secrets.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digitorn_notify.channels import (
    AppriseChannel,
    EmailChannel,
    LLMNotificationChannel,
    LogChannel,
    WebhookChannel,
)
from digitorn_notify.testing import FaultTarget, check_channel_secrets, fault_server, make_secret
from tests.channels.test_email import free_port

pytestmark = pytest.mark.anyio

UNREACHABLE = "http://127.0.0.1:9"


async def test_webhook_never_leaks_its_secrets() -> None:
    token, password = make_secret(), make_secret()

    def config(target: FaultTarget | None) -> dict[str, Any]:
        base = target.url if target else UNREACHABLE
        # A token in the path, a bearer header, and credentials in the URL (Basic auth).
        scheme, _, rest = base.partition("://")
        return {
            "url": f"{scheme}://ops:{quote(password, safe='')}@{rest}/hooks/{{{{secret.TOKEN}}}}",
            "headers": {"X-Api-Key": "{{secret.TOKEN}}"},
            "timeout": 0.5,
        }

    with fault_server([token, password]) as server:
        report = await check_channel_secrets(
            WebhookChannel,
            config=config,
            secrets={"TOKEN": token, "PASSWORD": password},
            targets=server.targets(),
        )
        assert any(token in request for request in server.requests)  # it was sent
    report.assert_clean()


async def test_llm_notification_never_leaks_a_secret() -> None:
    token = make_secret()
    report = await check_channel_secrets(
        LLMNotificationChannel,
        config=lambda target: {},
        secrets={"TOKEN": token},
        variables={"token": "{{secret.TOKEN}}"},
    )
    report.assert_clean()


async def test_log_channel_never_leaks_a_secret() -> None:
    token = make_secret()
    report = await check_channel_secrets(
        LogChannel,
        config=lambda target: {"format": "json"},
        secrets={"TOKEN": token},
        variables={"token": "{{secret.TOKEN}}"},
    )
    report.assert_clean()


def url_safe_secret() -> str:
    """For URLs that carry a secret unquoted (Apprise URLs, a bot token in a path)."""
    return secrets.token_urlsafe(30)


@contextmanager
def echoing_smtp(code: int) -> Iterator[FaultTarget]:
    """An SMTP server refusing AUTH with ``code``, echoing the AUTH PLAIN argument
    (base64 of the login and password), as some servers do in their 535 reply."""

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        argument = base64.b64encode(b"\0" + data.login + b"\0" + data.password).decode()
        return AuthResult(
            success=False,
            handled=False,
            message=f"{code} 5.7.8 rejected AUTH {mechanism} {argument}",
        )

    port = free_port()
    controller = Controller(
        object(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield FaultTarget(f"smtp-{code}-echo", f"smtp://127.0.0.1:{port}", "127.0.0.1", port)
    finally:
        controller.stop()


async def test_email_never_leaks_its_password() -> None:
    password = make_secret()

    def config(target: FaultTarget | None) -> dict[str, Any]:
        return {
            "smtp_host": target.host if target else "127.0.0.1",
            "smtp_port": target.port if target else 9,
            "security": "tls" if target and target.fault == "tls" else "none",
            "username": "alerts",
            "password": "{{secret.SMTP_PASSWORD}}",
            "from_address": "alerts@example.com",
            "to_address": "ops@example.com",
            "timeout": 0.5,
        }

    with (
        fault_server([password]) as server,
        echoing_smtp(535) as permanent,
        echoing_smtp(454) as temporary,
    ):
        report = await check_channel_secrets(
            EmailChannel,
            config=config,
            secrets={"SMTP_PASSWORD": password},
            targets=[*server.targets(["refused", "timeout", "tls"]), permanent, temporary],
            ignore_loggers=["mail.log"],  # the test server's own log of what it received
        )
    report.assert_clean()


async def test_apprise_never_leaks_its_secrets() -> None:
    pytest.importorskip("apprise")
    password = url_safe_secret()

    def config(target: FaultTarget | None) -> dict[str, Any]:
        scheme = "jsons" if target and target.scheme == "https" else "json"
        where = f"{target.host}:{target.port}/{target.fault}" if target else "127.0.0.1:9/x"
        return {"urls": [f"{scheme}://ops:{{{{secret.APPRISE_PASSWORD}}}}@{where}"], "timeout": 1}

    with fault_server([password]) as server:
        report = await check_channel_secrets(
            AppriseChannel,
            config=config,
            secrets={"APPRISE_PASSWORD": password},
            targets=server.targets(),
            echo_rounds=2,
        )
    report.assert_clean()


async def test_the_spec_telegram_plugin_never_leaks_its_token() -> None:
    telegram = pytest.importorskip("digitorn_channel_telegram")
    token = url_safe_secret()

    def config(target: FaultTarget | None) -> dict[str, Any]:
        return {
            "bot_token": "{{secret.TELEGRAM_TOKEN}}",
            "default_chat_id": "-100123",
            "api_base": target.url if target else UNREACHABLE,
        }

    with fault_server([token]) as server:
        report = await check_channel_secrets(
            telegram.TelegramChannel,
            config=config,
            secrets={"TELEGRAM_TOKEN": token},
            targets=server.targets(),
            echo_rounds=2,  # the plugin reports no response text: nothing is cut
        )
        assert any(token in request for request in server.requests)
    report.assert_clean()
