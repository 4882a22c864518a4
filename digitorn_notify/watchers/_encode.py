"""Turning a check's result into text: for history, for comparison, for notifications.

A watcher keeps results as JSON text, never as the objects a tool returned: text cannot
be mutated later by the tool, identical results share one string (the history stores
a hundred references to one object when nothing changes), and it is what the LLM reads
anyway. Values JSON does not know are converted the way a reader would expect
(datetimes to ISO text, sets to sorted lists, attrs and dataclass instances to objects);
anything else becomes its ``str`` with memory addresses removed, so that an object
printed twice compares equal.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence, Set
from decimal import Decimal
from typing import Any

import attrs

__all__ = [
    "ResultEncodingError",
    "canonical_key",
    "default_error_detector",
    "encode_result",
    "error_key",
    "strip_fields",
]

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class ResultEncodingError(ValueError):
    """A result that cannot be written as JSON (a cycle, absurd nesting)."""


def _jsonable(value: Any) -> Any:
    """The JSON-compatible stand-in of ``value``: json's ``default`` hook."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode("ascii")
    if isinstance(value, Mapping):
        return {_key(k): v for k, v in value.items()}
    if isinstance(value, Set):
        items = [_plain(item) for item in value]
        return sorted(items, key=_sorted_encoder.encode)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return _ADDRESS.sub("", str(value))


def _key(key: Any) -> str:
    return key if isinstance(key, str) else _ADDRESS.sub("", str(_jsonable_scalar(key)))


def _jsonable_scalar(value: Any) -> Any:
    return value if isinstance(value, int | float | bool) or value is None else _jsonable(value)


def _plain(value: Any) -> Any:
    """``value`` with every mapping key a string (``sort_keys`` needs comparable keys)."""
    if isinstance(value, Mapping):
        return {_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return _plain(_jsonable(value))


_encoder = json.JSONEncoder(ensure_ascii=False, default=_jsonable)
_sorted_encoder = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_jsonable
)


def _encode(encoder: json.JSONEncoder, value: Any) -> str:
    try:
        return encoder.encode(value)
    except TypeError:
        # Mixed key types ({1: .., "a": ..}) cannot be sorted, and json refuses keys
        # that are not scalars: make every key a string and try once more.
        pass
    except (ValueError, RecursionError) as exc:
        raise ResultEncodingError(f"the result cannot be written as JSON: {exc}") from None
    try:
        return encoder.encode(_plain(value))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ResultEncodingError(f"the result cannot be written as JSON: {exc}") from None


def encode_result(value: Any) -> str:
    """The JSON text of a result, keys in the tool's own order (what history and notices show).

    Raises :class:`ResultEncodingError` for a cyclic or absurdly deep result.
    """
    if value is None or value is True or value is False:
        return "null" if value is None else ("true" if value else "false")
    return _encode(_encoder, value)


def _digest(prefix: bytes, text: str) -> bytes:
    return hashlib.blake2b(prefix + text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def canonical_key(value: Any) -> bytes:
    """A 16-byte digest of the result's canonical form: equal when only key order differs."""
    return _digest(b"r", _encode(_sorted_encoder, value))


def error_key(message: str) -> bytes:
    """The digest of a failed check, distinct from every result's."""
    return _digest(b"e", message)


def strip_fields(value: Any, fields: Sequence[tuple[str, ...]]) -> Any:
    """``value`` without the dotted ``fields``; lists are transparent (``items.ts``).

    The result is a copy wherever something was removed; the tool's object is untouched.
    """
    for path in fields:
        value = _strip(value, path)
    return value


def _strip(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        head, rest = path[0], path[1:]
        if head not in value:
            return value
        if not rest:
            return {k: v for k, v in value.items() if k != head}
        return {k: (_strip(v, rest) if k == head else v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_strip(item, path) for item in value]
    return value


def default_error_detector(result: Any) -> str | None:
    """Whether a result that came back without an exception still reports a failure.

    A mapping with ``"success": false`` is a failure (its ``error`` or ``message`` says
    why); so is a mapping with a non-empty ``"error"`` unless it also says
    ``"success": true``. Returns the error text, or ``None`` for a successful result.
    """
    if not isinstance(result, Mapping):
        return None
    success = result.get("success")
    error = result.get("error")
    if success is False:
        reason = error or result.get("message")
        return _describe(reason) if reason else "the tool reported success: false"
    if success is not True and error not in (None, "", False, {}, []):
        return _describe(error)
    return None


def _describe(reason: Any) -> str:
    if isinstance(reason, str):
        return reason
    try:
        return encode_result(reason)
    except ResultEncodingError:
        return _ADDRESS.sub("", repr(reason))
