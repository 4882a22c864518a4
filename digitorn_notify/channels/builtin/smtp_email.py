"""``email``: SMTP delivery with the standard library, in a worker thread.

::

    channels:
      email_reports:
        type: email
        config:
          smtp_host: smtp.example.com
          smtp_port: 587               # default: 587 for starttls, 465 for tls, 25 for none
          security: starttls           # starttls (default), tls (implicit TLS) or none
          username: "{{env.SMTP_USER}}"
          password: "{{secret.SMTP_PASSWORD}}"
          from_address: alerts@example.com
          from_name: Monitoring
          to_address: ops@example.com  # default recipients (a string or a list)

The title is the subject; the message is the plain-text part and ``format_rich`` (the
``rich_message``, or an escaped HTML rendering) the HTML alternative; attachments with
``content`` or a local ``path`` become MIME parts, those with a ``url`` are listed as
links (the channel never fetches a URL). Per delivery: ``to_address``,
``recipient_name``, ``cc``, ``bcc``, ``reply_to``.

``smtplib`` blocks, so each delivery runs in ``anyio.to_thread``. Transient failures
(4xx replies, connection errors, timeouts) are retryable, permanent ones (5xx) are
not. Every attempt of one delivery carries the same ``Message-ID``, so a retry after
a lost reply can be recognised as a duplicate.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterable, Mapping, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, ClassVar

import anyio
import attrs

from digitorn_notify.channels.base import BaseOutputChannel, ConfigSchema
from digitorn_notify.channels.context import current_delivery
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelCapabilities, ChannelPayload, DeliveryResult

__all__ = ["EmailChannel"]

_SECURITY = {"starttls": 587, "tls": 465, "none": 25}
_SUBJECT_LIMIT = 200
_PRIORITY_HEADERS = {"critical": ("1", "high"), "high": ("2", "high"), "low": ("5", "low")}


@attrs.frozen
class _Envelope:
    message: EmailMessage
    sender: str
    recipients: list[str]


class EmailChannel(BaseOutputChannel):
    """Send notifications as email through an SMTP server (see the module docstring)."""

    CHANNEL_ID: ClassVar[str] = "email"
    CHANNEL_NAME: ClassVar[str] = "Email"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"
    CHANNEL_DESCRIPTION: ClassVar[str] = "Email through an SMTP server (STARTTLS or TLS)"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = self.channel_config
        self.security = str(config.get("security", "starttls")).lower()
        self.host = str(config.get("smtp_host") or "")
        self.port = config.get("smtp_port", _SECURITY.get(self.security, 587))
        self.timeout = config.get("timeout", 30)

    def config_schema(self) -> ConfigSchema:
        """``smtp_host`` and ``from_address`` are required."""
        return {
            "required": {
                "smtp_host": "SMTP server host name",
                "from_address": "Sender address",
            },
            "optional": {
                "smtp_port": "Port (default 587 for starttls, 465 for tls, 25 for none)",
                "security": "starttls (default), tls (implicit TLS) or none",
                "username": "SMTP login (with password)",
                "password": "SMTP password (use {{secret.NAME}})",
                "from_name": "Sender display name",
                "to_address": "Default recipient(s): an address or a list",
                "cc": "Default Cc recipient(s)",
                "bcc": "Default Bcc recipient(s)",
                "reply_to": "Reply-To address",
                "html": "Add an HTML alternative part (default true)",
                "timeout": "Connection and command timeout in seconds (default 30)",
                "verify_ssl": "Verify the server's certificate (default true)",
                "ca_file": "CA bundle to verify the server with (an internal CA)",
            },
        }

    def per_delivery_config_schema(self) -> ConfigSchema:
        """Recipients may be set per delivery (or by a ``user_resolver``)."""
        return {
            "optional": {
                "to_address": "Recipient address(es), replacing the default",
                "recipient_name": "Display name of a single recipient",
                "cc": "Cc address(es)",
                "bcc": "Bcc address(es), not shown to other recipients",
                "reply_to": "Reply-To address",
            }
        }

    def capabilities(self) -> ChannelCapabilities:
        """Email renders HTML, carries attachments and threads by ``References``."""
        return ChannelCapabilities(
            supports_rich_text=True,
            supports_attachments=True,
            supports_threading=True,
            supported_formats=["text", "html"],
        )

    def sensitive_values(self) -> Iterable[str]:
        """The SMTP password."""
        password = self.channel_config.get("password")
        return [str(password)] if password else []

    def validate_config(self) -> None:
        """Check the security mode, port, addresses and flags."""
        super().validate_config()
        config = self.channel_config
        if self.security not in _SECURITY:
            raise ConfigError(
                f"unknown security {config.get('security')!r} (accepted: starttls, tls, none)",
                path="security",
            )
        port = self.port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError("must be a port number (1-65535)", path="smtp_port")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float):
            raise ConfigError("must be a number of seconds", path="timeout")
        if bool(config.get("username")) != bool(config.get("password")):
            raise ConfigError("username and password go together", path="password")
        for field in ("from_address", "to_address", "cc", "bcc", "reply_to"):
            try:
                _addresses(config.get(field), field)
            except ValueError as exc:
                raise ConfigError(str(exc), path=field) from None
        for field in ("html", "verify_ssl"):
            if not isinstance(config.get(field, True), bool):
                raise ConfigError("must be true or false", path=field)

    # -- building the message ------------------------------------------------------

    def build_message(
        self, app_id: str, payload: ChannelPayload, config: Mapping[str, Any]
    ) -> EmailMessage:
        """The MIME message for one delivery (attachments with a ``path`` are read)."""
        return self._envelope(app_id, payload, config).message

    def _envelope(
        self, app_id: str, payload: ChannelPayload, config: Mapping[str, Any]
    ) -> _Envelope:
        defaults = self.channel_config
        to = _addresses(config.get("to_address", defaults.get("to_address")), "to_address")
        cc = _addresses(config.get("cc", defaults.get("cc")), "cc")
        bcc = _addresses(config.get("bcc", defaults.get("bcc")), "bcc")
        if not (to or cc or bcc):
            raise ValueError(
                "no recipient: set to_address in the channel config, per delivery, "
                "or through a user_resolver"
            )
        sender = _addresses(defaults.get("from_address"), "from_address")[0]
        message = EmailMessage()
        message["Subject"] = _subject(payload)
        message["From"] = formataddr((_one_line(defaults.get("from_name") or ""), sender))
        name = config.get("recipient_name")
        if to:
            message["To"] = (
                formataddr((_one_line(str(name)), to[0])) if name and len(to) == 1 else to
            )
        if cc:
            message["Cc"] = cc
        reply_to = _addresses(config.get("reply_to", defaults.get("reply_to")), "reply_to")
        if reply_to:
            message["Reply-To"] = reply_to
        message["Date"] = format_datetime(self.clock.now())
        domain = sender.rpartition("@")[2] or "digitorn-notify.invalid"
        delivery = current_delivery()
        key = delivery.key if delivery is not None else None
        if key:
            message["Message-ID"] = f"<{key}@{domain}>"
        if payload.thread_id:
            thread = payload.thread_id.strip("<>")
            message["In-Reply-To"] = message["References"] = f"<{_one_line(thread)}>"
        if payload.priority.value in _PRIORITY_HEADERS:
            level, importance = _PRIORITY_HEADERS[payload.priority.value]
            message["X-Priority"] = level
            message["Importance"] = importance
        message["X-Digitorn-App"] = _one_line(app_id)
        message.set_content(_plain_text(payload))
        if defaults.get("html", True):
            message.add_alternative(self.format_rich(payload), subtype="html")
        for attachment in payload.attachments:
            if attachment.url is not None:
                continue
            data = (
                attachment.content
                if attachment.content is not None
                else Path(str(attachment.path)).read_bytes()
            )
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(
                data,
                maintype=maintype or "application",
                subtype=subtype or "octet-stream",
                filename=attachment.filename,
            )
        return _Envelope(message, sender, [*to, *cc, *bcc])

    # -- delivery ------------------------------------------------------------------

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Build the message and send it from a worker thread."""
        try:
            envelope = self._envelope(app_id, payload, config)
        except OSError as exc:
            return self._failure(f"cannot read attachment: {type(exc).__name__}: {exc}")
        except ValueError as exc:
            return self._failure(str(exc))
        try:
            # abandon_on_cancel: the registry's delivery timeout must not wait for
            # smtplib, which gives up on its own after `timeout`.
            refused = await anyio.to_thread.run_sync(self._send, envelope, abandon_on_cancel=True)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return self._failure(
                f"every recipient was refused (SMTP {', '.join(map(str, sorted(set(codes))))})",
                retryable=all(400 <= code < 500 for code in codes),
            )
        except smtplib.SMTPResponseException as exc:
            reason = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return self._failure(
                f"SMTP {exc.smtp_code}: {reason}", retryable=400 <= exc.smtp_code < 500
            )
        except smtplib.SMTPNotSupportedError as exc:
            return self._failure(f"SMTP server does not support it: {exc}")
        except ssl.SSLCertVerificationError as exc:
            # A certificate that does not verify will not verify on the next attempt.
            return self._failure(f"TLS certificate rejected: {exc.verify_message or exc}")
        except (smtplib.SMTPException, OSError) as exc:
            # Disconnections, refused connections, timeouts, TLS handshakes: transient.
            return self._failure(f"{type(exc).__name__}: {exc}", retryable=True)
        message_id = envelope.message["Message-ID"]
        return DeliveryResult(
            success=True,
            channel_id=self.CHANNEL_ID,
            delivery_id=str(message_id) if message_id else None,
            metadata={"refused": sorted(refused)} if refused else {},
        )

    def _send(self, envelope: _Envelope) -> dict[str, Any]:
        config = self.channel_config
        ca_file = config.get("ca_file")
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if not config.get("verify_ssl", True):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        timeout = float(self.timeout)
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, int(self.port), timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, int(self.port), timeout=timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if config.get("username"):
                smtp.login(str(config["username"]), str(config["password"]))
            return smtp.send_message(
                envelope.message, from_addr=envelope.sender, to_addrs=envelope.recipients
            )

    def _failure(self, error: str, *, retryable: bool = False) -> DeliveryResult:
        return DeliveryResult(
            success=False, channel_id=self.CHANNEL_ID, error=error, retryable=retryable
        )


def _one_line(text: str) -> str:
    # CR/LF in a header would let a message inject headers of its own.
    return " ".join(str(text).split())


def _subject(payload: ChannelPayload) -> str:
    subject = payload.title or payload.message.strip().partition("\n")[0] or "(no subject)"
    subject = _one_line(subject)
    return subject if len(subject) <= _SUBJECT_LIMIT else subject[: _SUBJECT_LIMIT - 1] + "…"


def _plain_text(payload: ChannelPayload) -> str:
    text = payload.message
    if payload.tags:
        text = f"{text}\n\n{' '.join('#' + tag for tag in payload.tags)}"
    links = [f"- {a.filename}: {a.url}" for a in payload.attachments if a.url is not None]
    if links:
        text = f"{text}\n\nAttachments:\n" + "\n".join(links)
    return text


def _addresses(value: Any, field: str) -> list[str]:
    """A list of addresses from a string (comma-separated allowed) or a list."""
    if value is None or value == "":
        return []
    items: Sequence[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ValueError(  # noqa: TRY004 - callers turn ValueError into a config error
            f"{field} must be an address or a list of addresses"
        )
    addresses = []
    for item in items:
        address = str(item).strip()
        if not address:
            continue
        if "@" not in address or any(c in address for c in '\r\n<>"') or " " in address:
            raise ValueError(f"{field}: {address!r} is not an email address")
        addresses.append(address)
    return addresses
