"""Secrets: where they come from, and how they are kept out of text we emit.

A resolved secret is a :class:`Secret`, a ``str`` whose ``repr`` is masked, so a
channel config printed by accident (in a repr, a log line, a traceback's locals)
shows ``Secret('***')``. Text we build ourselves (errors, health, logs) goes through
a :class:`Redactor`, which masks every secret value it knows, URL-encoded forms
included, because tokens often travel inside URLs.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable
from urllib.parse import quote, quote_plus

__all__ = [
    "LOG_FILTER",
    "MIN_SECRET_LENGTH",
    "EnvSecretProvider",
    "RedactingLogFilter",
    "Redactor",
    "Secret",
    "SecretProvider",
    "as_secret_provider",
]

MASK = "***"
#: Shorter values would mask ordinary words ("on", "1") everywhere; a secret that
#: short protects nothing anyway, and deploying one logs a warning.
MIN_SECRET_LENGTH = 4


class Secret(str):
    """A string that hides its value in ``repr`` (``str()`` and formatting give the value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


@runtime_checkable
class SecretProvider(Protocol):
    """Where ``{{secret.NAME}}`` values come from (a vault, a keyring, the environment)."""

    def get(self, name: str) -> str | None:
        """The secret called ``name``, or ``None`` when it is not defined."""
        ...


class EnvSecretProvider:
    """The default provider: secrets are environment variables."""

    __slots__ = ()

    def get(self, name: str) -> str | None:
        """``os.environ.get(name)``."""
        return os.environ.get(name)

    def __repr__(self) -> str:
        return "EnvSecretProvider()"


class _CallableProvider:
    __slots__ = ("_func",)

    def __init__(self, func: Callable[[str], str | None]) -> None:
        self._func = func

    def get(self, name: str) -> str | None:
        return self._func(name)


def as_secret_provider(
    provider: SecretProvider | Callable[[str], str | None] | None,
) -> SecretProvider:
    """Accept a provider object, a plain ``name -> value`` callable, or ``None`` (environment)."""
    if provider is None:
        return EnvSecretProvider()
    if isinstance(provider, SecretProvider):
        return provider
    return _CallableProvider(provider)


class Redactor:
    """Masks known secret values in text."""

    __slots__ = ("__weakref__", "_pattern", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*values)

    def add(self, *values: str) -> None:
        """Remember more secret values (and their URL-encoded forms)."""
        before = len(self._values)
        for value in values:
            if len(value) < MIN_SECRET_LENGTH:
                continue
            self._values.update({value, quote(value, safe=""), quote_plus(value)})
        if len(self._values) != before:
            # Longest first, so a secret that contains another is masked whole;
            # case-blind, so an upper-cased echo or a lower-case %2f escape is caught.
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)

    def __bool__(self) -> bool:
        return bool(self._values)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"


class RedactingLogFilter(logging.Filter):
    """Masks the secrets of live :class:`Redactor` objects in log records.

    Installed on the loggers of the HTTP stack (``httpx`` logs every request URL at
    INFO, and Slack, Discord or Telegram put their tokens in the URL path), so a
    plugin channel using its own ``httpx`` client cannot leak a deployed secret.
    """

    def __init__(self) -> None:
        super().__init__()
        self._redactors: weakref.WeakSet[Redactor] = weakref.WeakSet()
        # Records may come from worker threads (a sync client in anyio.to_thread).
        self._lock = threading.Lock()

    def track(self, redactor: Redactor) -> None:
        """Mask ``redactor``'s secrets for as long as it lives."""
        with self._lock:
            self._redactors.add(redactor)

    def forget(self, redactor: Redactor) -> None:
        """Stop masking ``redactor``'s secrets."""
        with self._lock:
            self._redactors.discard(redactor)

    def _redact(self, text: str, redactors: list[Redactor]) -> str:
        for redactor in redactors:
            text = redactor.redact(text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and traceback with secrets masked; keep the record."""
        with self._lock:
            redactors = [r for r in self._redactors if r]
        if not redactors:
            return True
        original = record.getMessage()
        message = self._redact(original, redactors)
        if message != original:
            record.msg, record.args = message, None
        if record.exc_info and not record.exc_text:
            # Handlers reuse exc_text when set, so the traceback is printed redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text, redactors)
        return True


#: The filter the registry feeds. Logger filters do not apply to child loggers, so it
#: sits on ``httpx`` itself, the logger that prints request URLs.
LOG_FILTER = RedactingLogFilter()
if LOG_FILTER not in logging.getLogger("httpx").filters:
    logging.getLogger("httpx").addFilter(LOG_FILTER)
