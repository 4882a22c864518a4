"""attrs validators and converters shared by the classes input is structured into.

Each raises :class:`~digitorn_notify.errors.ConfigError` whose ``path`` is the
field's name; :func:`digitorn_notify._convert.structure` puts it under the path of
the object, so the final error names the whole path (``channels.hook.config.timeout``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from digitorn_notify._limits import MAX_DEPTH, too_deep
from digitorn_notify.errors import ConfigError

__all__ = [
    "ID_PATTERN",
    "finite_positive",
    "identifier",
    "json_object",
    "no_line_breaks",
    "non_empty",
    "one_of",
    "optional_finite_positive",
    "optional_identifier",
]

#: Ids chosen by a caller (app, job, watcher): 1-128 letters, digits, ``_ . : -``.
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")
_ID_RULE: Final = (
    "use 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter or digit"
)


def identifier(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
    """An id a caller chose (see :data:`ID_PATTERN`)."""
    if not ID_PATTERN.fullmatch(value):
        raise ConfigError(f"{value!r} is not a valid id: {_ID_RULE}", path=attribute.name)


def optional_identifier(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``None``, or as :func:`identifier`."""
    if value is not None:
        identifier(instance, attribute, value)


def non_empty(_: Any, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """``None`` or a string with something in it (``""`` and spaces are refused)."""
    if value is not None and not value.strip():
        raise ConfigError("must not be empty", path=attribute.name)


def finite_positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """A number (of seconds, of items) that is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"expected a number, got {type(value).__name__}", path=attribute.name)
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"must be a finite number > 0, got {value!r}", path=attribute.name)


def optional_finite_positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """``None``, or as :func:`finite_positive`."""
    if value is not None:
        finite_positive(instance, attribute, value)


def one_of(*accepted: str, any_case: bool = False) -> Any:
    """A validator accepting one of ``accepted`` (in any letter case when ``any_case``)."""
    folded = {word.casefold() for word in accepted}

    def check(_: Any, attribute: attrs.Attribute[Any], value: str) -> None:
        if (value.casefold() not in folded) if any_case else (value not in accepted):
            raise ConfigError(
                f"unknown {attribute.name} {value!r} (accepted: {', '.join(accepted)})",
                path=attribute.name,
            )

    return check


def no_line_breaks(text: str, path: str) -> None:
    """Refuse CR, LF and NUL: in a header they would end it and start another."""
    if any(c in text for c in "\r\n\x00"):
        raise ConfigError("must not contain a line break (CR or LF) or NUL", path=path)


def json_object(value: Any, path: str) -> dict[str, Any]:
    """A JSON-normalised deep copy of a mapping (``None`` is ``{}``), for converters.

    For arguments that are stored (job and watcher arguments): they must survive a
    JSON round trip, and a caller changing its dict later must not change them.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"expected a mapping, got {type(value).__name__}", path=path)
    if not value:
        return {}
    if too_deep(value):
        raise ConfigError(f"is nested deeper than {MAX_DEPTH} levels", path=path)
    try:
        copied = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"must hold only JSON values (it is stored to survive restarts): {exc}", path=path
        ) from None
    assert isinstance(copied, dict)
    return copied
