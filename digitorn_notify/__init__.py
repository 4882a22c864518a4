"""digitorn_notify: an embeddable async notification runtime.

Channels deliver :class:`ChannelPayload` objects through a :class:`ChannelRegistry`;
schedulers, watchers, triggers and background tasks produce them. Everything runs
inside the host's event loop through anyio (asyncio or trio).
"""

from digitorn_notify._version import __version__
from digitorn_notify.channels import (
    ENTRY_POINT_GROUP,
    BaseOutputChannel,
    ChannelRegistry,
    ConfigSchema,
    HealthTracker,
    LLMNotificationChannel,
    LogChannel,
    Notification,
    RecipientContext,
    Subscription,
    UserResolver,
    UserResolverFactory,
)
from digitorn_notify.clock import Clock, FakeClock, SystemClock
from digitorn_notify.config import AppConfig, ChannelConfig, UserResolverConfig
from digitorn_notify.errors import (
    ChannelNotFoundError,
    ConfigError,
    DeliveryError,
    ExpressionError,
    NotifyError,
    StoreError,
    TimeExpressionError,
)
from digitorn_notify.expressions import Evaluation, Expression, compile_expression
from digitorn_notify.host import (
    ActionInvoker,
    Policy,
    PolicyGuard,
    PromptSink,
    SessionDirectory,
)
from digitorn_notify.payload import (
    ChannelCapabilities,
    ChannelHealth,
    ChannelPayload,
    DeliveryResult,
    HealthStatus,
    PayloadAttachment,
    Priority,
)
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.secrets import EnvSecretProvider, Redactor, Secret, SecretProvider
from digitorn_notify.storage import (
    BufferedNotification,
    JobRecord,
    JobStore,
    MemoryStore,
    NotificationBuffer,
    SQLiteStore,
    WatcherRecord,
    WatcherStore,
)
from digitorn_notify.timeexpr import (
    CronSchedule,
    IntervalSchedule,
    OneShot,
    parse_time_expression,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionInvoker",
    "AppConfig",
    "BaseOutputChannel",
    "BufferedNotification",
    "ChannelCapabilities",
    "ChannelConfig",
    "ChannelHealth",
    "ChannelNotFoundError",
    "ChannelPayload",
    "ChannelRegistry",
    "Clock",
    "ConfigError",
    "ConfigSchema",
    "CronSchedule",
    "DeliveryError",
    "DeliveryResult",
    "EnvSecretProvider",
    "Evaluation",
    "Expression",
    "ExpressionError",
    "FakeClock",
    "HealthStatus",
    "HealthTracker",
    "IntervalSchedule",
    "JobRecord",
    "JobStore",
    "LLMNotificationChannel",
    "LogChannel",
    "MemoryStore",
    "Notification",
    "NotificationBuffer",
    "NotifyError",
    "OneShot",
    "PayloadAttachment",
    "Policy",
    "PolicyGuard",
    "Priority",
    "PromptSink",
    "RecipientContext",
    "Redactor",
    "RetryPolicy",
    "SQLiteStore",
    "Secret",
    "SecretProvider",
    "SessionDirectory",
    "StoreError",
    "Subscription",
    "SystemClock",
    "TimeExpressionError",
    "UserResolver",
    "UserResolverConfig",
    "UserResolverFactory",
    "WatcherRecord",
    "WatcherStore",
    "__version__",
    "compile_expression",
    "parse_time_expression",
]
