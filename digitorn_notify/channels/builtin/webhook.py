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
from digitorn_notify.channels.base import BaseOutputChannel
from digitorn_notify.channels.builtin._configs import (
    DEFAULT_MAX_CONCURRENCY,
    MAX_CONCURRENCY,
    WebhookConfig,
    WebhookDeliveryConfig,
    check_url,
)
from digitorn_notify.channels.builtin._http import (
    AddressRule,
    HostRule,
    OverrideRedactor,
    ShardedTransport,
    basic_auth,
    display_url,
    header_override_refusal,
    header_secrets,
    host_refusal,
    now_from_date_header,
    parse_allowed_hosts,
    parse_allowed_networks,
    parse_retry_after,
    pin_address,
    url_secrets,
)
from digitorn_notify.channels.context import current_delivery
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelCapabilities, ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.secrets import Redactor, config_secrets, mask_then_cut
from digitorn_notify.templates import PayloadTemplate, json_bytes

__all__ = ["MAX_CONCURRENCY", "WebhookChannel", "default_body"]

logger = logging.getLogger("digitorn_notify.channels.webhook")

_RETRYABLE_STATUSES = frozenset({408, 425, 429})
_BODY_SNIPPET = 200
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

    CONFIG_CLASS: ClassVar[type[Any]] = WebhookConfig
    PER_DELIVERY_CONFIG_CLASS: ClassVar[type[Any]] = WebhookDeliveryConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        config = self.channel_config
        # Read leniently here: sensitive_values() runs before the config is checked.
        url = config.get("url")
        self.url: str = url if isinstance(url, str) else ""
        headers = config.get("headers")
        self.headers: dict[str, str] = (
            {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
        )
        self.method = "POST"
        self.timeout = 10.0
        self.verify_ssl: bool | str = True
        self.max_concurrency = DEFAULT_MAX_CONCURRENCY
        self.idempotency_header = "Idempotency-Key"
        self._base_headers: dict[str, str] = {}
        self.template: PayloadTemplate | None = None
        self._client: httpx.AsyncClient | None = None
        self._transport: httpx.AsyncBaseTransport | None = None
        self._extensions: dict[str, Any] = {}
        self._parsed_url: httpx.URL | None = None
        self._overrides = OverrideRedactor()
        self._rules: frozenset[HostRule] | None = None
        self._networks: tuple[AddressRule, ...] = ()
        # The channel's own secrets, masked in its text before anything is cut.
        self._redactor = Redactor([*config_secrets(config), *self.sensitive_values()])

    # -- config --------------------------------------------------------------------

    @property
    def settings(self) -> WebhookConfig:
        """The checked config block (see :class:`WebhookConfig`)."""
        return self._structured(WebhookConfig)

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
        """Structure the block into :class:`WebhookConfig` and compile the template."""
        super().validate_config()
        settings = self.settings
        self._configure(settings)
        self._check_shaping(settings)

    def _configure(self, settings: WebhookConfig) -> None:
        self.url = settings.url
        self.method = settings.method.upper()
        self.headers = dict(settings.headers)
        self._base_headers = _merge_headers(
            {"User-Agent": f"digitorn-notify/{__version__}", "Content-Type": "application/json"},
            self.headers,
        )
        self.timeout = settings.timeout
        self.verify_ssl = settings.verify_ssl
        self.max_concurrency = settings.max_concurrency
        self.idempotency_header = settings.idempotency_header
        template = settings.payload_template
        self.template = (
            None if template is None else PayloadTemplate(template, path="payload_template")
        )

    def _check_shaping(self, settings: WebhookConfig) -> None:
        """``allowed_hosts``, ``allowed_networks`` and credentials in ``url``."""
        try:
            self._rules = parse_allowed_hosts(settings.allowed_hosts, httpx.URL(self.url))
        except ValueError as exc:
            raise ConfigError(
                f"must be host or host:port entries: {exc}", path="allowed_hosts"
            ) from None
        if settings.allowed_networks is not None:
            if not settings.allowed_networks:
                raise ConfigError("must be a non-empty list of networks", path="allowed_networks")
            try:
                self._networks = parse_allowed_networks(settings.allowed_networks)
            except ValueError as exc:
                raise ConfigError(str(exc), path="allowed_networks") from None
        if basic_auth(httpx.URL(self.url)) and any(
            name.lower() == "authorization" for name in self.headers
        ):
            raise ConfigError(
                "the URL carries credentials (sent as Basic auth) and headers set "
                "Authorization too: keep one",
                path="url",
            )

    @property
    def allowed_hosts(self) -> frozenset[HostRule]:
        """Hosts and ports a per-delivery ``url`` may target."""
        if self._rules is None:
            self._rules = parse_allowed_hosts(
                self.settings.allowed_hosts, httpx.URL(self.url)
            )
        return self._rules

    # -- lifecycle -----------------------------------------------------------------

    async def on_start(self) -> None:
        """Open the pooled client."""
        if not self._base_headers:  # created without validate_config (a type id used directly)
            self.validate_config()
        transport = self.create_transport()
        # The client owns the pools and their lifetime. Requests are built here and handed
        # to its transport: the client's per-request layers (cookie jar, auth and redirect
        # flows, header merging) cost a quarter of the CPU of a request, and none applies
        # to a webhook (no cookies, auth is a header, redirects are refused).
        self._client = httpx.AsyncClient(
            transport=transport, timeout=self.timeout, follow_redirects=False
        )
        self._transport = transport
        self._extensions = {"timeout": self._client.timeout.as_dict()}
        parsed = httpx.URL(self.url)
        # Credentials in the URL are sent as httpx sends them (Basic auth), never
        # dropped silently; the URL itself goes out without them.
        credentials = basic_auth(parsed)
        if credentials is not None:
            self._base_headers = _merge_headers(self._base_headers, {"Authorization": credentials})
            parsed = parsed.copy_with(username=None, password=None)
        self._parsed_url = parsed

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
        prepared = await self._request(app_id, payload, config)
        if isinstance(prepared, DeliveryResult):
            return prepared
        request, shown, key = prepared
        try:
            response = await transport.handle_async_request(request)
        except httpx.TimeoutException as exc:
            return self._failure(
                f"{shown}: timed out after {self.timeout:g}s ({type(exc).__name__})",
                retryable=True,
            )
        except httpx.TransportError as exc:
            cause = _cause(exc)
            reason = self._redact(str(exc) or str(cause)) or type(cause).__name__
            if isinstance(cause, ssl.SSLCertVerificationError):
                # A certificate that does not verify will not verify on the next attempt.
                detail = cause.verify_message or reason
                return self._failure(f"{shown}: TLS certificate rejected ({detail})")
            return self._failure(f"{shown}: {type(exc).__name__}: {reason}", retryable=True)
        return self._result(response, shown, key)

    async def _request(
        self, app_id: str, payload: ChannelPayload, config: Mapping[str, Any]
    ) -> tuple[httpx.Request, str, str] | DeliveryResult:
        """The request of one delivery, its URL as shown, and its key; or the refusal."""
        url = self.url
        target = self._parsed_url or httpx.URL(url)
        credentials = None
        override = config.get("url")
        if override is not None and override != url:
            refusal = self._check_override(override)
            if refusal is not None:
                return self._failure(refusal)
            url = str(override)
            self._overrides.add(url_secrets(url))
            target = httpx.URL(url)
            credentials = basic_auth(target)
            if credentials is not None:
                target = target.copy_with(username=None, password=None)
        try:
            body = self._body(app_id, payload, config)
        except (ConfigError, TypeError, ValueError) as exc:
            return self._failure(f"invalid per-delivery payload: {exc}")
        headers = self._base_headers
        extra = config.get("headers")
        if isinstance(extra, Mapping) and extra:
            refusal = header_override_refusal(extra)
            if refusal is not None:
                return self._failure(f"headers override refused: {refusal}; nothing was sent")
            self._overrides.add(header_secrets(extra))
            headers = _merge_headers(headers, {str(k): str(v) for k, v in extra.items()})
        else:
            headers = dict(headers)
        if credentials is not None:
            headers = _merge_headers(headers, {"Authorization": credentials})
            self._overrides.add([credentials])
        delivery = current_delivery()
        key = str(config.get("idempotency_key") or (delivery.key if delivery else ""))
        if key:
            headers[self.idempotency_header] = key
        shown = f"{self.method} {display_url(url)}"
        extensions = self._extensions
        if self._networks:
            pinned = await pin_address(target, self._networks)
            if isinstance(pinned, str):
                return self._failure(f"{shown}: {pinned}")
            # The connection goes to the checked address; the name stays in Host (and SNI).
            if not any(name.lower() == "host" for name in headers):
                headers["Host"] = target.netloc.decode("ascii")
            target, sni = pinned
            extensions = {**extensions, **sni}
        request = httpx.Request(
            self.method, target, content=body, headers=headers, extensions=extensions
        )
        return request, shown, key

    def _check_override(self, override: Any) -> str | None:
        if not isinstance(override, str):
            return f"url override must be a string, got {type(override).__name__}"
        try:
            check_url(override, "url")
        except ConfigError as exc:
            return f"url override refused: {exc.reason}"
        return host_refusal(httpx.URL(override), self.allowed_hosts)

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
        # Masked first, then cut: a cut first could leave a secret's prefix unmasked.
        snippet = mask_then_cut(response.text.strip(), _BODY_SNIPPET, self._redact)
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

    def _redact(self, text: str) -> str:
        return self._overrides.redact(self._redactor.redact(text))

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
