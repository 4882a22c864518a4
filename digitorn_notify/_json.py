"""JSON encoding that never writes what JSON does not have.

Python's ``json`` writes ``NaN``, ``Infinity`` and ``-Infinity`` by default, which no
strict JSON parser reads: a webhook receiver would reject the whole body because one
metric was NaN. Wherever a payload becomes JSON (webhook bodies and payload
templates, the log channel's lines, the notification buffer), these floats are
written as ``null`` instead: the notification still goes out, and ``null`` is JSON's
value for "no number".
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps", "finite", "loads"]


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float (in mappings, lists, tuples) as ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps(value, **options)``, with NaN and infinities written as ``null``.

    The common case (finite numbers only) costs one strict ``json.dumps``; only data
    holding a non-finite float is walked and encoded again.
    """
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        # Also raised for a circular reference, which the second call reports.
        return json.dumps(finite(value), allow_nan=False, **options)


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def loads(text: str | bytes) -> Any:
    """``json.loads(text)``, refusing ``NaN``, ``Infinity`` and ``-Infinity``
    (``ValueError``), which Python reads but no strict parser does."""
    return json.loads(text, parse_constant=_refuse)
