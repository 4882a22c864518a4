"""Secrets: where they come from, and how they are kept out of text we emit.

A resolved secret is a :class:`Secret`, a ``str`` whose ``repr`` is masked, so a
channel config printed by accident (in a repr, a log line, a traceback's locals)
shows ``Secret('***')``. Text we build ourselves (errors, health, logs) goes through
a :class:`Redactor`, which masks every secret value it knows, URL-encoded forms
included, because tokens often travel inside URLs, and base64 forms, because HTTP
Basic auth and SMTP AUTH carry them that way (and servers echo them in errors).

Text is always masked *before* it is shortened (:func:`mask_then_cut`): cutting first
can split a secret, leaving a prefix no mask recognises.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable
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
    "config_secrets",
    "mask_then_cut",
    "secret_forms",
]

MASK = "***"
#: Shorter values would mask ordinary words ("on", "1") everywhere; a secret that
#: short protects nothing anyway, and deploying one logs a warning.
MIN_SECRET_LENGTH = 4
#: A base64 run shorter than this could be an ordinary word: a secret is masked in its
#: base64 forms only when they are at least this long (secrets of 6 bytes and more).
MIN_BASE64_FORM = 6
#: Nested data deeper than this is masked as text rather than walked.
_MAX_DEPTH = 32


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


def _base64_forms(data: bytes) -> set[str]:
    """The base64 text that ``data`` becomes inside *any* base64 string.

    Base64 turns 3 bytes into 4 characters, so the characters a value encodes to
    depend on where it starts in the encoded bytes (``user:secret`` in HTTP Basic auth,
    ``\\0user\\0secret`` in SMTP AUTH PLAIN). For each of the 3 alignments, the
    characters whose 6 bits all come from ``data`` are the same in every string that
    contains ``data`` at that alignment: masking them masks the value wherever it is
    encoded, in the standard and the URL-safe alphabet.
    """
    forms = set()
    for shift in range(3):
        padded = b"\0" * shift + data
        start = -(-8 * shift // 6)  # the first character made only of data's bits
        end = 8 * (shift + len(data)) // 6  # past the last one
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            core = encode(padded).decode("ascii")[start:end]
            if len(core) >= MIN_BASE64_FORM:
                forms.add(core)
    return forms


def secret_forms(value: str) -> set[str]:
    """Every form of ``value`` a :class:`Redactor` masks.

    The value itself; URL-quoted as ``quote(value, safe="")``, ``quote(value)`` (which
    keeps ``/``, as ``urllib`` and ``httpx`` do by default) and ``quote_plus(value)``;
    and its base64 forms at every alignment (see :func:`_base64_forms`). Empty for a
    value shorter than :data:`MIN_SECRET_LENGTH`.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return set()
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms |= _base64_forms(value.encode("utf-8", "surrogatepass"))
    return forms


def config_secrets(data: Any) -> list[str]:
    """The :class:`Secret` strings anywhere in ``data`` (a resolved config block)."""
    found: list[str] = []
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Secret):
            found.append(str(value))
        elif depth < _MAX_DEPTH and isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif depth < _MAX_DEPTH and isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
    return found


class Redactor:
    """Masks known secret values in text, in every form :func:`secret_forms` lists."""

    __slots__ = ("__weakref__", "_pattern", "_values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*values)

    def add(self, *values: str) -> None:
        """Remember more secret values (and their URL-quoted and base64 forms)."""
        before = len(self._values)
        for value in values:
            self._values |= secret_forms(str(value))
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

    def redact_data(self, value: Any, _depth: int = 0) -> Any:
        """``value`` with every string in it masked: keys and values of mappings, items
        of lists and tuples (as lists). Other values are returned as they are."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping | list | tuple) and _depth >= _MAX_DEPTH:
            return self.redact(repr(value))
        if isinstance(value, Mapping):
            return {
                self.redact_data(key, _depth + 1): self.redact_data(item, _depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.redact_data(item, _depth + 1) for item in value]
        return value

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"


def mask_then_cut(
    text: str, limit: int, *redactors: Redactor | Callable[[str], str], marker: str = "…"
) -> str:
    """``text`` with secrets masked, then cut to at most ``limit`` characters.

    The only safe order: a text cut first may end inside a secret, and a secret's
    prefix is no longer the secret, so no mask would recognise it.
    """
    for redactor in redactors:
        text = redactor.redact(text) if isinstance(redactor, Redactor) else redactor(text)
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))] + marker


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
