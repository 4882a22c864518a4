"""``webhook``: HTTP POST (or PUT/PATCH) of a JSON body to any URL.

Slack, Discord and Teams incoming webhooks, Zapier, n8n, or any REST API::

    channels:
      slack_alerts:
        type: webhook
        config:
          url: "{{env.SLACK_WEBHOOK_URL}}"
          payload_template: '{"text": "{{message}}", "channel": "#alerts"}'

One pooled ``httpx.AsyncClient`` per instance, opened in ``on_start`` and closed in
``on_stop``. Its transport caps requests in flight at ``max_concurrency`` and spreads
them over small connection pools, because httpx's pool bookkeeping grows with the
square of its size (httpx issue 3215; see :class:`ShardedTransport`). Retries (3, from
2 s doubling to 30 s) on 408, 425, 429, 5xx, timeouts and connection errors, honouring
``Retry-After``; never on other 4xx. Every attempt of one delivery carries the same
``Idempotency-Key`` header.
"""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import httpx

from digitorn_notify._version import __version__
from digitorn_notify.channels.base import BaseOutputChannel, ConfigSchema
from digitorn_notify.channels.builtin._http import (
    OverrideRedactor,
    ShardedTransport,
    display_url,
    header_secrets,
    now_from_date_header,
    parse_retry_after,
    url_secrets,
)
from digitorn_notify.channels.context import current_delivery
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelCapabilities, ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.templates import PayloadTemplate, json_bytes

__all__ = ["WebhookChannel", "default_body"]

logger = logging.getLogger("digitorn_notify.channels.webhook")

_METHODS = ("POST", "PUT", "PATCH")
_RETRYABLE_STATUSES = frozenset({408, 425, 429})
_BODY_SNIPPET = 200
#: Requests of one instance in flight at once (see ShardedTransport).
DEFAULT_MAX_CONCURRENCY = 64
#: Connections per pool: httpcore's per-request work grows with the square of this.
SHARD_SIZE = 2


def default_body(payload: ChannelPayload, app_id: str) -> dict[str, Any]:
    """The JSON object sent when neither a template nor a per-delivery payload is set."""
    body: dict[str, Any] = {
        "app_id": app_id,
        "message": payload.message,
        "title": payload.title,
        "priority": payload.priority.value,
        "tags": payload.tags,
        "structured_data": payload.structured_data,
        "metadata": payload.metadata,
    }
    if payload.rich_message is not None:
        body["rich_message"] = payload.rich_message
    if payload.thread_id is not None:
        body["thread_id"] = payload.thread_id
    if payload.attachments:
        body["attachments"] = [
            {
                "filename": a.filename,
                "content_type": a.content_type,
                **({"content": a.content} if a.content is not None else {}),
                **({"url": a.url} if a.url is not None else {}),
                **({"path": a.path} if a.path is not None else {}),
            }
            for a in payload.attachments
        ]
    return body


class WebhookChannel(BaseOutputChannel):
    """Send notifications as JSON over HTTP (see the module docstring)."""

    CHANNEL_ID: ClassVar[str] = "webhook"
    CHANNEL_NAME: ClassVar[str] = "Webhook"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"
    CHANNEL_DESCRIPTION: ClassVar[str] = "HTTP POST/PUT/PATCH of a JSON body to any URL"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = self.channel_config
        self.url: str = str(config.get("url") or "")
        self.method: str = str(config.get("method", "POST")).upper()
        headers = config.get("headers") or {}
        self.headers: dict[str, str] = (
            {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
        )
        self._base_headers = _merge_headers(
            {"User-Agent": f"digitorn-notify/{__version__}", "Content-Type": "application/json"},
            self.headers,
        )
        self.timeout = config.get("timeout", 10)
        self.verify_ssl = config.get("verify_ssl", True)
        self.max_concurrency = config.get("max_concurrency", DEFAULT_MAX_CONCURRENCY)
        self.idempotency_header = str(config.get("idempotency_header", "Idempotency-Key"))
        self.template: PayloadTemplate | None = None
        self._client: httpx.AsyncClient | None = None
        self._transport: httpx.AsyncBaseTransport | None = None
        self._extensions: dict[str, Any] = {}
        self._parsed_url: httpx.URL | None = None
        self._overrides = OverrideRedactor()

    # -- config --------------------------------------------------------------------

    def config_schema(self) -> ConfigSchema:
        """``url`` is required; the rest is optional."""
        return {
            "required": {"url": "Target URL (http or https)"},
            "optional": {
                "method": "POST (default), PUT or PATCH",
                "headers": "HTTP headers sent with every request",
                "timeout": "Request timeout in seconds (default 10)",
                "verify_ssl": "Verify TLS certificates (default true), or a CA bundle path",
                "payload_template": "JSON body template with {{message}}, {{title}} ... tokens",
                "allowed_hosts": "Hosts a per-delivery url may target (default: url's host)",
                "max_concurrency": (
                    f"Requests in flight at once (default {DEFAULT_MAX_CONCURRENCY})"
                ),
                "idempotency_header": "Header carrying the delivery key (default Idempotency-Key)",
            },
        }

    def per_delivery_config_schema(self) -> ConfigSchema:
        """Overrides a job, watcher or caller may set."""
        return {
            "optional": {
                "url": "Target URL (its host must be in allowed_hosts)",
                "headers": "Headers merged over the configured ones",
                "payload": "A JSON body (mapping or list) replacing the template",
                "idempotency_key": "Key to send instead of the generated one",
            }
        }

    def capabilities(self) -> ChannelCapabilities:
        """The whole payload goes into the JSON body: rich text and attachments included."""
        return ChannelCapabilities(
            supports_rich_text=True,
            supports_attachments=True,
            supports_threading=True,
            supported_formats=["text", "json"],
        )

    def retry_policy(self) -> RetryPolicy:
        """3 retries, 2 s doubling to at most 30 s (``Retry-After`` wins, within 30 s)."""
        return RetryPolicy(max_retries=3, backoff_base=2.0, backoff_max=30.0)

    def sensitive_values(self) -> Iterable[str]:
        """The URL's path, query and credentials, and sensitive header values."""
        return [*url_secrets(self.url), *header_secrets(self.headers)] if self.url else []

    def validate_config(self) -> None:
        """Check every field; errors name the field."""
        super().validate_config()
        config = self.channel_config
        _check_url(self.url, "url")
        if self.method not in _METHODS:
            raise ConfigError(
                f"unknown method {config.get('method')!r} (accepted: {', '.join(_METHODS)})",
                path="method",
            )
        headers = config.get("headers")
        if headers is not None and not isinstance(headers, Mapping):
            raise ConfigError("must be a mapping of header names to values", path="headers")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float):
            raise ConfigError("must be a number of seconds", path="timeout")
        if self.timeout <= 0:
            raise ConfigError("must be > 0", path="timeout")
        if not isinstance(self.verify_ssl, bool | str):
            raise ConfigError("must be true, false or a CA bundle path", path="verify_ssl")
        if (
            isinstance(self.max_concurrency, bool)
            or not isinstance(self.max_concurrency, int)
            or self.max_concurrency < 1
        ):
            raise ConfigError("must be an integer >= 1", path="max_concurrency")
        allowed = config.get("allowed_hosts")
        if allowed is not None and (
            not isinstance(allowed, list) or not all(isinstance(h, str) for h in allowed)
        ):
            raise ConfigError("must be a list of host names", path="allowed_hosts")
        template = config.get("payload_template")
        if template is not None:
            self.template = PayloadTemplate(template, path="payload_template")

    @property
    def allowed_hosts(self) -> frozenset[str]:
        """Hosts a per-delivery ``url`` may target (lower-case)."""
        allowed = self.channel_config.get("allowed_hosts")
        if isinstance(allowed, list):
            return frozenset(str(h).lower() for h in allowed)
        host = httpx.URL(self.url).host if self.url else ""
        return frozenset({host.lower()}) if host else frozenset()

    # -- lifecycle -----------------------------------------------------------------

    async def on_start(self) -> None:
        """Open the pooled client."""
        if self.template is None and self.channel_config.get("payload_template") is not None:
            self.validate_config()
        transport = self.create_transport()
        # The client owns the pools and their lifetime. Requests are built here and handed
        # to its transport: the client's per-request layers (cookie jar, auth and redirect
        # flows, header merging) cost a quarter of the CPU of a request, and none applies
        # to a webhook (no cookies, auth is a header, redirects are refused).
        self._client = httpx.AsyncClient(
            transport=transport, timeout=float(self.timeout), follow_redirects=False
        )
        self._transport = transport
        self._extensions = {"timeout": self._client.timeout.as_dict()}
        self._parsed_url = httpx.URL(self.url)

    def create_transport(self) -> httpx.AsyncBaseTransport:
        """The transport every request of this instance goes through.

        By default, pooled connections capped at ``max_concurrency`` requests in flight
        (:class:`ShardedTransport`), verifying TLS as ``verify_ssl`` says. A subclass may
        return another one: ``httpx.MockTransport`` in tests that are about what the
        channel sends and how it reads the answer, not about the network.
        """
        if isinstance(self.verify_ssl, str):
            # A CA bundle path (httpx wants a context; verify=<str> is deprecated).
            verify = ssl.create_default_context(cafile=self.verify_ssl)
        else:
            verify = _ssl_context(bool(self.verify_ssl))
        return ShardedTransport(
            concurrency=int(self.max_concurrency), shard_size=SHARD_SIZE, verify=verify
        )

    async def on_stop(self) -> None:
        """Close the pooled client."""
        client, self._client, self._transport = self._client, None, None
        if client is not None:
            await client.aclose()
        self._overrides.close()

    # -- delivery ------------------------------------------------------------------

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Send one request; see the module docstring for what is retried."""
        transport = self._transport
        if transport is None:
            await self.on_start()
            transport = self._transport
            assert transport is not None
        url = self.url
        target = self._parsed_url
        override = config.get("url")
        if override is not None and override != url:
            refusal = self._check_override(override)
            if refusal is not None:
                return self._failure(refusal)
            url = str(override)
            target = httpx.URL(url)
            self._overrides.add(url_secrets(url))
        try:
            body = self._body(app_id, payload, config)
        except (ConfigError, TypeError, ValueError) as exc:
            return self._failure(f"invalid per-delivery payload: {exc}")
        delivery = current_delivery()
        key = str(config.get("idempotency_key") or (delivery.key if delivery else ""))
        headers = self._base_headers
        extra = config.get("headers")
        if isinstance(extra, Mapping) and extra:
            headers = _merge_headers(headers, {str(k): str(v) for k, v in extra.items()})
            self._overrides.add(header_secrets(extra))
        else:
            headers = dict(headers)
        if key:
            headers[self.idempotency_header] = key
        shown = f"{self.method} {display_url(url)}"
        request = httpx.Request(
            self.method, target or url, content=body, headers=headers, extensions=self._extensions
        )
        try:
            response = await transport.handle_async_request(request)
        except httpx.TimeoutException as exc:
            return self._failure(
                f"{shown}: timed out after {float(self.timeout):g}s ({type(exc).__name__})",
                retryable=True,
            )
        except httpx.TransportError as exc:
            cause = _cause(exc)
            reason = self._overrides.redact(str(exc) or str(cause)) or type(cause).__name__
            if isinstance(cause, ssl.SSLCertVerificationError):
                # A certificate that does not verify will not verify on the next attempt.
                detail = cause.verify_message or reason
                return self._failure(f"{shown}: TLS certificate rejected ({detail})")
            return self._failure(f"{shown}: {type(exc).__name__}: {reason}", retryable=True)
        return self._result(response, shown, key)

    def _check_override(self, override: Any) -> str | None:
        if not isinstance(override, str):
            return f"url override must be a string, got {type(override).__name__}"
        try:
            _check_url(override, "url")
        except ConfigError as exc:
            return f"url override refused: {exc.reason}"
        host = httpx.URL(override).host.lower()
        allowed = self.allowed_hosts
        if host not in allowed:
            return (
                f"url override refused: host {host!r} is not allowed "
                f"(allowed_hosts: {', '.join(sorted(allowed)) or 'none'}); nothing was sent"
            )
        return None

    def _body(self, app_id: str, payload: ChannelPayload, config: Mapping[str, Any]) -> bytes:
        custom = config.get("payload")
        if custom is not None:
            if not isinstance(custom, Mapping | list):
                raise TypeError(f"payload must be a mapping or a list, got {type(custom).__name__}")
            return PayloadTemplate(custom, path="payload").render(payload, app_id)
        if self.template is not None:
            return self.template.render(payload, app_id)
        return json_bytes(default_body(payload, app_id))

    def _result(self, response: httpx.Response, shown: str, key: str) -> DeliveryResult:
        status = response.status_code
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s: HTTP %d", shown, status, extra={"channel": self.name})
        metadata: dict[str, Any] = {"status_code": status}
        if 200 <= status < 300:
            return DeliveryResult(
                success=True,
                channel_id=self.CHANNEL_ID,
                delivery_id=key or None,
                metadata=metadata,
            )
        snippet = self._overrides.redact(response.text[:_BODY_SNIPPET].strip())
        error = f"{shown}: HTTP {status} {response.reason_phrase}".rstrip()
        if snippet:
            error = f"{error}: {snippet}"
        if 300 <= status < 400:
            return self._failure(f"{error} (redirects are not followed)", metadata=metadata)
        retryable = status in _RETRYABLE_STATUSES or status >= 500
        retry_after = None
        if retryable:
            now = now_from_date_header(response.headers.get("Date"), self.clock.now())
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
        if retry_after is not None:
            metadata["retry_after"] = retry_after
        return self._failure(error, retryable=retryable, retry_after=retry_after, metadata=metadata)

    def _failure(
        self,
        error: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> DeliveryResult:
        return DeliveryResult(
            success=False,
            channel_id=self.CHANNEL_ID,
            error=error,
            retryable=retryable,
            retry_after=retry_after,
            metadata=metadata or {},
        )


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception of ``exc``'s chain (httpx wraps the ssl and socket errors)."""
    seen = {id(exc)}
    while True:
        inner = exc.__cause__ or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        seen.add(id(inner))
        exc = inner


@functools.cache
def _ssl_context(verify: bool) -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds: do it once, share the context
    # between the pools of every instance (an SSLContext is safe to share).
    return httpx.create_ssl_context(verify=verify)


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``base`` updated with ``extra``; header names compare case-insensitively."""
    merged = dict(base)
    lowered = {name.lower(): name for name in merged}
    for name, value in extra.items():
        previous = lowered.get(name.lower())
        if previous is not None:
            del merged[previous]
        merged[name] = value
        lowered[name.lower()] = name
    return merged


def _check_url(url: Any, path: str) -> None:
    if not isinstance(url, str) or not url:
        raise ConfigError("must be an http or https URL", path=path)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ConfigError(f"not a valid URL ({display_url(url)})", path=path) from None
    if parsed.scheme not in ("http", "https"):
        raise ConfigError(
            f"unsupported scheme {parsed.scheme!r} (accepted: http, https)", path=path
        )
    if not parsed.host:
        raise ConfigError("the URL has no host", path=path)
