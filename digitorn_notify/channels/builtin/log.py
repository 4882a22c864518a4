"""``log``: write notifications to a stdlib logger (text or JSON); never retried."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from digitorn_notify._convert import converter
from digitorn_notify._json import dumps
from digitorn_notify.channels.base import BaseOutputChannel, ConfigSchema
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelPayload, DeliveryResult
from digitorn_notify.retry import RetryPolicy
from digitorn_notify.secrets import Secret

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._logger = logging.getLogger(
            self.channel_config.get("logger_name", "digitorn.notifications")
        )
        self._level = _LEVELS.get(
            str(self.channel_config.get("level", "INFO")).upper(), logging.INFO
        )
        self._json = self.channel_config.get("format", "text") == "json"
        self._include_data = bool(self.channel_config.get("include_data", False))

    def config_schema(self) -> ConfigSchema:
        """All fields are optional."""
        return {
            "optional": {
                "logger_name": "Python logger name (default digitorn.notifications)",
                "level": "DEBUG, INFO, WARNING, ERROR or CRITICAL (default INFO)",
                "format": "text (default) or json",
                "include_data": "Include structured data and metadata (default false)",
            }
        }

    def validate_config(self) -> None:
        """Check the level and format values."""
        super().validate_config()
        name = self.channel_config.get("logger_name", "digitorn.notifications")
        if not isinstance(name, str) or not name:
            raise ConfigError("must be a non-empty string", path="logger_name")
        if isinstance(name, Secret):
            # The logger name is printed in every record, where no redaction applies.
            raise ConfigError(
                "must not contain a secret: it appears in every log record", path="logger_name"
            )
        level = str(self.channel_config.get("level", "INFO")).upper()
        if level not in _LEVELS:
            raise ConfigError(
                f"unknown level {level!r} (accepted: {', '.join(_LEVELS)})", path="level"
            )
        fmt = self.channel_config.get("format", "text")
        if fmt not in ("text", "json"):
            raise ConfigError(f"unknown format {fmt!r} (accepted: text, json)", path="format")
        if not isinstance(self.channel_config.get("include_data", False), bool):
            raise ConfigError("must be true or false", path="include_data")

    def retry_policy(self) -> RetryPolicy:
        """Logging is local: a failure would not be fixed by retrying."""
        return RetryPolicy.no_retry()

    def render(self, app_id: str, payload: ChannelPayload) -> str:
        """The log line for ``payload``."""
        if not self._json:
            # One notification, one line: a newline in a message must not forge a
            # second audit record.
            text = self.format_text(payload).replace("\r", "\\r").replace("\n", "\\n")
            if self._include_data and (payload.structured_data or payload.metadata):
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
        if self._include_data:
            record["structured_data"] = converter.unstructure(payload.structured_data)
            record["metadata"] = converter.unstructure(payload.metadata)
        return dumps(record, default=str, ensure_ascii=False)

    async def deliver(
        self, app_id: str, payload: ChannelPayload, config: dict[str, Any]
    ) -> DeliveryResult:
        """Log one line at the configured level."""
        self._logger.log(
            self._level,
            "%s",
            self.render(app_id, payload),
            extra={"app_id": app_id, "channel": self.name},
        )
        return DeliveryResult(success=True, channel_id=self.CHANNEL_ID)
