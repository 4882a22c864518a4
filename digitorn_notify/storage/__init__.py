"""Pluggable storage: protocols and the memory and SQLite implementations."""

from digitorn_notify.storage.memory import MemoryStore
from digitorn_notify.storage.protocols import (
    BufferedNotification,
    JobRecord,
    JobStore,
    NotificationBuffer,
    WatcherRecord,
    WatcherStore,
)
from digitorn_notify.storage.sqlite import SQLiteStore

__all__ = [
    "BufferedNotification",
    "JobRecord",
    "JobStore",
    "MemoryStore",
    "NotificationBuffer",
    "SQLiteStore",
    "WatcherRecord",
    "WatcherStore",
]
