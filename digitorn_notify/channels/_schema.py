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

Checks shared with other components are in :mod:`digitorn_notify._validators`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from digitorn_notify._validators import no_line_breaks
from digitorn_notify.errors import ConfigError

__all__ = ["check_header_map", "described", "schema_of"]


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


def check_header_map(headers: Mapping[str, str], path: str) -> None:
    """Header names are tokens and values hold no line break (no header injection)."""
    for name, value in headers.items():
        if not name or any(c in name for c in " \t:\r\n\x00"):
            raise ConfigError(
                f"{name!r} is not a header name (no spaces, ':' or line breaks)", path=path
            )
        no_line_breaks(value, f"{path}.{name}")
