"""``log``: write notifications to a stdlib logger (text or JSON); never retried."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from digitorn_notify._convert import converter
from digitorn_notify._json import dumps
from digitorn_notify.channels.base import BaseOutputChannel
from digitorn_notify.channels.builtin._configs import LogConfig
from digitorn_notify.payload import ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy

__all__ = ["LogChannel"]

_LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


class LogChannel(BaseOutputChannel):
    """Structured logging through :mod:`logging` (audit trails, log aggregation)."""

    CHANNEL_ID: ClassVar[str] = "log"
    CHANNEL_NAME: ClassVar[str] = "Log"
    CHANNEL_VERSION: ClassVar[str] = "1.0.0"
    CHANNEL_DESCRIPTION: ClassVar[str] = "Write notifications to Python's logging system"

    CONFIG_CLASS: ClassVar[type[Any]] = LogConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._logger: logging.Logger | None = None
        self._level = logging.INFO

    @property
    def settings(self) -> LogConfig:
        """The checked config block (see :class:`LogConfig`)."""
        return self._structured(LogConfig)

    def validate_config(self) -> None:
        """Structure the block into :class:`LogConfig`; pick the logger and level."""
        super().validate_config()
        settings = self.settings
        self._logger = logging.getLogger(settings.logger_name)
        self._level = _LEVELS[settings.level.upper()]

    async def on_start(self) -> None:
        """Check the config if the registry did not (a type id used directly)."""
        if self._logger is None:
            self.validate_config()

    def retry_policy(self) -> RetryPolicy:
        """Logging is local: a failure would not be fixed by retrying."""
        return RetryPolicy.no_retry()

    def render(self, app_id: str, payload: ChannelPayload) -> str:
        """The log line for ``payload``."""
        settings = self.settings
        include_data = settings.include_data
        if settings.format == "text":
            # One notification, one line: a newline in a message must not forge a
            # second audit record.
            text = self.format_text(payload).replace("\r", "\\r").replace("\n", "\\n")
            if include_data and (payload.structured_data or payload.metadata):
                data = {"structured_data": payload.structured_data, "metadata": payload.metadata}
                text = f"{text} {dumps(data, default=str, sort_keys=True)}"
            return text
        record: dict[str, Any] = {
            "app_id": app_id,
            "message": payload.message,
            "title": payload.title,
            "priority": payload.priority.value,
            "tags": payload.tags,
        }
        if payload.thread_id is not None:
            record["thread_id"] = payload.thread_id
        if include_data:
            record["structured_data"] = converter.unstructure(payload.structured_data)
            record["metadata"] = converter.unstructure(payload.metadata)
        return dumps(record, default=str, ensure_ascii=False)

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Log one line at the configured level."""
        if self._logger is None:
            self.validate_config()
        assert self._logger is not None
        self._logger.log(
            self._level,
            "%s",
            self.render(app_id, payload),
            extra={"app_id": app_id, "channel": self.name},
        )
        return DeliveryResult(success=True, channel_id=self.CHANNEL_ID)
