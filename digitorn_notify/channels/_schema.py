"""Channel configs as attrs classes: their fields, checks and ``config_schema()``.

A built-in channel (or a plugin that wants to) declares its config block as an attrs
class, with each field's description in its metadata::

    @attrs.frozen(kw_only=True)
    class TelegramConfig:
        bot_token: str = described("Telegram Bot API token")
        parse_mode: str = described("Markdown or HTML", default="Markdown")

and names it in ``CONFIG_CLASS``. The block is then structured through the one
converter (errors name the field, the unknown key and what is accepted), and
``config_schema()`` is derived from the class: a field without a default is
required, the others optional. One source of truth for the rules and the schema.

The checks below are the ones several channels share; each raises
:class:`~digitorn_notify.errors.ConfigError` whose path is the field's name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from digitorn_notify.errors import ConfigError

__all__ = [
    "check_header_map",
    "described",
    "finite_positive",
    "no_line_breaks",
    "one_of",
    "optional_finite_positive",
    "schema_of",
]


def described(description: str, **kwargs: Any) -> Any:
    """An attrs field whose ``description`` appears in the derived ``config_schema()``."""
    metadata = {**kwargs.pop("metadata", {}), "description": description}
    return attrs.field(metadata=metadata, **kwargs)


def schema_of(cls: type[Any]) -> dict[str, dict[str, str]]:
    """``{"required": {...}, "optional": {...}}`` for an attrs config class.

    Empty sections are left out, as the spec's example schemas do.
    """
    schema: dict[str, dict[str, str]] = {}
    for field in attrs.fields(cls):
        section = "required" if field.default is attrs.NOTHING else "optional"
        description = str(field.metadata.get("description", ""))
        schema.setdefault(section, {})[field.alias or field.name] = description
    return schema


def finite_positive(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    """A number of seconds (or a size) that is finite and > 0."""
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


def check_header_map(headers: Mapping[str, str], path: str) -> None:
    """Header names are tokens and values hold no line break (no header injection)."""
    for name, value in headers.items():
        if not name or any(c in name for c in " \t:\r\n\x00"):
            raise ConfigError(
                f"{name!r} is not a header name (no spaces, ':' or line breaks)", path=path
            )
        no_line_breaks(value, f"{path}.{name}")
