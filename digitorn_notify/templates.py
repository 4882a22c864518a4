"""``{{...}}`` substitution in configs, resolved once at deploy time.

Three kinds of token are resolved in config values:

- ``{{env.NAME}}``: an environment variable (treated as a secret);
- ``{{secret.NAME}}``: a value from the :class:`~digitorn_notify.secrets.SecretProvider`;
- ``{{name}}`` (or ``{{name.key}}``): an entry of the app's ``variables:`` mapping,
  which may itself use any of the three (variables referring to each other in a
  cycle are a :class:`~digitorn_notify.errors.ConfigError` that names the cycle).

Tokens whose root is a runtime name (``{{message}}``, ``{{title}}``,
``{{structured_data.x}}``, ``{{event.path}}``, ``{{session_id}}`` ...) are left in
place: they belong to payload templates filled in at delivery time. Any other
unknown token is a :class:`~digitorn_notify.errors.ConfigError` naming the path.

A string made from a secret becomes a :class:`~digitorn_notify.secrets.Secret`,
and every secret value is reported so the caller can redact it.

:class:`PayloadTemplate` fills the runtime tokens of a JSON body template at delivery
time, JSON-safely: a message full of quotes, braces or newlines cannot break the JSON
or add fields.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from digitorn_notify._json import dumps, loads
from digitorn_notify._limits import MAX_DEPTH, too_deep
from digitorn_notify.errors import ConfigError
from digitorn_notify.payload import ChannelPayload
from digitorn_notify.secrets import MIN_SECRET_LENGTH, Secret, SecretProvider

__all__ = [
    "PAYLOAD_TEMPLATE_NAMES",
    "RUNTIME_TEMPLATE_NAMES",
    "PayloadTemplate",
    "VariableResolver",
    "json_bytes",
    "to_json",
]

TOKEN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")

#: Roots of tokens that are filled at delivery or activation time, never at deploy time.
RUNTIME_TEMPLATE_NAMES = frozenset(
    {
        "app_id",
        "error",
        "event",
        "job_id",
        "label",
        "message",
        "metadata",
        "priority",
        "result",
        "rich_message",
        "run_count",
        "session_id",
        "structured_data",
        "tags",
        "thread_id",
        "timestamp",
        "title",
        "tool_name",
        "trigger_type",
    }
)

_MISSING = object()


class VariableResolver:
    """Resolves ``{{...}}`` tokens in nested config data and remembers the secrets it used."""

    def __init__(
        self,
        *,
        variables: Mapping[str, Any] | None = None,
        secrets: SecretProvider,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._secrets = secrets
        self._environ = os.environ if environ is None else environ
        #: Every secret value substituted so far (for redaction).
        self.secret_values: set[str] = set()
        #: Paths where a secret too short to be masked was used (worth a warning).
        self.unmaskable: list[str] = []
        self._raw: dict[str, Any] = dict(variables or {})
        self._variables: dict[str, Any] = {}
        #: Variables being resolved, outermost first: a name met again is a cycle.
        self._chain: list[str] = []
        for name in self._raw:
            self._variable(name)

    def _variable(self, name: str) -> Any:
        """The resolved value of variable ``name`` (resolved once, on first use)."""
        if name in self._variables:
            return self._variables[name]
        if name in self._chain:
            cycle = [*self._chain[self._chain.index(name) :], name]
            raise ConfigError(
                f"variables refer to each other in a cycle: {' -> '.join(cycle)}",
                path=f"variables.{self._chain[-1]}",
            )
        self._chain.append(name)
        try:
            value = self.resolve(self._raw[name], f"variables.{name}")
        finally:
            self._chain.pop()
        self._variables[name] = value
        return value

    def resolve(self, data: Any, path: str) -> Any:
        """Return ``data`` with tokens resolved; ``path`` names it in errors."""
        if too_deep(data):
            # Refused before anything walks it: deeper data would exhaust the stack.
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels", path=path)
        return self._resolve(data, path)

    def _resolve(self, data: Any, path: str) -> Any:
        if isinstance(data, str):
            return self._resolve_str(data, path)
        if isinstance(data, Mapping):
            return {key: self._resolve(value, f"{path}.{key}") for key, value in data.items()}
        if isinstance(data, list | tuple):
            return [self._resolve(value, f"{path}[{index}]") for index, value in enumerate(data)]
        return data

    def _lookup(self, name: str, path: str) -> tuple[Any, bool]:
        """The value of token ``name`` and whether it is secret; ``_MISSING`` to leave it."""
        root, _, rest = name.partition(".")
        if root == "env" and rest:
            value = self._environ.get(rest)
            if value is None:
                raise ConfigError(
                    f"environment variable {rest} is not set (used as {{{{env.{rest}}}}})",
                    path=path,
                )
            return value, True
        if root == "secret" and rest:
            secret = self._secrets.get(rest)
            if secret is None:
                raise ConfigError(
                    f"secret {rest} is not defined (used as {{{{secret.{rest}}}}})", path=path
                )
            return secret, True
        if root in RUNTIME_TEMPLATE_NAMES:
            return _MISSING, False
        if root in self._raw:
            value = self._variable(root)
            for step in rest.split(".") if rest else ():
                if not isinstance(value, Mapping) or step not in value:
                    raise ConfigError(f"variable {name} is not defined", path=path)
                value = value[step]
            # Secrecy is per value: only leaves made from a secret are Secret strings.
            return value, isinstance(value, Secret)
        raise ConfigError(
            f"unknown variable {{{{{name}}}}}: define it under variables, or use "
            "{{env.NAME}} / {{secret.NAME}}",
            path=path,
        )

    def _resolve_str(self, text: str, path: str) -> Any:
        if "{{" not in text:
            return text
        whole = TOKEN.fullmatch(text.strip())
        if whole is not None:
            # A whole-string token keeps the variable's type (a port stays an int).
            value, secret = self._lookup(whole.group(1), path)
            if value is _MISSING:
                return text
            return self._mark(value, secret, path)

        used_secret = False

        def substitute(match: re.Match[str]) -> str:
            nonlocal used_secret
            value, secret = self._lookup(match.group(1), path)
            if value is _MISSING:
                return match.group(0)
            used_secret = used_secret or secret
            if secret:
                self._remember(str(value), path)
            return str(value)

        result = TOKEN.sub(substitute, text)
        return Secret(result) if used_secret else result

    def _remember(self, value: str, path: str) -> None:
        self.secret_values.add(value)
        if len(value) < MIN_SECRET_LENGTH and path not in self.unmaskable:
            self.unmaskable.append(path)

    def _mark(self, value: Any, secret: bool, path: str) -> Any:
        if not secret:
            return value
        self._remember(str(value), path)
        return Secret(value) if isinstance(value, str) else value


# -- payload templates, filled at delivery time ----------------------------------------

#: Roots a payload template may use, beyond the payload's own fields.
_PAYLOAD_FIELDS = frozenset(
    {"message", "title", "rich_message", "priority", "tags", "thread_id", "app_id"}
)
_NESTED_FIELDS = frozenset({"structured_data", "metadata"})
#: Shorthands for the metadata keys the scheduler and watchers set (``{{job_id}}``).
_METADATA_SHORTHANDS = frozenset(
    {"job_id", "label", "run_count", "timestamp", "tool_name", "trigger_type"}
)
PAYLOAD_TEMPLATE_NAMES = _PAYLOAD_FIELDS | _NESTED_FIELDS | _METADATA_SHORTHANDS


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def to_json(value: Any) -> str:
    """``value`` as compact JSON text; datetimes, bytes and unknown objects degrade to
    strings, and NaN and infinities become ``null`` (JSON has no such numbers)."""
    return dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form; substituted values sit inside JSON
        # strings, where backslashreplace's \udXXX is exactly the JSON escape.
        return text.encode("utf-8", "backslashreplace")


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON (see :func:`to_json`)."""
    return _utf8(to_json(value))


def _as_text(value: Any) -> str:
    """How a value reads inside a JSON string (``"{{tags}}"`` gives ``a, b``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return ", ".join(value)
    return to_json(value)


def _escape(text: str) -> str:
    # json.dumps escapes quotes, backslashes and control characters; the slice drops
    # the surrounding quotes so the result fits inside the template's own string.
    return json.dumps(text, ensure_ascii=False)[1:-1]


class _Token:
    """One ``{{root.a.b}}`` of a payload template, resolved against a payload."""

    __slots__ = ("root", "steps")

    def __init__(self, name: str, path: str) -> None:
        root, _, rest = name.partition(".")
        if root not in PAYLOAD_TEMPLATE_NAMES:
            accepted = ", ".join(sorted(PAYLOAD_TEMPLATE_NAMES))
            raise ConfigError(
                f"unknown payload template token {{{{{name}}}}} (accepted roots: {accepted})",
                path=path,
            )
        if rest and root in _PAYLOAD_FIELDS:
            raise ConfigError(f"{{{{{root}}}}} has no fields (got {{{{{name}}}}})", path=path)
        self.root = root
        self.steps = tuple(rest.split(".")) if rest else ()

    def value(self, payload: ChannelPayload, app_id: str) -> Any:
        root = self.root
        if root in _METADATA_SHORTHANDS:
            return payload.metadata.get(root)
        if root == "app_id":
            return app_id
        if root == "priority":
            return payload.priority.value
        value: Any = getattr(payload, root)
        for step in self.steps:
            if isinstance(value, Mapping):
                value = value.get(step)
            elif isinstance(value, list | tuple) and step.isdigit() and int(step) < len(value):
                value = value[int(step)]
            else:
                return None
        return value


def _string_segments(text: str, path: str) -> list[str | tuple[_Token, bool]]:
    """Split JSON template text into literals and ``(token, inside_a_string)`` pairs."""
    segments: list[str | tuple[_Token, bool]] = []
    in_string = escaped = False
    position = 0
    for match in TOKEN.finditer(text):
        # Track whether the token sits inside a JSON string literal: quotes toggle it,
        # except when escaped by a backslash.
        for char in text[position : match.start()]:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = in_string
            elif char == '"':
                in_string = not in_string
        segments.append(text[position : match.start()])
        segments.append((_Token(match.group(1), path), in_string))
        position = match.end()
    segments.append(text[position:])
    return [s for s in segments if s != ""]


class PayloadTemplate:
    """A JSON body template with runtime tokens, compiled once at deploy time.

    The template is JSON text (``'{"text": "{{message}}"}'``) or an already parsed
    mapping or list. Substitution is JSON-safe: a token inside a JSON string gets the
    value's text escaped for that string (quotes, backslashes, newlines and braces
    cannot end the string or add fields); a token standing alone as a JSON value
    (``"tags": {{tags}}``) gets the value encoded as JSON. In a parsed template, a string
    that is exactly one token takes the value with its type.

    Tokens: ``message``, ``title``, ``rich_message``, ``priority``, ``tags``,
    ``thread_id``, ``app_id``, ``structured_data.<path>``, ``metadata.<path>``, and the
    metadata shorthands ``job_id``, ``label``, ``run_count``, ``timestamp``,
    ``tool_name``, ``trigger_type``. A missing value is ``null`` (``""`` inside a string).

    A template that is not valid JSON once filled, or that uses an unknown token, is a
    :class:`~digitorn_notify.errors.ConfigError` naming ``path``.
    """

    __slots__ = ("_segments", "_tree")

    def __init__(self, template: str | Mapping[str, Any] | list[Any], *, path: str) -> None:
        self._segments: list[str | tuple[_Token, bool]] | None = None
        self._tree: Any = None
        if isinstance(template, str):
            self._segments = _string_segments(template, path)
            self._check(path)
        elif isinstance(template, Mapping | list):
            self._tree = _compile_tree(template, path)
        else:
            raise ConfigError(
                f"must be JSON text, a mapping or a list, got {type(template).__name__}",
                path=path,
            )

    def _check(self, path: str) -> None:
        # Fill every token with awkward values: a bare token must be a whole JSON value
        # (so `null` must fit), a quoted one must survive quotes, braces and newlines.
        probe = ChannelPayload(message='"}\n\\{{x}}', title=None, tags=["a", '"b'])
        for bare in ("null", '"x"', "[1]"):
            text = "".join(
                s
                if isinstance(s, str)
                else (_escape(_as_text(s[0].value(probe, "app"))) if s[1] else bare)
                for s in self._segments or ()
            )
            try:
                loads(text)  # strict: a template writing NaN would send invalid JSON
            except ValueError as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                where = f" at character {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
                raise ConfigError(
                    f"not valid JSON once its tokens are filled ({reason}{where}); a token "
                    'outside quotes must stand alone as a value, as in "tags": {{tags}}',
                    path=path,
                ) from None

    def render(self, payload: ChannelPayload, app_id: str = "") -> bytes:
        """The filled template as UTF-8 JSON."""
        return _utf8(self.render_text(payload, app_id))

    def render_text(self, payload: ChannelPayload, app_id: str = "") -> str:
        """The filled template as JSON text."""
        if self._segments is None:
            return to_json(_fill_tree(self._tree, payload, app_id))
        parts = []
        for segment in self._segments:
            if isinstance(segment, str):
                parts.append(segment)
            else:
                token, quoted = segment
                value = token.value(payload, app_id)
                parts.append(_escape(_as_text(value)) if quoted else to_json(value))
        return "".join(parts)

    def render_object(self, payload: ChannelPayload, app_id: str = "") -> Any:
        """The filled template as Python data (parsed back for a text template)."""
        if self._segments is None:
            return _fill_tree(self._tree, payload, app_id)
        return json.loads(self.render_text(payload, app_id))


def _compile_tree(node: Any, path: str) -> Any:
    if isinstance(node, str):
        if "{{" not in node:
            return node
        whole = TOKEN.fullmatch(node.strip())
        if whole is not None:
            return _Token(whole.group(1), path)
        return _TextTemplate(node, path)
    if isinstance(node, Mapping):
        # Keys stay strings: a token in a key is filled as text, never as a value.
        return {
            (_TextTemplate(str(key), path) if "{{" in str(key) else str(key)): _compile_tree(
                value, f"{path}.{key}"
            )
            for key, value in node.items()
        }
    if isinstance(node, list | tuple):
        return [_compile_tree(value, f"{path}[{i}]") for i, value in enumerate(node)]
    return node


class _TextTemplate:
    """A string with tokens inside a parsed template: values are joined as text."""

    __slots__ = ("_parts",)

    def __init__(self, text: str, path: str) -> None:
        self._parts: list[str | _Token] = []
        position = 0
        for match in TOKEN.finditer(text):
            self._parts.append(text[position : match.start()])
            self._parts.append(_Token(match.group(1), path))
            position = match.end()
        self._parts.append(text[position:])

    def fill(self, payload: ChannelPayload, app_id: str) -> str:
        return "".join(
            p if isinstance(p, str) else _as_text(p.value(payload, app_id)) for p in self._parts
        )


def _fill_tree(node: Any, payload: ChannelPayload, app_id: str) -> Any:
    if isinstance(node, _Token):
        return node.value(payload, app_id)
    if isinstance(node, _TextTemplate):
        return node.fill(payload, app_id)
    if isinstance(node, dict):
        return {
            _fill_tree(key, payload, app_id): _fill_tree(value, payload, app_id)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_fill_tree(value, payload, app_id) for value in node]
    return node
