"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import logging
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from digitorn_notify import (
    ChannelPayload,
    ChannelRegistry,
    ConfigError,
    FakeClock,
    PayloadAttachment,
)
from tests.helpers import refused_url

pytestmark = pytest.mark.anyio

PASSWORD = "smtp-pa55word-xyz"


class Inbox:
    """An aiosmtpd handler that keeps what it receives (or answers a scripted code)."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, EmailMessage]] = []
        self.replies: list[str] = []
        self.message_ids: list[str] = []

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("bounce"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.message_ids.append(str(parsed["Message-ID"]))
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((envelope, parsed))
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def smtp(
    request: pytest.FixtureRequest, ca: trustme.CA, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """A server; ``request.param`` is ``none``, ``starttls`` or ``tls``."""
    mode = getattr(request, "param", "none")
    inbox = Inbox()
    cert = ca.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    kwargs: dict[str, Any] = {}
    if mode == "starttls":
        kwargs = {
            "tls_context": context,
            "require_starttls": True,
            "authenticator": authenticate,
            "auth_require_tls": True,
        }
    elif mode == "tls":
        kwargs = {"ssl_context": context, "server_hostname": "127.0.0.1"}
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield {
            "inbox": inbox,
            "config": {
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "security": mode,
                "from_address": "alerts@example.com",
                "from_name": "Monitoring",
                "ca_file": str(ca_file),
            },
        }
    finally:
        controller.stop()


async def deploy(config: dict[str, Any], **extra: Any) -> ChannelRegistry:
    registry = ChannelRegistry(load_plugins=False, clock=FakeClock(autojump=True))
    await registry.deploy_app(
        "app",
        {"mail": {"type": "email", "config": {**config, **extra}, "fallback": None}},
    )
    return registry


async def test_plain_message_with_html_alternative_and_attachments(
    smtp: dict[str, Any], tmp_path: Path
) -> None:
    report = tmp_path / "report.csv"
    report.write_text("a,b\n1,2\n")
    registry = await deploy(smtp["config"], to_address="ops@example.com")
    payload = ChannelPayload(
        message="Disk at 91%\non db-1",
        title="Disk\r\nBcc: injected@example.com",
        rich_message="<p>Disk at <b>91%</b></p>",
        priority="critical",
        tags=["disk"],
        thread_id="<thread-1@example.com>",
        attachments=[
            PayloadAttachment("graph.png", content=b"\x89PNG...", content_type="image/png"),
            PayloadAttachment("report.csv", path=str(report), content_type="text/csv"),
            PayloadAttachment("dash", url="https://dash.example.invalid/1"),
        ],
    )
    result = await registry.deliver("mail", "app", payload, {"recipient_name": "Ada Lovelace"})
    assert result.success, result.error
    ((envelope, message),) = smtp["inbox"].messages
    assert envelope.mail_from == "alerts@example.com"
    assert envelope.rcpt_tos == ["ops@example.com"]
    assert message["Subject"] == "Disk Bcc: injected@example.com"
    assert message["Bcc"] is None
    assert message["From"] == "Monitoring <alerts@example.com>"
    assert message["To"] == "Ada Lovelace <ops@example.com>"
    assert message["X-Priority"] == "1"
    assert message["In-Reply-To"] == message["References"] == "<thread-1@example.com>"
    assert message["Message-ID"] == result.delivery_id
    assert message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "multipart/mixed"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().replace("\r\n", "\n") == (
        "Disk at 91%\non db-1\n\n#disk\n\nAttachments:\n- dash: https://dash.example.invalid/1\n"
    )
    assert html.get_content().strip() == "<p>Disk at <b>91%</b></p>"
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attachments) == {"graph.png", "report.csv"}
    assert attachments["graph.png"].get_content_type() == "image/png"
    assert attachments["graph.png"].get_content() == b"\x89PNG..."
    assert attachments["report.csv"].get_content().replace("\r\n", "\n") == "a,b\n1,2\n"


@pytest.mark.parametrize("smtp", ["starttls"], indirect=True)
async def test_starttls_with_login(smtp: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    registry = await deploy(
        smtp["config"], username="alerts", password=PASSWORD, to_address="a@example.com"
    )
    result = await registry.deliver("mail", "app", ChannelPayload(message="hi", title="T"))
    assert result.success, result.error
    assert len(smtp["inbox"].messages) == 1
    bad = await deploy(
        smtp["config"], username="alerts", password="wrong-password", to_address="a@example.com"
    )
    refused = await bad.deliver("mail", "app", "hi")
    assert not refused.success
    assert not refused.retryable
    assert refused.error is not None
    assert refused.error.startswith("SMTP 535")
    channel = registry.instances("app")["mail"]
    for text in (repr(channel), str(refused.error), caplog.text):
        assert PASSWORD not in text
        assert "wrong-password" not in text


@pytest.mark.parametrize("smtp", ["tls"], indirect=True)
async def test_implicit_tls(smtp: dict[str, Any]) -> None:
    registry = await deploy(smtp["config"], to_address="a@example.com", html=False)
    result = await registry.deliver("mail", "app", "plain only")
    assert result.success, result.error
    ((_, message),) = smtp["inbox"].messages
    assert message.get_content_type() == "text/plain"
    assert message["Subject"] == "plain only"


@pytest.mark.parametrize("smtp", ["tls"], indirect=True)
async def test_untrusted_certificate_is_a_retryable_failure(smtp: dict[str, Any]) -> None:
    config = {k: v for k, v in smtp["config"].items() if k != "ca_file"}
    registry = await deploy(config, to_address="a@example.com")
    result = await registry.deliver("mail", "app", "x")
    assert not result.success
    assert not result.retryable
    assert str(result.error).startswith("TLS certificate rejected")
    unverified = await deploy(config, to_address="a@example.com", verify_ssl=False)
    assert (await unverified.deliver("mail", "app", "x")).success


async def test_per_delivery_recipients_cc_and_bcc(smtp: dict[str, Any]) -> None:
    registry = await deploy(smtp["config"], to_address="default@example.com")
    result = await registry.deliver(
        "mail",
        "app",
        "x",
        {
            "to_address": ["a@example.com", "b@example.com"],
            "cc": "c@example.com",
            "bcc": ["hidden@example.com"],
            "reply_to": "noc@example.com",
        },
    )
    assert result.success
    ((envelope, message),) = smtp["inbox"].messages
    assert envelope.rcpt_tos == [
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "hidden@example.com",
    ]
    assert message["To"] == "a@example.com, b@example.com"
    assert message["Cc"] == "c@example.com"
    assert message["Reply-To"] == "noc@example.com"
    assert "hidden" not in message.as_string()


async def test_some_recipients_refused_is_reported(smtp: dict[str, Any]) -> None:
    registry = await deploy(smtp["config"], to_address=["a@example.com", "bounce@example.com"])
    result = await registry.deliver("mail", "app", "x")
    assert result.success
    assert result.metadata["refused"] == ["bounce@example.com"]
    every = await registry.deliver("mail", "app", "x", {"to_address": "bounce@example.com"})
    assert not every.success
    assert not every.retryable
    assert every.error == "every recipient was refused (SMTP 550)"


async def test_4xx_is_retried_and_5xx_is_not(smtp: dict[str, Any]) -> None:
    smtp["inbox"].replies = ["451 try again later", "452 still busy"]
    registry = await deploy(smtp["config"], to_address="a@example.com")
    result = await registry.deliver("mail", "app", "x")
    assert result.success
    assert result.metadata["attempts"] == 3
    smtp["inbox"].replies = ["554 rejected as spam"]
    rejected = await registry.deliver("mail", "app", "x")
    assert not rejected.success
    assert rejected.metadata.get("attempts") is None
    assert rejected.error == "SMTP 554: rejected as spam"
    # The three attempts of the first delivery share one Message-ID; the next differs.
    first, second, third, other = smtp["inbox"].message_ids
    assert first == second == third == result.delivery_id
    assert other != first


async def test_connection_refused_is_retryable() -> None:
    port = int(refused_url().rsplit(":", 1)[1])
    registry = await deploy(
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "security": "none",
            "from_address": "a@example.com",
            "to_address": "b@example.com",
        }
    )
    result = await registry.deliver("mail", "app", "x")
    assert not result.success
    assert result.retryable
    assert result.metadata["attempts"] == 4
    assert "ConnectionRefusedError" in str(result.error)


async def test_no_recipient_is_a_clear_failure(smtp: dict[str, Any]) -> None:
    registry = await deploy(smtp["config"])
    result = await registry.deliver("mail", "app", "x")
    assert not result.success
    assert not result.retryable
    assert "no recipient" in str(result.error)
    assert smtp["inbox"].messages == []


async def test_recipient_from_the_user_resolver(smtp: dict[str, Any]) -> None:
    async def tools(tool_name: str, params: Any) -> Any:
        return [{"email": "ada@example.com", "full_name": "Ada"}]

    registry = ChannelRegistry(load_plugins=False, invoker=tools)
    await registry.deploy_app(
        "app",
        {
            "mail": {
                "type": "email",
                "config": smtp["config"],
                "user_resolver": {
                    "module": "database",
                    "action": "fetch_results",
                    "params": {"query": "SELECT email FROM users WHERE s = :session_id"},
                    "mapping": {"to_address": "email", "recipient_name": "full_name"},
                },
            }
        },
    )
    result = await registry.deliver("mail", "app", "x", session_id="s1")
    assert result.success
    ((_, message),) = smtp["inbox"].messages
    assert message["To"] == "Ada <ada@example.com>"


@pytest.mark.parametrize(
    ("config", "path", "fragment"),
    [
        ({"security": "ssl"}, "security", "accepted: starttls, tls, none"),
        ({"smtp_port": 0}, "smtp_port", "port number"),
        ({"username": "u"}, "password", "go together"),
        ({"to_address": "not-an-address"}, "to_address", "is not an email address"),
        ({"from_address": "a@b.c\r\nBcc: x@y.z"}, "from_address", "is not an email address"),
        ({"html": "yes"}, "html", "true or false"),
        ({"smtp_port": "587"}, "smtp_port", "expected a whole number, got str"),
        ({"from_address": "a@b.c, d@e.f"}, "from_address", "must be one email address"),
        ({"to_address": ["a@b.c", 3]}, "to_address", "expected an address (a string), got int"),
        ({"cc": {"a": "b"}}, "cc", "an address or a list of addresses"),
        ({"tiemout": 5}, "tiemout", "unknown key 'tiemout' (did you mean 'timeout'?)"),
        # Values that used to pass deploy and then fail every delivery (issue 11).
        ({"smtp_host": ["a.example", "b.example"]}, "smtp_host", "expected a string, got list"),
        ({"smtp_host": "smtp example"}, "smtp_host", "must be a host name"),
        ({"timeout": float("nan")}, "timeout", "expected a finite number, got nan"),
        ({"timeout": float("-inf")}, "timeout", "expected a finite number, got -inf"),
        ({"timeout": 0}, "timeout", "must be a finite number > 0"),
        ({"timeout": False}, "timeout", "expected a number, got bool"),
    ],
)
async def test_config_errors(config: dict[str, Any], path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        await deploy({"smtp_host": "127.0.0.1", "from_address": "a@example.com", **config})
    assert info.value.path == f"channels.mail.config.{path}"
    assert fragment in info.value.reason


async def test_missing_attachment_file_is_a_failure(smtp: dict[str, Any], tmp_path: Path) -> None:
    registry = await deploy(smtp["config"], to_address="a@example.com")
    payload = ChannelPayload(
        message="x", attachments=[PayloadAttachment("gone", path=str(tmp_path / "gone"))]
    )
    result = await registry.deliver("mail", "app", payload)
    assert not result.success
    assert "cannot read attachment" in str(result.error)
