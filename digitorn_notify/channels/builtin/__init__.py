"""The built-in channel types: ``llm_notification`` and ``log``."""

from digitorn_notify.channels.builtin.llm_notification import (
    LLMNotificationChannel,
    Notification,
    NotificationHub,
    Subscription,
)
from digitorn_notify.channels.builtin.log import LogChannel

__all__ = [
    "LLMNotificationChannel",
    "LogChannel",
    "Notification",
    "NotificationHub",
    "Subscription",
]
