"""HTTP helpers of the built-in channels: redaction, Retry-After, a sharded transport."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

import anyio
import httpx

from digitorn_notify.secrets import LOG_FILTER, MASK, Redactor

__all__ = [
    "OverrideRedactor",
    "ShardedTransport",
    "display_url",
    "is_sensitive_header",
    "parse_retry_after",
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
    values = []
    if parts.password:
        values.append(parts.password)
    if parts.username and parts.password:
        values.append(parts.username)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.path not in ("", "/") or parts.query:
        values.append(path_and_query)
    values.extend(s for s in parts.path.split("/") if _looks_like_token(s))
    values.extend(value for _, value in parse_qsl(parts.query) if value)
    return values


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
