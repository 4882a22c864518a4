"""digitorn_notify: an embeddable async notification runtime.

Channels deliver :class:`ChannelPayload` objects through a :class:`ChannelRegistry`;
schedulers, watchers, triggers and background tasks produce them. Everything runs
inside the host's event loop through anyio (asyncio or trio).
"""

from digitorn_notify._version import __version__
from digitorn_notify.clock import Clock, FakeClock, SystemClock
from digitorn_notify.errors import (
    ChannelNotFoundError,
    ConfigError,
    DeliveryError,
    ExpressionError,
    NotifyError,
    StoreError,
    TimeExpressionError,
)

__all__ = [
    "ChannelNotFoundError",
    "Clock",
    "ConfigError",
    "DeliveryError",
    "ExpressionError",
    "FakeClock",
    "NotifyError",
    "StoreError",
    "SystemClock",
    "TimeExpressionError",
    "__version__",
]
