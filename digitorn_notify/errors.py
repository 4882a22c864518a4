"""The exception tree of digitorn_notify.

Every error the library raises on purpose derives from :class:`NotifyError`::

    NotifyError
    ├── ConfigError            a config field is missing, unknown or invalid (names the path)
    ├── ExpressionError        a threshold expression does not compile (names the column)
    ├── TimeExpressionError    a time expression is not understood (lists the accepted forms)
    ├── DeliveryError          a delivery could not even be attempted
    │   └── ChannelNotFoundError   no channel instance or type by that name
    ├── ResolverError          a user_resolver found no address (logged; the delivery
    │                          goes on with the explicit config)
    ├── StoreError             a storage backend failed or holds data it cannot read
    ├── SchedulerError         a scheduler request cannot be carried out (wrong job state)
    │   ├── InvalidJobError    a job parameter is invalid; nothing was created or changed
    │   └── JobNotFoundError   no job by that id (in that app)
    └── WatcherError           a watcher request was refused
        ├── WatcherNotFoundError   no watcher by that id (in that app)
        └── ToolNotAllowedError    the host's policy does not let the tool run unattended

Errors never carry a resolved secret: messages are built from config paths and
redacted values, not from the values themselves.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChannelNotFoundError",
    "ConfigError",
    "DeliveryError",
    "ExpressionError",
    "InvalidJobError",
    "JobNotFoundError",
    "NotifyError",
    "ResolverError",
    "SchedulerError",
    "StoreError",
    "TimeExpressionError",
    "ToolNotAllowedError",
    "WatcherError",
    "WatcherNotFoundError",
]


class NotifyError(Exception):
    """Base class of every error raised by digitorn_notify."""


class ConfigError(NotifyError, ValueError):
    """A configuration value is missing, unknown or invalid.

    ``path`` names where, in the dotted form of the app config
    (``channels.slack_alerts.config.url``); ``reason`` says what was wrong.
    """

    def __init__(self, reason: str, *, path: str = "") -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"{path}: {reason}" if path else reason)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields are lost by BaseException's default pickling.
        return (_rebuild, (type(self), (self.reason,), {"path": self.path}))

    def with_prefix(self, prefix: str) -> ConfigError:
        """Return the same error with ``prefix`` prepended to its path."""
        path = f"{prefix}.{self.path}" if self.path else prefix
        return ConfigError(self.reason, path=path)


class ExpressionError(NotifyError, ValueError):
    """A threshold expression is invalid; ``column`` is 1-based, or 0 when not positional."""

    def __init__(self, message: str, *, column: int = 0, text: str = "") -> None:
        self.column = column
        self.text = text
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, {"column": self.column, "text": self.text}))


class TimeExpressionError(NotifyError, ValueError):
    """A time expression could not be understood; the message lists the accepted forms."""


class DeliveryError(NotifyError):
    """A delivery could not be attempted at all (as opposed to a failed ``DeliveryResult``)."""


class ChannelNotFoundError(DeliveryError, LookupError):
    """No channel instance or channel type is known under the given name."""


class ResolverError(NotifyError, LookupError):
    """A user resolver found no usable address (no row, no mapped field, a refused id)."""


class StoreError(NotifyError):
    """A storage backend failed, or holds data this version cannot read."""


class SchedulerError(NotifyError):
    """A scheduler request cannot be carried out (for example, resuming a cancelled job)."""


class InvalidJobError(SchedulerError, ValueError):
    """A job parameter is invalid; the message names it and what is accepted.

    Nothing was created or changed.
    """


class JobNotFoundError(SchedulerError, LookupError):
    """No scheduled job has that id (in the given app)."""


class WatcherError(NotifyError):
    """A watcher request was refused (bad arguments are :class:`ConfigError` instead)."""


class WatcherNotFoundError(WatcherError, LookupError):
    """No watcher has that id (in the app the caller named)."""


class ToolNotAllowedError(WatcherError, PermissionError):
    """The host's :class:`~digitorn_notify.host.PolicyGuard` does not rate the tool ``AUTO``.

    Watchers run unattended, so a tool that needs approval (``APPROVE``) or is refused
    (``BLOCK``) cannot be watched.
    """


def _rebuild(cls: type[Exception], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Exception:
    return cls(*args, **kwargs)
