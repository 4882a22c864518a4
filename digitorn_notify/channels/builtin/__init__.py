"""The built-in channel types: llm_notification, log, webhook, email and apprise."""

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
    "AppriseChannel",
    "EmailChannel",
    "LLMNotificationChannel",
    "LogChannel",
    "Notification",
    "NotificationHub",
    "Subscription",
    "WebhookChannel",
]
