"""Channels: the base class, the registry and the built-in channel types."""

from digitorn_notify.channels._choice import DefaultChannel
from digitorn_notify.channels.adapt import TRUNCATION_MARKER, OverflowPolicy, adapt_payload
from digitorn_notify.channels.base import BaseOutputChannel, ConfigSchema, RecipientContext
from digitorn_notify.channels.builtin import (
    AppriseChannel,
    AppriseConfig,
    AppriseDeliveryConfig,
    EmailChannel,
    EmailConfig,
    EmailDeliveryConfig,
    LLMNotificationChannel,
    LLMNotificationDeliveryConfig,
    LogChannel,
    LogConfig,
    Notification,
    Subscription,
    WebhookChannel,
    WebhookConfig,
    WebhookDeliveryConfig,
)
from digitorn_notify.channels.context import (
    DeliveryContext,
    current_delivery,
    delivery_key,
    run_key,
)
from digitorn_notify.channels.health import HealthTracker
from digitorn_notify.channels.registry import (
    ENTRY_POINT_GROUP,
    ChannelRegistry,
    UserResolver,
    UserResolverFactory,
)
from digitorn_notify.channels.resolver import ActionUserResolver, ResolverError

__all__ = [
    "ENTRY_POINT_GROUP",
    "TRUNCATION_MARKER",
    "ActionUserResolver",
    "AppriseChannel",
    "AppriseConfig",
    "AppriseDeliveryConfig",
    "BaseOutputChannel",
    "ChannelRegistry",
    "ConfigSchema",
    "DefaultChannel",
    "DeliveryContext",
    "EmailChannel",
    "EmailConfig",
    "EmailDeliveryConfig",
    "HealthTracker",
    "LLMNotificationChannel",
    "LLMNotificationDeliveryConfig",
    "LogChannel",
    "LogConfig",
    "Notification",
    "OverflowPolicy",
    "RecipientContext",
    "ResolverError",
    "Subscription",
    "UserResolver",
    "UserResolverFactory",
    "WebhookChannel",
    "WebhookConfig",
    "WebhookDeliveryConfig",
    "adapt_payload",
    "current_delivery",
    "delivery_key",
    "run_key",
]
