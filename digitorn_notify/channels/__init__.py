"""Channels: the base class, the registry and the built-in channel types."""

from digitorn_notify.channels.base import BaseOutputChannel, ConfigSchema, RecipientContext
from digitorn_notify.channels.builtin import (
    LLMNotificationChannel,
    LogChannel,
    Notification,
    Subscription,
)
from digitorn_notify.channels.health import HealthTracker
from digitorn_notify.channels.registry import (
    ENTRY_POINT_GROUP,
    ChannelRegistry,
    UserResolver,
    UserResolverFactory,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "BaseOutputChannel",
    "ChannelRegistry",
    "ConfigSchema",
    "HealthTracker",
    "LLMNotificationChannel",
    "LogChannel",
    "Notification",
    "RecipientContext",
    "Subscription",
    "UserResolver",
    "UserResolverFactory",
]
