"""``apprise``: the 100+ services of Apprise behind one channel (extra ``apprise``).

::

    channels:
      everywhere:
        type: apprise
        config:
          urls:
            - "tgram://{{secret.TG_TOKEN}}/{{env.TG_CHAT}}"
            - url: "mailto://{{env.SMTP_USER}}:{{secret.SMTP_PASS}}@example.com"
              tags: [email]
          tags: []            # default tag filter (per delivery: config["tags"])

One ``Apprise`` object per instance, built and checked at deploy time (an invalid URL
is a ``ConfigError`` naming ``urls[i]``, never showing the URL). Apprise's own retries
and fixed throttle are turned off: the registry owns backoff, ``Retry-After`` and
fallback. Each target's outcome is in ``DeliveryResult.metadata["targets"]`` (with
Apprise's privacy-masked URL); a partial success is a retryable failure, and the
retry goes only to the targets that failed, so the others do not get duplicates.

Apprise's ``async_notify`` needs asyncio; under trio the bridge calls the blocking
``notify`` in a worker thread instead. Needs ``apprise>=2.0``
(``pip install 'digitorn-notify[apprise]'``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import anyio
import anyio.to_thread

from digitorn_notify.channels.base import BaseOutputChannel
from digitorn_notify.channels.builtin._configs import AppriseConfig, AppriseDeliveryConfig
from digitorn_notify.channels.context import current_delivery
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelCapabilities, ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.secrets import LOG_FILTER, MASK, Redactor

if TYPE_CHECKING:
    import apprise

__all__ = ["AppriseChannel", "import_apprise"]

_NOTIFY_TYPES = {"low": "info", "normal": "info", "high": "warning", "critical": "failure"}
# Deliveries whose retry should skip the targets that already succeeded.
_PENDING_LIMIT = 1000


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # Apprise's plugins import the stdlib's deprecated imghdr when first loaded; that is
    # Apprise's to fix, and must not break hosts that run with warnings as errors.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        yield


def import_apprise() -> Any:
    """The ``apprise`` module, or a :class:`ConfigError` saying how to install it."""
    try:
        with _quiet():
            import apprise  # noqa: PLC0415 - an optional extra, imported when used
    except ImportError:
        raise ConfigError(
            "the apprise channel needs the apprise package: pip install 'digitorn-notify[apprise]'",
            path="type",
        ) from None
    return apprise


def _on_asyncio() -> bool:
    # Apprise's async_notify is built on asyncio; trio runs no asyncio loop.
    import asyncio  # noqa: PLC0415 - only this optional bridge needs to know

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _shown(url: str) -> str:
    scheme = url.partition("://")[0] if "://" in url else ""
    return f"{scheme}://{MASK}" if scheme else MASK


def _url_secrets(url: str) -> list[str]:
    # Apprise URLs carry tokens anywhere: user-info, host (tgram://TOKEN/...), path.
    values = [url]
    try:
        parts = urlsplit(url)
    except ValueError:
        return values
    if parts.netloc:
        values.append(parts.netloc)
        values.extend(p for p in parts.netloc.replace("@", ":").split(":") if len(p) >= 4)
    values.extend(s for s in parts.path.split("/") if len(s) >= 6)
    values.extend(v for _, v in parse_qsl(parts.query) if len(v) >= 4)
    return values


def _ident(result: Any) -> str:
    return str(getattr(result, "url_id", None) or result.url)


def _service_ident(service: Any) -> str:
    try:
        return str(service.url_id() or service.url(privacy=True))
    except Exception:  # a plugin's url_id() may fail; its URL still identifies it
        return str(service.url(privacy=True))


class AppriseChannel(BaseOutputChannel):
    """Deliver through Apprise's services (see the module docstring)."""

    CHANNEL_ID: ClassVar[str] = "apprise"
    CHANNEL_NAME: ClassVar[str] = "Apprise"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"
    CHANNEL_DESCRIPTION: ClassVar[str] = "Any Apprise service URL (optional extra 'apprise')"
    CONFIG_CLASS: ClassVar[type[Any]] = AppriseConfig
    PER_DELIVERY_CONFIG_CLASS: ClassVar[type[Any]] = AppriseDeliveryConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._apprise: apprise.Apprise | None = None
        self._pending: OrderedDict[str, list[Any]] = OrderedDict()
        self._redactor = Redactor(self.sensitive_values())

    @property
    def settings(self) -> AppriseConfig:
        """The checked config block (see :class:`AppriseConfig`)."""
        return self._structured(AppriseConfig)

    def capabilities(self) -> ChannelCapabilities:
        """Apprise converts HTML for text-only services and sends attachments."""
        return ChannelCapabilities(
            supports_rich_text=True,
            supports_attachments=True,
            supported_formats=["text", "html", "markdown"],
        )

    def retry_policy(self) -> RetryPolicy:
        """3 retries, 2 s doubling to 30 s, owned by the registry (Apprise's are off)."""
        return RetryPolicy(max_retries=3, backoff_base=2.0, backoff_max=30.0)

    def _entries(self) -> list[tuple[str, list[str]]]:
        # Read leniently: sensitive_values() runs before the config is checked.
        urls = self.channel_config.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        entries = []
        for item in urls if isinstance(urls, list) else []:
            if isinstance(item, Mapping):
                tags = item.get("tags") or []
                tag_list = [tags] if isinstance(tags, str) else [str(t) for t in tags]
                entries.append((str(item.get("url") or ""), tag_list))
            else:
                entries.append((str(item), []))
        return entries

    def sensitive_values(self) -> Iterable[str]:
        """Every URL, and the credentials inside them."""
        return [value for url, _ in self._entries() for value in _url_secrets(url)]

    async def validate_config(self) -> None:
        """Build the ``Apprise`` object: every URL must be one Apprise understands.

        In a worker thread: the first use imports Apprise and loads its plugins, which
        takes seconds during which the event loop would run nothing else.
        """
        await anyio.to_thread.run_sync(self._build)

    def _build(self) -> None:
        super().validate_config()
        settings = self.settings
        module = import_apprise()
        # Apprise logs each URL it loads (at DEBUG, not masking every plugin's tokens),
        # and requests' urllib3 logs request paths: mask ours from the first call on.
        LOG_FILTER.track(self._redactor)
        for name in ("apprise", "urllib3.connectionpool"):
            if LOG_FILTER not in logging.getLogger(name).filters:
                logging.getLogger(name).addFilter(LOG_FILTER)
        asset = module.AppriseAsset(async_mode=True)
        manager = module.Apprise(asset=asset)
        for index, target in enumerate(settings.urls):
            with _quiet():
                service = module.Apprise.instantiate(
                    target.url, asset=asset, tag=target.tags or None
                )
            if service is None:
                raise ConfigError(
                    f"not a valid Apprise URL ({_shown(target.url)}); see Apprise's list of"
                    " services",
                    path=f"urls[{index}]",
                )
            # Our registry retries with backoff and Retry-After; Apprise must not retry
            # or sleep on its own (its default throttle is a fixed sleep per request).
            service.retry = 0
            if not settings.throttle:
                service.request_rate_per_sec = 0
            manager.add(service)
        self._apprise = manager

    async def on_start(self) -> None:
        """Build the Apprise object if not done yet."""
        if self._apprise is None:
            await self.validate_config()

    async def on_stop(self) -> None:
        """Forget the Apprise object."""
        self._apprise = None
        self._pending.clear()
        LOG_FILTER.forget(self._redactor)

    def _kwargs(
        self, payload: ChannelPayload, module: Any, config: Mapping[str, Any]
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "body": payload.rich_message or payload.message,
            "title": payload.title or "",
            "notify_type": _NOTIFY_TYPES.get(payload.priority.value, "info"),
            "body_format": "html" if payload.rich_message else "text",
        }
        tags = config.get("tags", self.settings.tags)
        if tags:
            kwargs["tag"] = [tags] if isinstance(tags, str) else list(tags)
        attachments: list[Any] = []
        for attachment in payload.attachments:
            if attachment.content is not None:
                memory: Any = importlib.import_module("apprise.attachment.memory")
                attachments.append(
                    memory.AttachMemory(
                        content=attachment.content,
                        name=attachment.filename,
                        mimetype=attachment.content_type,
                    )
                )
            elif attachment.path is not None:
                attachments.append(attachment.path)
        if attachments:
            kwargs["attach"] = attachments
        timeout = self.settings.timeout
        if timeout is not None:
            kwargs["timeout"] = timeout
        return kwargs

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Notify every (matching) target; partial success is a retryable failure."""
        manager = self._apprise
        if manager is None:
            await self.on_start()
            manager = self._apprise
            assert manager is not None
        module = import_apprise()
        delivery = current_delivery()
        key = delivery.key if delivery is not None else None
        retry_of = self._pending.pop(key, None) if key else None
        if retry_of:
            # A retry goes only to the targets that failed before.
            manager = module.Apprise(asset=manager.asset)
            manager.add(retry_of)
        kwargs = self._kwargs(payload, module, config)
        if _on_asyncio():
            outcome = await manager.async_notify(**kwargs)
        else:
            outcome = await anyio.to_thread.run_sync(
                lambda: manager.notify(**kwargs), abandon_on_cancel=True
            )
        return self._result(outcome, manager, key)

    def _result(self, outcome: Any, manager: Any, key: str | None) -> DeliveryResult:
        status = getattr(outcome.status, "name", str(outcome.status))
        # Apprise's "privacy" URLs mask passwords but not every plugin's path tokens.
        redact = self._redactor.redact
        targets = [
            {"service": r.name, "url": redact(r.url), "status": r.status.name, "attempts": len(r)}
            for r in outcome.results
        ]
        metadata: dict[str, Any] = {"targets": targets, "status": status}
        if status == "SUCCESS":
            return DeliveryResult(success=True, channel_id=self.CHANNEL_ID, metadata=metadata)
        if status == "NOMATCH":
            return DeliveryResult(
                success=False,
                channel_id=self.CHANNEL_ID,
                error="no Apprise target matches the tags",
                metadata=metadata,
            )
        failed = [t for t in targets if t["status"] != "SUCCESS"]
        if key and len(failed) < len(targets):
            succeeded = {_ident(r) for r in outcome.results if r.status.name == "SUCCESS"}
            services = [s for s in manager if _service_ident(s) not in succeeded]
            if services:
                self._pending[key] = services
                while len(self._pending) > _PENDING_LIMIT:
                    self._pending.popitem(last=False)
        names = ", ".join(f"{t['service']} ({t['status'].lower()})" for t in failed)
        return DeliveryResult(
            success=False,
            channel_id=self.CHANNEL_ID,
            error=f"{len(failed)} of {len(targets)} Apprise target(s) failed: {names}",
            retryable=True,
            metadata=metadata,
        )
