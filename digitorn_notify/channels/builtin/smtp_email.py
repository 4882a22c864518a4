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
from collections.abc import Iterable, Mapping
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, ClassVar

import anyio
import attrs

from digitorn_notify.channels.base import BaseOutputChannel
from digitorn_notify.channels.builtin._configs import (
    EmailConfig,
    EmailDeliveryConfig,
    addresses,
)
from digitorn_notify.channels.context import current_delivery
from digitorn_notify.payload import ChannelCapabilities, ChannelPayload, DeliveryResult

__all__ = ["EmailChannel"]

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

    CONFIG_CLASS: ClassVar[type[Any]] = EmailConfig
    PER_DELIVERY_CONFIG_CLASS: ClassVar[type[Any]] = EmailDeliveryConfig

    @property
    def settings(self) -> EmailConfig:
        """The checked config block (see :class:`EmailConfig`)."""
        return self._structured(EmailConfig)

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
        return [password] if isinstance(password, str) and password else []

    # -- building the message ------------------------------------------------------

    def build_message(
        self, app_id: str, payload: ChannelPayload, config: Mapping[str, Any]
    ) -> EmailMessage:
        """The MIME message for one delivery (attachments with a ``path`` are read)."""
        return self._envelope(app_id, payload, config).message

    def _envelope(
        self, app_id: str, payload: ChannelPayload, config: Mapping[str, Any]
    ) -> _Envelope:
        defaults = self.settings
        to = _override(config, "to_address", defaults.to_address)
        cc = _override(config, "cc", defaults.cc)
        bcc = _override(config, "bcc", defaults.bcc)
        if not (to or cc or bcc):
            raise ValueError(
                "no recipient: set to_address in the channel config, per delivery, "
                "or through a user_resolver"
            )
        sender = defaults.sender
        message = EmailMessage()
        message["Subject"] = _subject(payload)
        message["From"] = formataddr((_one_line(defaults.from_name), sender))
        name = config.get("recipient_name")
        if to:
            message["To"] = (
                formataddr((_one_line(str(name)), to[0])) if name and len(to) == 1 else to
            )
        if cc:
            message["Cc"] = cc
        reply_to = _override(config, "reply_to", defaults.reply_to)
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
        if defaults.html:
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
        config = self.settings
        context = ssl.create_default_context(cafile=config.ca_file or None)
        if not config.verify_ssl:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        security = config.security.lower()
        smtp: smtplib.SMTP
        if security == "tls":
            smtp = smtplib.SMTP_SSL(
                config.smtp_host, config.port, timeout=config.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(config.smtp_host, config.port, timeout=config.timeout)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if config.username and config.password:
                smtp.login(config.username, config.password)
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


def _override(config: Mapping[str, Any], field: str, default: list[str]) -> list[str]:
    """A per-delivery address field when given, else the channel's default."""
    return addresses(config[field], field) if field in config else default
