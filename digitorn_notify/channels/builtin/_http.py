"""HTTP helpers of the built-in channels: redaction, request shaping, Retry-After,
a sharded transport.

Request shaping is what keeps a per-delivery override (which an LLM can write) inside
the bounds the channel's config set: which hosts and ports a ``url`` may target,
which headers may be set, which addresses a name may resolve to, and how credentials
in a URL are sent.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import socket
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeAlias
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import anyio
import attrs
import httpx

from digitorn_notify.secrets import LOG_FILTER, MASK, Redactor

__all__ = [
    "REFUSED_OVERRIDE_HEADERS",
    "AddressRule",
    "HostRule",
    "OverrideRedactor",
    "ShardedTransport",
    "basic_auth",
    "display_url",
    "header_override_refusal",
    "host_refusal",
    "is_sensitive_header",
    "parse_allowed_hosts",
    "parse_allowed_networks",
    "parse_retry_after",
    "pin_address",
    "url_port",
    "url_secrets",
]

_SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"}
)
_SENSITIVE_WORDS = ("auth", "token", "secret", "key", "signature", "password", "session")
_DIGIT = re.compile(r"\d")


def is_sensitive_header(name: str) -> bool:
    """Whether a header's value must be masked (``Authorization``, ``X-Api-Key`` ...)."""
    lowered = name.lower()
    return lowered in _SENSITIVE_HEADERS or any(word in lowered for word in _SENSITIVE_WORDS)


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The values of ``headers`` to mask, and the credential after ``Bearer``/``Basic``."""
    values = []
    for name, value in headers.items():
        if is_sensitive_header(name):
            text = str(value)
            values.append(text)
            scheme, _, credential = text.partition(" ")
            if credential and scheme.isalpha():
                values.append(credential.strip())
    return values


def _split(url: str) -> SplitResult | None:
    try:
        return urlsplit(url)
    except ValueError:
        return None


def display_url(url: str) -> str:
    """``url`` safe to show: scheme, host and port; path and query become ``/***``.

    Slack, Discord and Telegram put their tokens in the path, and credentials in the
    user-info part or the query are common, so only the origin is shown.
    """
    parts = _split(url)
    if parts is None or not parts.hostname:
        return MASK
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    hidden = parts.path not in ("", "/") or parts.query or parts.fragment
    return f"{parts.scheme}://{host}{port}{'/' + MASK if hidden else ''}"


def _looks_like_token(segment: str) -> bool:
    # Words such as "services" or "webhooks" stay readable; ids and tokens do not.
    return len(segment) >= 16 or (len(segment) >= 6 and _DIGIT.search(segment) is not None)


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that may be credentials: user-info, the path, token-like
    path segments and query values."""
    parts = _split(url)
    if parts is None:
        return [url]
    values: list[str] = []
    # User-info is percent-encoded in a URL; the server (and Basic auth) sees it decoded.
    if parts.password:
        values.extend({parts.password, unquote(parts.password)})
    if parts.username and parts.password:
        values.extend({parts.username, unquote(parts.username)})
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.path not in ("", "/") or parts.query:
        values.append(path_and_query)
    values.extend(s for s in parts.path.split("/") if _looks_like_token(s))
    values.extend(value for _, value in parse_qsl(parts.query) if value)
    return values


# -- request shaping ------------------------------------------------------------------

#: Headers a per-delivery override may not set: hop-by-hop headers (RFC 9110 7.6.1),
#: the framing of the body, and headers that route the request or change its method
#: behind a proxy or framework. ``Host`` would pivot to another virtual host behind
#: an allowed address; ``Content-Length``/``Transfer-Encoding`` could smuggle a second
#: request through a proxy.
REFUSED_OVERRIDE_HEADERS: Final = frozenset(
    {
        "connection",
        "content-length",
        "expect",
        "forwarded",
        "host",
        "http2-settings",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-proto",
        "x-forwarded-server",
        "x-http-method",
        "x-http-method-override",
        "x-method-override",
        "x-original-url",
        "x-real-ip",
        "x-rewrite-url",
    }
)
#: Prefixes of refused header names: every ``Proxy-*`` header (``Proxy-Authorization``,
#: ``Proxy-Connection``...) is for the proxy, not the destination.
_REFUSED_PREFIXES: Final = ("proxy-",)
#: RFC 9110's ``token``: what a header name may be made of.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE: Final = re.compile(r"[\r\n\x00]")


def header_override_refusal(headers: Mapping[Any, Any]) -> str | None:
    """Why per-delivery ``headers`` are refused, or ``None`` when they may be sent.

    Refused: a name in :data:`REFUSED_OVERRIDE_HEADERS` or starting with ``Proxy-``,
    a name that is not an HTTP token (a pseudo-header ``:authority``), a value with CR,
    LF or NUL (a header injection).
    """
    for raw_name, value in headers.items():
        name = str(raw_name)
        lowered = name.lower()
        if lowered in REFUSED_OVERRIDE_HEADERS or lowered.startswith(_REFUSED_PREFIXES):
            return (
                f"header {name!r} may not be set per delivery (hop-by-hop, framing and "
                "routing headers are refused: Host, Connection, Content-Length, "
                "Transfer-Encoding, Upgrade, TE, Trailer, Keep-Alive, Expect, Forwarded, "
                "X-Forwarded-*, method overrides and Proxy-*)"
            )
        if not _TOKEN.fullmatch(name):
            return f"header name {name!r} is not a valid HTTP header name"
        if _BAD_VALUE.search(str(value)):
            return f"the value of header {name!r} contains CR, LF or NUL"
    return None


def url_port(url: httpx.URL) -> int:
    """The port ``url`` connects to (the scheme's default when it names none)."""
    return url.port or (443 if url.scheme == "https" else 80)


@attrs.frozen
class HostRule:
    """One ``allowed_hosts`` entry: a host name and the one port it may be reached on."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def _split_host_port(entry: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; ``ValueError`` otherwise."""
    text = entry.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{entry!r} is not host, host:port or [ipv6]:port")
        port_text = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        # A bare IPv6 address (several colons) names no port.
        host, port_text = text, None
    if not host or any(c in host for c in "/@?# "):
        raise ValueError(f"{entry!r} is not host, host:port or [ipv6]:port")
    if port_text is None:
        return host.lower(), None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{entry!r}: the port must be a number from 1 to 65535")
    return host.lower(), int(port_text)


def parse_allowed_hosts(entries: Sequence[Any] | None, url: httpx.URL) -> frozenset[HostRule]:
    """The rules of an ``allowed_hosts`` list, for a channel whose configured URL is ``url``.

    An entry naming a port (``api.example.com:8443``) allows that port; an entry
    without one allows only the configured URL's port. No list at all allows the
    configured URL's host and port. ``ValueError`` (with the entry's index) for a
    malformed entry.
    """
    default_port = url_port(url)
    if entries is None:
        return frozenset({HostRule(url.host.lower(), default_port)}) if url.host else frozenset()
    rules = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            raise ValueError(  # noqa: TRY004 - callers turn ValueError into a ConfigError
                f"[{index}]: expected a host name, got {type(entry).__name__}"
            )
        try:
            host, port = _split_host_port(entry)
        except ValueError as exc:
            raise ValueError(f"[{index}]: {exc}") from None
        rules.add(HostRule(host, default_port if port is None else port))
    return frozenset(rules)


def host_refusal(url: httpx.URL, rules: frozenset[HostRule]) -> str | None:
    """Why ``url`` may not be targeted under ``rules``, or ``None`` when it may."""
    target = HostRule(url.host.lower(), url_port(url))
    if target in rules:
        return None
    return (
        f"url override refused: {target} is not allowed "
        f"(allowed_hosts: {', '.join(sorted(map(str, rules))) or 'none'}); nothing was sent"
    )


def basic_auth(url: httpx.URL) -> str | None:
    """The ``Authorization`` value for the credentials in ``url``, as httpx sends it.

    ``http://user:pass@host/`` is HTTP Basic auth with the percent-decoded user and
    password; ``None`` when the URL carries no credentials.
    """
    userinfo = url.userinfo
    if not userinfo:
        return None
    user, _, password = userinfo.decode("ascii").partition(":")
    credentials = f"{unquote(user)}:{unquote(password)}".encode()
    return "Basic " + base64.b64encode(credentials).decode("ascii")


#: A network a resolved address must be in, or ``"public"``: any global address.
AddressRule: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network | str

_PUBLIC: Final = "public"


def parse_allowed_networks(entries: Sequence[Any]) -> tuple[AddressRule, ...]:
    """``allowed_networks`` entries: CIDR networks (``203.0.113.0/24``), single
    addresses, or ``public`` (any globally routable address). ``ValueError`` names the
    entry's index."""
    rules: list[AddressRule] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            raise ValueError(  # noqa: TRY004 - callers turn ValueError into a ConfigError
                f"[{index}]: expected a network, got {type(entry).__name__}"
            )
        if entry.strip().lower() == _PUBLIC:
            rules.append(_PUBLIC)
            continue
        try:
            rules.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"[{index}]: {entry!r} is not a network (203.0.113.0/24, 2001:db8::/32, "
                "an address, or public)"
            ) from None
    return tuple(rules)


def _address_allowed(address: str, rules: tuple[AddressRule, ...]) -> bool:
    ip = ipaddress.ip_address(address.partition("%")[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for rule in rules:
        if rule == _PUBLIC:
            if ip.is_global:
                return True
        elif isinstance(rule, ipaddress.IPv4Network | ipaddress.IPv6Network) and ip in rule:
            return True
    return False


async def pin_address(
    url: httpx.URL, rules: tuple[AddressRule, ...]
) -> tuple[httpx.URL, dict[str, Any]] | str:
    """Resolve ``url``'s host, check every address against ``rules``, and pin one.

    Returns the URL with the host replaced by the checked address and the request
    extensions that keep the name for TLS (SNI and certificate checks), or the reason
    the request is refused. The connection goes to the address that was checked, so a
    DNS answer that changes between the check and the connection (DNS rebinding)
    cannot redirect it.
    """
    host = url.host
    try:
        infos = await anyio.getaddrinfo(host, url_port(url), type=socket.SOCK_STREAM)
    except OSError as exc:
        return f"cannot resolve {host!r} ({exc.strerror or type(exc).__name__}); nothing was sent"
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        return f"cannot resolve {host!r}; nothing was sent"
    refused = [a for a in addresses if not _address_allowed(a, rules)]
    if refused:
        return (
            f"{host!r} resolves to {', '.join(refused)}, outside allowed_networks; nothing was sent"
        )
    # Every address was checked; connect to an IPv4 one when there is one (servers
    # listen on IPv4 far more often than on IPv6 alone).
    chosen = next((a for a in addresses if ":" not in a), addresses[0])
    pinned = url.copy_with(host=chosen)
    extensions: dict[str, Any] = {}
    if url.scheme == "https":
        extensions["sni_hostname"] = host
    return pinned, extensions


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class OverrideRedactor:
    """Masks the secrets of per-delivery URLs in the HTTP stack's logs.

    Override URLs are not known at deploy time; they are added as they are used. To
    stay bounded, a full redactor is replaced by a fresh one (the URLs in flight are
    added again by their own deliveries).
    """

    __slots__ = ("_count", "_limit", "_redactor")

    def __init__(self, limit: int = 1000) -> None:
        self._limit = limit
        self._count = 0
        self._redactor = Redactor()

    def add(self, values: Iterable[str]) -> None:
        """Mask ``values`` from now on."""
        values = list(values)
        if not values:
            return
        if self._count >= self._limit:
            self.close()
            self._redactor, self._count = Redactor(), 0
        if self._count == 0:
            LOG_FILTER.track(self._redactor)
        self._redactor.add(*values)
        self._count += len(values)

    def redact(self, text: str) -> str:
        """``text`` with the override secrets masked."""
        return self._redactor.redact(text)

    def close(self) -> None:
        """Stop masking (the channel stopped)."""
        LOG_FILTER.forget(self._redactor)


def now_from_date_header(value: str | None, fallback: datetime) -> datetime:
    """The server's ``Date`` (so ``Retry-After`` dates ignore our clock skew), else ``fallback``."""
    if value:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return fallback
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return fallback


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools behind one transport, with a cap on requests in flight.

    httpcore's pool re-examines every connection, and every queued request, each time
    a request starts or ends: the work per request grows with the square of the pool
    size (httpx issue 3215), so one pool of 100 connections spends milliseconds of CPU
    per request. Here a request first takes one of ``concurrency`` slots, then goes to
    the least busy of several pools of at most ``shard_size`` connections, and its body
    is read before the slot is given back: no pool ever holds more requests than
    connections, so nothing queues inside httpcore and each pool stays small.
    """

    def __init__(self, *, concurrency: int, shard_size: int, **options: Any) -> None:
        shards = max(1, -(-concurrency // shard_size))
        size = min(shard_size, concurrency)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._shards = [httpx.AsyncHTTPTransport(limits=limits, **options) for _ in range(shards)]
        self._load = [0] * shards
        self._slots = anyio.Semaphore(concurrency)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the least busy pool, within the concurrency cap."""
        async with self._slots:
            load = self._load
            index = load.index(min(load)) if len(load) > 1 else 0
            load[index] += 1
            try:
                response = await self._shards[index].handle_async_request(request)
                try:
                    # Read here, so the connection is back in its pool before the slot
                    # is: the pool then never has more requests than connections.
                    await response.aread()
                finally:
                    await response.aclose()
                return response
            finally:
                load[index] -= 1

    async def aclose(self) -> None:
        """Close every pool."""
        for shard in self._shards:
            await shard.aclose()
