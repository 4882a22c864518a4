"""The one cattrs converter, and the one way its errors are reported.

Every dict that becomes an object (an app's ``channels:`` block, a built-in channel's
config, the scheduler's and the watchers' arguments, a payload) goes through
:data:`converter` and, for input a user wrote, through :func:`structure`, which
raises :class:`~digitorn_notify.errors.ConfigError` with:

* the path of the bad value (``channels.alerts.config.url``, ``tool_params``);
* for an unknown key, the key itself, the closest accepted key when one is close
  ("did you mean 'url'?") and the list of accepted keys;
* what was expected otherwise ("expected a number, got bool").

Scalars are structured strictly: ``true`` is not a number, ``"10"`` is not an int,
a list is not a string, NaN and infinity are not numbers a config can use.
"""

from __future__ import annotations

import base64
import difflib
import enum
import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar, get_origin

import attrs
import cattrs
from cattrs.cols import list_structure_factory
from cattrs.errors import ForbiddenExtraKeysError
from cattrs.preconf.json import make_converter

from digitorn_notify.errors import ConfigError

__all__ = [
    "Problem",
    "converter",
    "describe_structure_error",
    "did_you_mean",
    "join_path",
    "problems",
    "structure",
    "unknown_key",
]

T = TypeVar("T")

#: Structures config and payload dicts strictly: an unknown key is an error, not ignored.
#: attrs converters win over cattrs' own, so a lone tag string stays one tag.
converter = make_converter(forbid_extra_keys=True, prefer_attrib_converters=True)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _strict_str(value: Any, type_: Any) -> Any:
    # cattrs' default calls str() on anything: {"message": None} would become "None",
    # and a YAML list given as a host name would become "['a', 'b']".
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {_kind(value)}")
    if type_ is not str:
        # This hook also catches str subclasses (a StrEnum): let the type validate.
        if isinstance(type_, type) and issubclass(type_, enum.Enum):
            return _enum_member(value, type_)
        return type_(value)
    return value


def _enum_member(value: Any, type_: type[enum.Enum]) -> enum.Enum:
    try:
        return type_(value)
    except ValueError:
        accepted = ", ".join(repr(member.value) for member in type_)
        raise ValueError(f"{value!r} is not one of: {accepted}") from None


def _strict_bool(value: Any, _: Any) -> bool:
    # bool("false") is True: only real booleans are accepted.
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {_kind(value)}")
    return value


def _strict_int(value: Any, _: Any) -> int:
    # int(7.9) is 7 and int("7") is 7: neither is what a config meant.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a whole number, got {_kind(value)}")
    return value


def _strict_float(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value)


def _is_list(type_: Any) -> bool:
    return type_ is list or get_origin(type_) is list


def _strict_list(type_: Any, conv: cattrs.Converter) -> Any:
    # A string is iterable: "a,b" must not become ["a", ",", "b"].
    structure_items = list_structure_factory(type_, conv)

    def structure_list(value: Any, cl: Any) -> list[Any]:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
            raise TypeError(f"expected a list, got {_kind(value)}")
        result: list[Any] = structure_items(value, cl)
        return result

    return structure_list


def _mapping_first(type_: Any) -> Any:
    # A nested object given as a number or a string: say a mapping was expected, not
    # "argument of type 'int' is not iterable".
    structure_fields = converter.gen_structure_attrs_fromdict(type_)

    def structure_object(value: Any, cl: Any) -> Any:
        if not isinstance(value, Mapping):
            raise TypeError(f"expected a mapping, got {_kind(value)}")
        return structure_fields(value, cl)

    return structure_object


converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook_factory(_is_list, _strict_list)
converter.register_structure_hook_factory(attrs.has, _mapping_first)
converter.register_structure_hook_func(
    lambda t: isinstance(t, type) and issubclass(t, enum.Enum) and not issubclass(t, str),
    _enum_member,
)
converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
converter.register_structure_hook(
    bytes,
    lambda v, _: v if isinstance(v, bytes) else base64.b64decode(v.encode("ascii"), validate=True),
)
converter.register_unstructure_hook(datetime, datetime.isoformat)
converter.register_structure_hook(
    datetime, lambda v, _: v if isinstance(v, datetime) else datetime.fromisoformat(v)
)


# -- what went wrong, and where --------------------------------------------------------


def did_you_mean(word: str, accepted: Iterable[str]) -> str:
    """``" (did you mean 'url'?)"`` when ``word`` is close to an accepted word, else ``""``."""
    matches = difflib.get_close_matches(word, sorted(accepted), n=1, cutoff=0.6)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def unknown_key(key: Any, accepted: Iterable[str], *, noun: str = "key") -> str:
    """The one message for a key (or name) nobody accepts: the key, a suggestion, the list."""
    names = sorted(accepted)
    hint = did_you_mean(key, names) if isinstance(key, str) else ""
    listed = ", ".join(names) if names else "none"
    return f"unknown {noun} {key!r}{hint}; accepted: {listed}"


def join_path(path: str, name: str | int) -> str:
    """``path`` extended by a field name or an index: ``a.b``, ``a[2]``, ``a['x y']``."""
    if isinstance(name, int):
        return f"{path}[{name}]"
    if not name:
        return path
    if not path:
        return name
    if name.startswith("["):
        return f"{path}{name}"
    return f"{path}.{name}"


def _key(name: Any) -> str | int:
    if isinstance(name, int):
        return name
    text = str(name)
    # Keys that would make the dotted path ambiguous are written as subscripts.
    if not text or any(c in text for c in ".[] '\""):
        return f"[{text!r}]"
    return text


@attrs.frozen
class Problem:
    """One thing wrong with structured input: where (``path``) and what (``reason``)."""

    path: str
    reason: str


def _field_names(cls: Any) -> list[str]:
    if isinstance(cls, type) and attrs.has(cls):
        return [field.alias or field.name for field in attrs.fields(cls)]
    return []


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConfigError):
        return exc.reason
    if isinstance(exc, KeyError):
        return "missing required field"
    if isinstance(exc, AttributeError) and str(exc).endswith(("'items'", "'keys'")):
        return f"expected a mapping, got {str(exc).split(chr(39))[1]}"
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return str(exc)
    return f"invalid value ({type(exc).__name__})"


def problems(exc: BaseException, path: str = "") -> list[Problem]:
    """Everything ``exc`` (raised while structuring) says is wrong, unknown keys first.

    A required field that is missing only because its key was misspelled is not
    reported twice: the unknown key, with its suggestion, says it all.
    """
    if isinstance(exc, ForbiddenExtraKeysError):
        accepted = _field_names(exc.cl)
        return [
            Problem(join_path(path, _key(key)), unknown_key(key, accepted))
            for key in sorted(exc.extra_fields, key=str)
        ]
    if isinstance(exc, ConfigError):
        return [Problem(join_path(path, exc.path), exc.reason)]
    if isinstance(exc, cattrs.ClassValidationError):
        unknown: list[Problem] = []
        missing: list[tuple[str, Problem]] = []
        other: list[Problem] = []
        with_notes, without = exc.group_exceptions()
        for inner in without:
            (unknown if isinstance(inner, ForbiddenExtraKeysError) else other).extend(
                problems(inner, path)
            )
        for inner, note in with_notes:
            found = problems(inner, join_path(path, _key(note.name)))
            if isinstance(inner, KeyError):
                missing.extend((note.name, p) for p in found)
            else:
                other.extend(found)
        suggested = " ".join(p.reason for p in unknown)
        missing_shown = [p for name, p in missing if f"did you mean {name!r}" not in suggested]
        return [*unknown, *missing_shown, *other]
    if isinstance(exc, cattrs.IterableValidationError):
        found = []
        items, rest = exc.group_exceptions()
        for inner, item in items:
            found.extend(problems(inner, join_path(path, _key(item.index))))
        for inner in rest:
            found.extend(problems(inner, path))
        return found
    return [Problem(path, _reason(exc))]


def describe_structure_error(exc: BaseException, path: str) -> list[str]:
    """Each problem of ``exc`` as ``"reason @ path"`` (for logs and failed results)."""
    return [f"{p.reason} @ {p.path}" for p in problems(exc, path)]


_STRUCTURE_ERRORS = (cattrs.BaseValidationError, ValueError, TypeError, KeyError, AttributeError)


def structure(
    data: Any, cls: type[T], path: str = "", *, error: type[ConfigError] = ConfigError
) -> T:
    """Structure ``data`` into ``cls``, or raise ``error`` naming the first bad field.

    The message of the first problem is the error's reason; any others follow it
    in parentheses, so one error tells everything that is wrong.
    """
    if attrs.has(cls) and not isinstance(data, Mapping):
        accepted = ", ".join(_field_names(cls))
        raise error(f"expected a mapping (keys: {accepted}), got {_kind(data)}", path=path)
    try:
        return converter.structure(data, cls)
    except _STRUCTURE_ERRORS as exc:
        found = problems(exc, path) or [Problem(path, _reason(exc))]
        first, rest = found[0], found[1:]
        more = f" (and {len(rest)} more: {'; '.join(f'{p.path}: {p.reason}' for p in rest)})"
        raise error(f"{first.reason}{more if rest else ''}", path=first.path) from None
