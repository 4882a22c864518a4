"""digitorn_notify: an embeddable async notification runtime.

Channels deliver :class:`ChannelPayload` objects through a :class:`ChannelRegistry`;
schedulers, watchers, triggers and background tasks produce them. Everything runs
inside the host's event loop through anyio (asyncio or trio).
"""

from digitorn_notify._version import __version__
from digitorn_notify.channels import (
    ENTRY_POINT_GROUP,
    ActionUserResolver,
    AppriseChannel,
    BaseOutputChannel,
    ChannelRegistry,
    ConfigSchema,
    DeliveryContext,
    EmailChannel,
    HealthTracker,
    LLMNotificationChannel,
    LogChannel,
    Notification,
    RecipientContext,
    ResolverError,
    Subscription,
    UserResolver,
    UserResolverFactory,
    WebhookChannel,
    current_delivery,
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
    ToolNotAllowedError,
    WatcherError,
    WatcherNotFoundError,
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
from digitorn_notify.templates import PayloadTemplate
from digitorn_notify.timeexpr import (
    CronSchedule,
    IntervalSchedule,
    OneShot,
    parse_time_expression,
)
from digitorn_notify.watchers import WatcherEngine, WatcherEngineStats

__all__ = [
    "ENTRY_POINT_GROUP",
    "ActionInvoker",
    "ActionUserResolver",
    "AppConfig",
    "AppriseChannel",
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
    "DeliveryContext",
    "DeliveryError",
    "DeliveryResult",
    "EmailChannel",
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
    "PayloadTemplate",
    "Policy",
    "PolicyGuard",
    "Priority",
    "PromptSink",
    "RecipientContext",
    "Redactor",
    "ResolverError",
    "RetryPolicy",
    "SQLiteStore",
    "Secret",
    "SecretProvider",
    "SessionDirectory",
    "StoreError",
    "Subscription",
    "SystemClock",
    "TimeExpressionError",
    "ToolNotAllowedError",
    "UserResolver",
    "UserResolverConfig",
    "UserResolverFactory",
    "WatcherEngine",
    "WatcherEngineStats",
    "WatcherError",
    "WatcherNotFoundError",
    "WatcherRecord",
    "WatcherStore",
    "WebhookChannel",
    "__version__",
    "compile_expression",
    "current_delivery",
    "parse_time_expression",
]
