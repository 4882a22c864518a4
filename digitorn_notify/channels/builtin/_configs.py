"""The config blocks of the built-in channels, as attrs classes.

Each class is the one place its channel's rules live: the registry structures a
channel's resolved ``config:`` block into it at deploy time (through the one
converter, so errors name the field, an unknown key and what is accepted), and the
channel's ``config_schema()`` is derived from it. The ``...DeliveryConfig`` classes
describe what a job, a watcher or a caller may set per delivery (``output_config``);
``per_delivery_config_schema()`` is derived from them.

Values that would pass here and fail every delivery later are refused here: a
timeout that is not a finite number > 0, a boolean where a number is expected, a
list where a host name is expected, a header value with a line break.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import attrs
import httpx

from digitorn_notify._convert import structure
from digitorn_notify._validators import (
    finite_positive,
    no_line_breaks,
    one_of,
    optional_finite_positive,
)
from digitorn_notify.channels._schema import check_header_map, described
from digitorn_notify.channels.builtin._http import display_url
from digitorn_notify.errors import ConfigError
from digitorn_notify.secrets import Secret

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "LOG_LEVELS",
    "MAX_CONCURRENCY",
    "SMTP_SECURITY",
    "AppriseConfig",
    "AppriseDeliveryConfig",
    "AppriseTarget",
    "EmailConfig",
    "EmailDeliveryConfig",
    "LLMNotificationConfig",
    "LLMNotificationDeliveryConfig",
    "LogConfig",
    "WebhookConfig",
    "WebhookDeliveryConfig",
    "addresses",
    "check_url",
]

#: Webhook requests of one instance in flight at once, by default and at most. Deploy
#: allocates per slot, so the bound keeps a config from exhausting memory.
DEFAULT_MAX_CONCURRENCY: Final = 64
MAX_CONCURRENCY: Final = 1000
WEBHOOK_METHODS: Final = ("POST", "PUT", "PATCH")
#: SMTP security modes and their default ports.
SMTP_SECURITY: Final = {"starttls": 587, "tls": 465, "none": 25}
LOG_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# -- shared checks --------------------------------------------------------------------------


def check_url(url: Any, path: str) -> None:
    """An http or https URL with a host; the error never shows the URL's path or query."""
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


def _url(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    check_url(value, attribute.name)


def _headers(_: Any, attribute: attrs.Attribute[Any], value: Mapping[str, str]) -> None:
    check_header_map(value, attribute.name)


def _header_name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    check_header_map({value: ""}, attribute.name)


def _max_concurrency(_: Any, attribute: attrs.Attribute[Any], value: int) -> None:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ConfigError(
            f"must be a whole number from 1 to {MAX_CONCURRENCY}, got {value!r}",
            path=attribute.name,
        )


def _verify(value: Any) -> bool | str:
    if isinstance(value, bool) or (isinstance(value, str) and value):
        return value
    raise ConfigError(
        f"must be true, false or a CA bundle path, got {type(value).__name__}", path="verify_ssl"
    )


def _template(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str | Mapping | list):
        raise ConfigError(
            f"must be JSON text, a mapping or a list, got {type(value).__name__}",
            path=attribute.name,
        )


def _host(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value or any(c.isspace() for c in value) or "/" in value:
        raise ConfigError("must be a host name (no spaces, no scheme or path)", path=attribute.name)


def _port(_: Any, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 0 < value < 65536:
        raise ConfigError(f"must be a port number (1-65535), got {value!r}", path=attribute.name)


def addresses(value: Any, field: str) -> list[str]:
    """Email addresses from a string (comma-separated allowed) or a list; ``ValueError``
    (naming ``field``) for anything else."""
    if value is None or value == "":
        return []
    items: Sequence[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ValueError(  # noqa: TRY004 - callers turn ValueError into their own error
            f"{field} must be an address or a list of addresses"
        )
    found = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(  # noqa: TRY004 - as above
                f"{field}: expected an address (a string), got {type(item).__name__}"
            )
        address = item.strip()
        if not address:
            continue
        if "@" not in address or any(c in address for c in '\r\n<>"') or " " in address:
            raise ValueError(f"{field}: {address!r} is not an email address")
        found.append(address)
    return found


def _address_list(field: str) -> Any:
    def convert(value: Any) -> list[str]:
        try:
            return addresses(value, field)
        except ValueError as exc:
            raise ConfigError(str(exc).removeprefix(f"{field}: "), path=field) from None

    return convert


def _one_address(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    try:
        found = addresses(value, attribute.name)
    except ValueError as exc:
        raise ConfigError(
            str(exc).removeprefix(f"{attribute.name}: "), path=attribute.name
        ) from None
    if len(found) != 1 or "," in value:
        raise ConfigError("must be one email address", path=attribute.name)


def _tag_list(field: str) -> Any:
    def convert(value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        if isinstance(value, list | tuple) and all(isinstance(t, str) for t in value):
            return list(value)
        raise ConfigError("must be a tag or a list of tags (strings)", path=field)

    return convert


# -- webhook --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class WebhookConfig:
    """The ``config:`` block of a ``webhook`` channel."""

    url: str = described("Target URL (http or https)", validator=_url)
    method: str = described(
        "POST (default), PUT or PATCH",
        default="POST",
        validator=one_of(*WEBHOOK_METHODS, any_case=True),
    )
    headers: dict[str, str] = described(
        "HTTP headers sent with every request", factory=dict, validator=_headers
    )
    timeout: float = described(
        "Request timeout in seconds (default 10)", default=10.0, validator=finite_positive
    )
    verify_ssl: bool | str = described(
        "Verify TLS certificates (default true), or a CA bundle path",
        default=True,
        converter=_verify,
    )
    payload_template: Any = described(
        "JSON body template with {{message}}, {{title}} ... tokens",
        default=None,
        validator=_template,
    )
    allowed_hosts: list[str] | None = described(
        "host or host:port entries a per-delivery url may target "
        "(default: url's host and port; no port: url's port)",
        default=None,
    )
    allowed_networks: list[str] | None = described(
        "Networks (CIDR, or 'public') every request's resolved address must be in",
        default=None,
    )
    max_concurrency: int = described(
        f"Requests in flight at once, 1 to {MAX_CONCURRENCY} (default {DEFAULT_MAX_CONCURRENCY})",
        default=DEFAULT_MAX_CONCURRENCY,
        validator=_max_concurrency,
    )
    idempotency_header: str = described(
        "Header carrying the delivery key (default Idempotency-Key)",
        default="Idempotency-Key",
        validator=_header_name,
    )


@attrs.frozen(kw_only=True)
class WebhookDeliveryConfig:
    """What a webhook delivery may override (``output_config``)."""

    url: str | None = described("Target URL (its host must be in allowed_hosts)", default=None)
    headers: dict[str, str] = described(
        "Headers merged over the configured ones (not Host, hop-by-hop...)", factory=dict
    )
    payload: Any = described("A JSON body (mapping or list) replacing the template", default=None)
    idempotency_key: str | None = described(
        "Key to send instead of the generated one", default=None
    )


# -- email ----------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class EmailConfig:
    """The ``config:`` block of an ``email`` channel."""

    smtp_host: str = described("SMTP server host name", validator=_host)
    from_address: str = described("Sender address", validator=_one_address)
    smtp_port: int | None = described(
        "Port (default 587 for starttls, 465 for tls, 25 for none)", default=None, validator=_port
    )
    security: str = described(
        "starttls (default), tls (implicit TLS) or none",
        default="starttls",
        validator=one_of(*SMTP_SECURITY, any_case=True),
    )
    username: str | None = described("SMTP login (with password)", default=None)
    password: str | None = described("SMTP password (use {{secret.NAME}})", default=None)
    from_name: str = described("Sender display name", default="")
    to_address: list[str] = described(
        "Default recipient(s): an address or a list",
        factory=list,
        converter=_address_list("to_address"),
    )
    cc: list[str] = described(
        "Default Cc recipient(s)", factory=list, converter=_address_list("cc")
    )
    bcc: list[str] = described(
        "Default Bcc recipient(s)", factory=list, converter=_address_list("bcc")
    )
    reply_to: list[str] = described(
        "Reply-To address", factory=list, converter=_address_list("reply_to")
    )
    html: bool = described("Add an HTML alternative part (default true)", default=True)
    timeout: float = described(
        "Connection and command timeout in seconds (default 30)",
        default=30.0,
        validator=finite_positive,
    )
    verify_ssl: bool = described("Verify the server's certificate (default true)", default=True)
    ca_file: str | None = described(
        "CA bundle to verify the server with (an internal CA)", default=None
    )

    def __attrs_post_init__(self) -> None:
        if bool(self.username) != bool(self.password):
            raise ConfigError("username and password go together", path="password")

    @property
    def sender(self) -> str:
        """The sender address, without surrounding spaces."""
        return self.from_address.strip()

    @property
    def port(self) -> int:
        """``smtp_port``, or the default port of the security mode."""
        return self.smtp_port or SMTP_SECURITY[self.security.lower()]


@attrs.frozen(kw_only=True)
class EmailDeliveryConfig:
    """What an email delivery may set (``output_config``, or a ``user_resolver``)."""

    to_address: list[str] = described(
        "Recipient address(es), replacing the default",
        factory=list,
        converter=_address_list("to_address"),
    )
    recipient_name: str | None = described("Display name of a single recipient", default=None)
    cc: list[str] = described("Cc address(es)", factory=list, converter=_address_list("cc"))
    bcc: list[str] = described(
        "Bcc address(es), not shown to other recipients",
        factory=list,
        converter=_address_list("bcc"),
    )
    reply_to: list[str] = described(
        "Reply-To address", factory=list, converter=_address_list("reply_to")
    )


# -- apprise --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AppriseTarget:
    """One Apprise URL, with the tags that select it."""

    url: str = described("An Apprise URL")
    tags: list[str] = described(
        "Tags that select this target", factory=list, converter=_tag_list("tags")
    )


def _targets(value: Any) -> list[AppriseTarget]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError("must be an Apprise URL or a list of them", path="urls")
    targets = []
    for index, item in enumerate(items):
        path = f"urls[{index}]"
        if isinstance(item, str) and item:
            targets.append(AppriseTarget(url=item))
        elif isinstance(item, Mapping):
            targets.append(structure(dict(item), AppriseTarget, path))
        else:
            raise ConfigError("must be an Apprise URL or a {url, tags} mapping", path=path)
    return targets


@attrs.frozen(kw_only=True)
class AppriseConfig:
    """The ``config:`` block of an ``apprise`` channel."""

    urls: list[AppriseTarget] = described(
        "Apprise URLs: strings, or {url, tags} mappings", converter=_targets
    )
    tags: list[str] = described(
        "Default tag filter: only targets with one of these tags",
        factory=list,
        converter=_tag_list("tags"),
    )
    throttle: bool = described("Keep Apprise's per-service throttle (default false)", default=False)
    timeout: float | None = described(
        "Seconds Apprise may spend on one call (default: no limit)",
        default=None,
        validator=optional_finite_positive,
    )


@attrs.frozen(kw_only=True)
class AppriseDeliveryConfig:
    """What an Apprise delivery may set."""

    tags: list[str] = described(
        "Only targets with one of these tags", factory=list, converter=_tag_list("tags")
    )


# -- log and llm_notification ---------------------------------------------------------------


def _logger_name(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    if not value:
        raise ConfigError("must be a non-empty string", path=attribute.name)
    if isinstance(value, Secret):
        # The logger name is printed in every record, where no redaction applies.
        raise ConfigError(
            "must not contain a secret: it appears in every log record", path=attribute.name
        )
    no_line_breaks(value, attribute.name)


@attrs.frozen(kw_only=True)
class LogConfig:
    """The ``config:`` block of a ``log`` channel (every field optional)."""

    logger_name: str = described(
        "Python logger name (default digitorn.notifications)",
        default="digitorn.notifications",
        validator=_logger_name,
    )
    level: str = described(
        "DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)",
        default="INFO",
        validator=one_of(*LOG_LEVELS, any_case=True),
    )
    format: str = described(
        "text (default) or json", default="text", validator=one_of("text", "json")
    )
    include_data: bool = described(
        "Include structured data and metadata (default false)", default=False
    )


@attrs.frozen
class LLMNotificationConfig:
    """``llm_notification`` takes no config: it is built in and always present."""


@attrs.frozen(kw_only=True)
class LLMNotificationDeliveryConfig:
    """What an ``llm_notification`` delivery may set."""

    session_id: str | None = described(
        "Session whose consumers receive it (default: the delivery's session)", default=None
    )
