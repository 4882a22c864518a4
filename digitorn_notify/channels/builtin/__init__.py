"""The built-in channel types: llm_notification, log, webhook, email and apprise."""

from digitorn_notify.channels.builtin._configs import (
    MAX_CONCURRENCY,
    AppriseConfig,
    AppriseDeliveryConfig,
    AppriseTarget,
    EmailConfig,
    EmailDeliveryConfig,
    LLMNotificationDeliveryConfig,
    LogConfig,
    WebhookConfig,
    WebhookDeliveryConfig,
)
from digitorn_notify.channels.builtin.apprise_bridge import AppriseChannel
from digitorn_notify.channels.builtin.llm_notification import (
    LLMNotificationChannel,
    Notification,
    NotificationHub,
    Subscription,
)
from digitorn_notify.channels.builtin.log import LogChannel
from digitorn_notify.channels.builtin.smtp_email import EmailChannel
from digitorn_notify.channels.builtin.webhook import WebhookChannel

__all__ = [
    "MAX_CONCURRENCY",
    "AppriseChannel",
    "AppriseConfig",
    "AppriseDeliveryConfig",
    "AppriseTarget",
    "EmailChannel",
    "EmailConfig",
    "EmailDeliveryConfig",
    "LLMNotificationChannel",
    "LLMNotificationDeliveryConfig",
    "LogChannel",
    "LogConfig",
    "Notification",
    "NotificationHub",
    "Subscription",
    "WebhookChannel",
    "WebhookConfig",
    "WebhookDeliveryConfig",
]
