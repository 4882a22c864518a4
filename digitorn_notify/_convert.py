"""The one cattrs converter, and turning its errors into messages that name the path."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter
from cattrs.v import format_exception

from digitorn_notify.errors import ConfigError

__all__ = ["converter", "describe_structure_error", "structure"]

T = TypeVar("T")

#: Structures config and payload dicts strictly: an unknown key is an error, not ignored.
#: attrs converters win over cattrs' own, so a lone tag string stays one tag.
converter = make_converter(forbid_extra_keys=True, prefer_attrib_converters=True)


def _strict_str(value: Any, type_: Any) -> str:
    # cattrs' default calls str() on anything: {"message": None} would become "None".
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    if type_ is not str:
        # This hook also catches str subclasses (a StrEnum): let the type validate.
        converted: str = type_(value)
        return converted
    return value


converter.register_structure_hook(str, _strict_str)
converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
converter.register_structure_hook(
    bytes,
    lambda v, _: v if isinstance(v, bytes) else base64.b64decode(v.encode("ascii"), validate=True),
)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_structure_hook(
    datetime, lambda v, _: v if isinstance(v, datetime) else datetime.fromisoformat(v)
)


def _format_exception(exc: BaseException, type_: type | None) -> str:
    # Our validators and converters explain themselves ("priority 'x' is not one of
    # ..."); cattrs' default would reduce that to "invalid value".
    if isinstance(exc, ValueError) and type_ is None and str(exc):
        return f"invalid value ({exc})"
    return format_exception(exc, type_)


def describe_structure_error(exc: BaseException, path: str) -> list[str]:
    """cattrs' ``description @ path`` lines, with ``$`` replaced by ``path``."""
    if isinstance(exc, cattrs.BaseValidationError):
        lines = cattrs.transform_error(exc, path=path, format_exception=_format_exception)
    else:
        lines = [f"{exc} @ {path}"]
    return lines


def structure(data: Any, cls: type[T], path: str) -> T:
    """Structure ``data`` into ``cls``, raising :class:`ConfigError` that names the bad field."""
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        lines = describe_structure_error(exc, path)
        first = lines[0]
        reason, _, where = first.rpartition(" @ ")
        more = f" (and {len(lines) - 1} more: {'; '.join(lines[1:])})" if len(lines) > 1 else ""
        raise ConfigError(f"{reason or first}{more}", path=where or path) from None
