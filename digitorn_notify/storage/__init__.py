"""Pluggable storage: protocols and the memory and SQLite implementations."""

from digitorn_notify.storage.memory import MemoryStore
from digitorn_notify.storage.protocols import (
    UNREADABLE_KEY,
    BufferedNotification,
    JobRecord,
    JobStore,
    NotificationBuffer,
    WatcherRecord,
    WatcherStore,
    unreadable_data,
    unreadable_reason,
)
from digitorn_notify.storage.sqlite import SQLiteStore

__all__ = [
    "UNREADABLE_KEY",
    "BufferedNotification",
    "JobRecord",
    "JobStore",
    "MemoryStore",
    "NotificationBuffer",
    "SQLiteStore",
    "WatcherRecord",
    "WatcherStore",
    "unreadable_data",
    "unreadable_reason",
]
